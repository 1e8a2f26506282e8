"""How fast `snakeyard runs show` answers for a running run that has logged a lot.

Run from the repository root::

    python benchmarks/visibility.py                 # 100,000 logged values (the issue's size)
    python benchmarks/visibility.py --values 2000   # small, a smoke check

A registry in a temporary folder holds one Running run whose process is this benchmark
(so readers take it as alive, not Lost) and whose ``events.jsonl`` holds ``--values``
logged values in two shapes: one metric logged ``--values`` times (a long loss curve),
and 100 metrics logged ``--values / 100`` times each. For each it times, as the median
of ``--repeats``:

- ``show (command)``: ``python -m snakeyard runs show RUN_ID``, a new process each time,
  as a user runs it (interpreter start-up included);
- ``get_run (API)``: ``Registry.get_run(RUN_ID)`` in this process, which folds the event
  log (``snakeyard.training.run_api.read_events``) into the metrics so far.

- ``show (command, bytecode cached)``: the same with the modules' bytecode cached (in a
  temporary ``PYTHONPYCACHEPREFIX``, written by one untimed run), as for a user from the
  second run on. ``show (command)`` runs as this environment does: with
  ``PYTHONDONTWRITEBYTECODE=1`` and no ``__pycache__`` (``bytecode cached: no`` in the
  output) every snakeyard module it imports is compiled at each start.

Also timed: ``python -c pass``, the interpreter's own start-up (its ``site`` imports,
.pth files included), which no change to snakeyard can cut.

The aim is under 0.5 s for the command at 100,000 values. Figures go to
``benchmarks/results/visibility.json`` and ``.md`` with the machine's load average.
Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
AIM_SECONDS = 0.5
RUN_ID = "bench_1796000000_0a1b2c3d"


def running_run(root: Path, events: list[str]) -> None:
    """A Running run record whose stage process is this one, with ``events`` logged."""
    from snakeyard.training.liveness import process_identity

    folder = root / "runs" / "bench" / RUN_ID
    (folder / "work" / "logs").mkdir(parents=True)
    record = {
        "id": RUN_ID, "experiment": "bench", "status": "Running", "exit_code": None,
        "start": "2026-11-30T20:00:00Z", "end": None, "start_unix": time.time(),
        "end_unix": None, "duration_seconds": None, "host": platform.node(),
        "pid": os.getpid(), "pid_start": process_identity(os.getpid()),
        "heartbeat_seconds": 30, "cluster_job_id": None, "cluster": None,
        "git_commit": None, "source_directory": "src", "script": "train.py",
        "arguments": {}, "command": ["python", "train.py"], "python": sys.executable,
        "packages": {}, "dataset": {"name": "d", "version": 1, "content_hash": "0" * 64},
        "environment": {"name": "e", "version": 1, "method": "recorded-interpreter"},
        "snapshot_hash": "0" * 64, "snapshot_files": 1, "folder": str(folder),
        "metrics": {}, "tags": {}, "images": {}, "uploads": {}, "outputs": [],
    }  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record))
    (folder / "heartbeat").touch()
    (folder / "events.jsonl").write_text("".join(events))


def event(name: str, value: float) -> str:
    return json.dumps({"kind": "metric", "name": name, "value": value}) + "\n"


def shapes(values: int) -> dict[str, list[str]]:
    """The event logs measured: one long curve, and 100 metrics of equal length."""
    per = max(1, values // 100)
    return {
        f"1 metric x {values:,}": [event("loss", 1.0 / (k + 1)) for k in range(values)],
        f"100 metrics x {per:,}": [event(f"m{m}", k * 0.001) for k in range(per)
                                   for m in range(100)],  # fmt: skip
    }


def figure(shape: str, what: str, samples: list[float]) -> dict:
    return {"shape": shape, "what": what, "median_s": statistics.median(samples),
            "min_s": min(samples), "max_s": max(samples), "samples_s": samples}  # fmt: skip


def timed(function, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=100_000, help="logged values per shape")
    parser.add_argument("--repeats", type=int, default=5, help="timings per figure (median)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the figures")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from snakeyard.registry.registry import Registry

    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEYARD_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    bare = [sys.executable, "-c", "pass"]
    figures = [figure("-", "python -c pass",
                      timed(lambda: subprocess.run(bare, env=env, check=True), args.repeats))]
    cache = tempfile.TemporaryDirectory()
    cached_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached_env["PYTHONPYCACHEPREFIX"] = cache.name
    for shape, events in shapes(args.values).items():
        with tempfile.TemporaryDirectory() as temporary:
            root = Path(temporary) / "registry"
            running_run(root, events)
            command = [sys.executable, "-m", "snakeyard", "--registry", str(root), "runs",
                       "show", RUN_ID]  # fmt: skip
            shown = subprocess.run(command, capture_output=True, text=True, env=env)
            assert shown.returncode == 0 and "Running" in shown.stdout, shown.stderr
            command_times = timed(
                lambda command=command: subprocess.run(command, capture_output=True, env=env,
                                                       check=True),
                args.repeats,
            )  # fmt: skip
            subprocess.run(command, capture_output=True, env=cached_env, check=True)  # caches
            cached_times = timed(
                lambda command=command: subprocess.run(command, capture_output=True,
                                                       env=cached_env, check=True),
                args.repeats,
            )  # fmt: skip
            api_times = timed(lambda root=root: Registry(root).get_run(RUN_ID), args.repeats)
            figures += [figure(shape, "show (command)", command_times),
                        figure(shape, "show (command, bytecode cached)", cached_times),
                        figure(shape, "get_run (API)", api_times)]  # fmt: skip
    cache.cleanup()
    result = {
        "values": args.values, "repeats": args.repeats, "aim_s": AIM_SECONDS,
        "cpus": os.cpu_count(), "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "python": platform.python_version(), "figures": figures,
        "bytecode_cached": (REPO / "src" / "snakeyard" / "__pycache__").is_dir()
        and not os.environ.get("PYTHONPYCACHEPREFIX"),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "visibility.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"`runs show` of a running run, {args.values:,} logged values per shape "
        f"(median of {args.repeats}; load {' '.join(result['loadavg'])}; "
        f"aim < {AIM_SECONDS} s for the command; bytecode cached: "
        f"{'yes' if result['bytecode_cached'] else 'no'})",
        "",
        "| event log | what | median | min | max |",
        "|---|---|---|---|---|",
    ] + [
        f"| {f['shape']} | {f['what']} | {f['median_s']:.3f} s | {f['min_s']:.3f} s | "
        f"{f['max_s']:.3f} s |"
        for f in figures
    ]
    (args.out / "visibility.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
