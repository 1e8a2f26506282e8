"""Cluster benchmarks: the workflow on Slurm (profiles/slurm) against the local executor.

Needs a running Slurm (``tests/cluster/slurm-up.sh``). Run from the repository root::

    python benchmarks/cluster.py            # 3 rounds of each figure
    python benchmarks/cluster.py --quick    # 1 round, 6 jobs instead of 20

Figures go to ``benchmarks/results/cluster.json`` and ``cluster.md``. It only measures:
nothing here asserts on time. See ``benchmarks/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from core import (
    RESULTS,
    environment_info,
    load,
    new_workdir,
    run,
    sec,
    snakemake_command,
    summary,
    table_row,
)

REPO = Path(__file__).resolve().parent.parent
PROFILES = {
    "local": ["--profile", str(REPO / "profiles" / "local")],
    # the profile as it stands: first status check 3 s after a submission, then every 5 s
    "slurm": ["--profile", str(REPO / "profiles" / "slurm")],
    # the same with the first status check after 2 s, as the tests run it
    "slurm-2s": [
        "--profile", str(REPO / "profiles" / "slurm"),
        "--slurm-init-seconds-before-status-checks", "2",
    ],
}  # fmt: skip


def many_experiments(configfile: Path, jobs: int) -> None:
    """Rewrite the default config with ``jobs`` copies of its experiment (distinct C)."""
    config = yaml.safe_load(configfile.read_text())
    (name, experiment), = config["experiments"].items()
    config["experiments"] = {
        f"{name}-{i}": {
            **experiment,
            "arguments": {**experiment["arguments"], "penalty": 1.0 + i / 100},
            "model": {**experiment["model"], "name": f"{name}-{i}"},
        }
        for i in range(jobs)
    }
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))


def pipeline_seconds(parent: Path, profile: str, jobs: int | None) -> float:
    """Wall time of the whole workflow in a fresh folder with one profile."""
    workdir, configfile = new_workdir(parent, f"{profile}-{jobs or 1}")
    if jobs:
        many_experiments(configfile, jobs)
    return run(snakemake_command(configfile, *PROFILES[profile]), workdir)


def figures(parent: Path, rounds: int, jobs: int) -> dict[str, Any]:
    """Interleaved rounds of the default experiment and of ``jobs`` small experiments."""
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        for profile in PROFILES:
            for size in (None, jobs):
                key = f"{profile}/{'default' if size is None else f'{jobs} jobs'}"
                samples.setdefault(key, []).append(pipeline_seconds(parent, profile, size))
                print(f"{key}: {samples[key][-1]:.1f} s", flush=True)
    result: dict[str, Any] = {key: summary(values) for key, values in samples.items()}
    local = statistics.median(samples[f"local/{jobs} jobs"])
    for profile in ("slurm", "slurm-2s"):
        slurm = statistics.median(samples[f"{profile}/{jobs} jobs"])
        result[f"{profile}_overhead_per_job_s"] = (slurm - local) / jobs
    return result


SWEEP_CONFIG = REPO / "config" / "examples" / "iris-sweep.yaml"


def sweep_config(configfile: Path, trials: int, group: int) -> None:
    """The tutorial's sweep as a grid of ``trials`` short trials (4 kernels by
    trials / 4 penalties), ``group`` trials a cluster job."""
    config = yaml.safe_load(SWEEP_CONFIG.read_text())
    (name, experiment), = config["experiments"].items()
    penalties = ", ".join(str(0.25 * (i + 1)) for i in range(max(1, trials // 4)))
    experiment["sweep"].pop("max_total_runs", None)
    experiment["sweep"].update(
        sampling="grid", cluster_group=group, max_concurrent_runs=None,
        parameters={"kernel": "choice(linear, rbf, poly, sigmoid)",
                    "penalty": f"choice({penalties})"},
    )  # fmt: skip
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))


def sweep_figures(
    parent: Path, rounds: int, trials: int, group: int, ungrouped: bool = False
) -> dict[str, Any]:
    """A sweep of short trials on the local executor and on Slurm grouped by ``group``
    (and, with ``ungrouped``, one Slurm job a trial), interleaved round by round, with
    the load after each round."""
    variants = {"local": ("local", group), f"slurm, cluster_group {group}": ("slurm", group)}
    if ungrouped:  # the slowest variant by far: only on request
        variants["slurm"] = ("slurm", 1)
    samples: dict[str, list[float]] = {key: [] for key in variants}
    loads = []
    for number in range(rounds):
        keys = list(variants) if number % 2 == 0 else list(reversed(variants))
        for key in keys:
            profile, size = variants[key]
            workdir, configfile = new_workdir(parent, f"sweep-{profile}-{size}")
            sweep_config(configfile, trials, size)
            samples[key].append(run(snakemake_command(configfile, *PROFILES[profile]), workdir))
            print(f"sweep of {trials} trials, {key}: {samples[key][-1]:.1f} s "
                  f"(load {load(os.getloadavg())})", flush=True)  # fmt: skip
        loads.append(os.getloadavg())
    local = statistics.median(samples["local"])
    result: dict[str, Any] = {key: summary(values) for key, values in samples.items()}
    result["ratios_to_local"] = {
        key: statistics.median(values) / local for key, values in samples.items()
    }
    result["load_after_each_round"] = loads
    return result


def markdown(report: dict[str, Any]) -> str:
    figures = report.get("figures")
    jobs = report["jobs"]
    lines = [] if figures is None else [
        "# Cluster figures",
        "",
        f"{report['environment']['date_utc']}, {report['environment']['cpus']} CPUs, "
        f"{report['rounds']} round(s), medians; one-node Slurm on this host.",
        "",
        table_row("workflow", "local", "slurm (profile)", "slurm (first check 2 s)"),
        table_row("---", "---", "---", "---"),
    ]
    for size in ("default", f"{jobs} jobs") if figures else ():
        cells = [sec(figures[f"{p}/{size}"]["median_s"]) for p in PROFILES]
        lines.append(table_row(size, *cells))
    lines += [] if figures is None else [
        "",
        f"Per-job overhead of Slurm for {jobs} small training jobs, (slurm − local) / {jobs}: "
        f"{sec(figures['slurm_overhead_per_job_s'])} with the profile as it stands, "
        f"{sec(figures['slurm-2s_overhead_per_job_s'])} with the first status check after 2 s.",
        "",
    ]
    sweep = report.get("sweep")
    if sweep:
        lines += [
            f"## A sweep of {report['trials']} short trials, whole workflow",
            "",
            table_row("executor", "median", "ratio to local", "aim"),
            table_row("---", "---:", "---:", "---:"),
            *[table_row(key, sec(sweep[key]["median_s"]),
                        f"{sweep['ratios_to_local'][key]:.2f}",
                        "≤ 1.3" if "cluster_group" in key else "")
              for key in sweep["ratios_to_local"]],
            "",
            "Load average after each round: "
            + "; ".join(load(avg) for avg in sweep["load_after_each_round"]),
            "",
        ]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 6 jobs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    parser.add_argument("--sweep-only", action="store_true", help="only the sweep figure")
    parser.add_argument("--trials", type=int, default=48, help="trials of the sweep figure")
    parser.add_argument("--group", type=int, default=12, help="its cluster_group")
    parser.add_argument(
        "--ungrouped", action="store_true",
        help="also the sweep on Slurm with one job a trial (the slowest variant)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, help="rounds of each figure (3; 1 with --quick)")
    args = parser.parse_args(argv)
    if shutil.which("sbatch") is None:
        sys.exit("benchmarks/cluster.py: no sbatch on PATH; run tests/cluster/slurm-up.sh")
    rounds, jobs = (1, 6) if args.quick else (3, 20)
    rounds = args.rounds or rounds

    scratch = Path(tempfile.mkdtemp(prefix="snakeyard-cluster-bench-"))
    started = time.perf_counter()
    try:
        report = {
            "rounds": rounds,
            "jobs": jobs,
            "trials": args.trials,
            "environment": environment_info(),
        }
        if not args.sweep_only:
            report["figures"] = figures(scratch, rounds, jobs)
        report["sweep"] = sweep_figures(
            scratch, rounds, args.trials, args.group, args.ungrouped
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report["environment"]["load_average_end"] = os.getloadavg()
    report["total_s"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cluster.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "cluster.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
