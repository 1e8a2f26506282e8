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
    # the profile as it stands: the first status check comes 10 s after a submission
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


def markdown(report: dict[str, Any]) -> str:
    figures = report["figures"]
    jobs = report["jobs"]
    lines = [
        "# Cluster figures",
        "",
        f"{report['environment']['date_utc']}, {report['environment']['cpus']} CPUs, "
        f"{report['rounds']} round(s), medians; one-node Slurm on this host.",
        "",
        table_row("workflow", "local", "slurm (profile)", "slurm (first check 2 s)"),
        table_row("---", "---", "---", "---"),
    ]
    for size in ("default", f"{jobs} jobs"):
        cells = [sec(figures[f"{p}/{size}"]["median_s"]) for p in PROFILES]
        lines.append(table_row(size, *cells))
    lines += [
        "",
        f"Per-job overhead of Slurm for {jobs} small training jobs, (slurm − local) / {jobs}: "
        f"{sec(figures['slurm_overhead_per_job_s'])} with the profile as it stands, "
        f"{sec(figures['slurm-2s_overhead_per_job_s'])} with the first status check after 2 s.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 6 jobs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    args = parser.parse_args(argv)
    if shutil.which("sbatch") is None:
        sys.exit("benchmarks/cluster.py: no sbatch on PATH; run tests/cluster/slurm-up.sh")
    rounds, jobs = (1, 6) if args.quick else (3, 20)

    scratch = Path(tempfile.mkdtemp(prefix="snakeyard-cluster-bench-"))
    started = time.perf_counter()
    try:
        report = {
            "rounds": rounds,
            "jobs": jobs,
            "environment": environment_info(),
            "figures": figures(scratch, rounds, jobs),
        }
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
