"""Environment benchmarks: locking, building a pip-only environment, training inside it.

Run from the repository root::

    python benchmarks/environments.py           # about 2 minutes on 2 cores
    python benchmarks/environments.py --quick   # fewer rounds

Figures go to ``benchmarks/results/environments.json`` and ``.md`` and are printed.
Everything happens in a temporary folder (its own environment cache included); the
repository is never touched. Nothing here asserts on time. The figures:

1. *lock*: ``python -m snakeyard.stages lock`` of the default spec ``envs/sklearn.yaml``
   for the four default platforms against the local test channel that
   ``tests/conda_channel.py`` builds (py-rattler solves; no conda is installed), the
   whole stage command including interpreter start-up and registration.
2. *pip environment, cold and warm*: building the environment of the committed lock
   ``envs/pinned-sklearn.pip-lock.txt`` into an empty cache (pip's own download cache
   stays as it is, so this is install time, not download time), and asking for it
   again once it is built.
3. *train overhead*: the ``train`` stage command of the same iris experiment with
   ``environment: current`` and with the pip-only environment (already built),
   interleaved round by round; the ratio is pinned / current, medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

import core
from core import summary

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
FULL = {"lock": 5, "cold": 3, "warm": 5, "train": 5}
QUICK = {"lock": 2, "cold": 1, "warm": 2, "train": 2}

BUILD = """
import sys
from pathlib import Path
from snakeyard.environments import pip_env as venvs
venvs.build_environment(
    Path(sys.argv[1]).read_text(), sys.executable, lambda _: None, Path(sys.argv[2])
)
"""


def clean_env(**extra: str) -> dict[str, str]:
    return {**core.clean_env(), **extra}


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout}\n{done.stderr}")
    return elapsed


def lock_figures(work: Path, rounds: int) -> dict[str, Any]:
    channel = subprocess.run(
        [sys.executable, str(REPO / "tests" / "conda_channel.py"), str(work / "channel")],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    samples = []
    for i in range(rounds):
        folder = work / f"lock-{i}"
        (folder / "envs").mkdir(parents=True)
        shutil.copy(REPO / "envs" / "sklearn.yaml", folder / "envs" / "sklearn.yaml")
        samples.append(
            timed(
                [
                    sys.executable, "-m", "snakeyard.stages", "lock", "--name", "sklearn",
                    "--spec-file", "envs/sklearn.yaml",
                    "--platforms", json.dumps(["linux-64", "osx-arm64", "osx-64", "win-64"]),
                    f"--channels={json.dumps([channel])}", "--registry", "registry",
                    "--out", "receipt.json", "--log", "lock.log",
                ],
                folder,
                clean_env(),
            )  # fmt: skip
        )
    return summary(samples)


def pip_figures(work: Path, sizes: dict[str, int]) -> dict[str, Any]:
    lock = REPO / "envs" / "pinned-sklearn.pip-lock.txt"
    cold = []
    for i in range(sizes["cold"]):
        cache = work / f"cold-cache-{i}"
        cold.append(timed([sys.executable, "-c", BUILD, str(lock), str(cache)], work, clean_env()))
    built = work / "cold-cache-0"
    warm = [
        timed([sys.executable, "-c", BUILD, str(lock), str(built)], work, clean_env())
        for _ in range(sizes["warm"])
    ]
    return {"cold": summary(cold), "warm": summary(warm)}


def train_figures(work: Path, rounds: int) -> dict[str, Any]:
    project = work / "project"
    (project / "envs").mkdir(parents=True)
    for name in ("pinned-sklearn.yaml", "pinned-sklearn.pip-lock.txt"):
        shutil.copy(REPO / "envs" / name, project / "envs" / name)
    config = yaml.safe_load((REPO / "config" / "examples" / "pinned-env.yaml").read_text())
    current = dict(config["experiments"]["pinned-iris"], environment="current")
    config["experiments"]["current-iris"] = {**current, "model": {"name": "current-iris"}}
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    env = clean_env(SNAKEYARD_ENV_CACHE=str(work / "train-cache"))
    snakemake = shutil.which("snakemake") or "snakemake"
    subprocess.run(
        [snakemake, "-s", str(REPO / "Snakefile"), "--cores", "2", "--configfile", "config.yaml"],
        cwd=project, env=env, check=True, capture_output=True,
    )  # fmt: skip

    def stage(experiment: str, environment: str) -> list[str]:
        spec = config["experiments"][experiment]
        keys = {
            "source_directory": str(REPO / spec["source_directory"]),
            "script": spec["script"],
            "arguments": spec["arguments"],
            "data_argument": "--data-folder",
        }
        return [
            sys.executable, "-m", "snakeyard.stages", "train", "--experiment", experiment,
            "--spec", json.dumps(keys), "--dataset", "results/datasets/iris.json",
            "--environment", f"results/environments/{environment}.json",
            "--registry", "registry", "--out", f"bench-{experiment}.json", "--log", "bench.log",
        ]  # fmt: skip

    samples: dict[str, list[float]] = {"current": [], "pinned": []}
    scripts: dict[str, list[float]] = {"current": [], "pinned": []}
    for _ in range(rounds):
        for label, experiment, environment in (
            ("current", "current-iris", "current"),
            ("pinned", "pinned-iris", "pinned-sklearn"),
        ):
            samples[label].append(timed(stage(experiment, environment), project, env))
            record = json.loads((project / f"bench-{experiment}.json").read_text())
            scripts[label].append(record["duration_seconds"])
    figures = {label: summary(values) for label, values in samples.items()}
    figures["script_current"] = summary(scripts["current"])
    figures["script_pinned"] = summary(scripts["pinned"])
    figures["ratio"] = figures["pinned"]["median_s"] / figures["current"]["median_s"]
    return figures


def markdown(report: dict[str, Any]) -> str:
    def s(figure: dict[str, Any]) -> str:
        return f"{figure['median_s']:.3f} s (min {figure['min_s']:.3f}, n {figure['n']})"

    train = report["train"]
    return "\n".join([
        "| figure | median |",
        "|---|---|",
        f"| lock envs/sklearn.yaml, 4 platforms, local channel | {s(report['lock'])} |",
        f"| pip-only environment, cold cache | {s(report['pip']['cold'])} |",
        f"| pip-only environment, warm cache | {s(report['pip']['warm'])} |",
        f"| train stage, environment: current | {s(train['current'])} |",
        f"| train stage, pip-only environment | {s(train['pinned'])} |",
        f"| ratio pinned / current | {train['ratio']:.2f} |",
        f"| script alone (run record), current | {s(train['script_current'])} |",
        f"| script alone (run record), pinned | {s(train['script_pinned'])} |",
        "",
        f"Machine: {report['machine']['cpus']} CPUs, Python {report['machine']['python']}, "
        f"load {report['machine']['load_start']} at start, {report['machine']['load_end']} at end.",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--out", default=str(RESULTS), help="folder for the figures")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="snakeyard-bench-env-") as scratch:
        work = Path(scratch)
        report = {
            "lock": lock_figures(work, sizes["lock"]),
            "pip": pip_figures(work, sizes),
            "train": train_figures(work, sizes["train"]),
        }
    report["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_start": round(load_start, 2),
        "load_end": round(os.getloadavg()[0], 2),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "environments.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (out / "environments.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
