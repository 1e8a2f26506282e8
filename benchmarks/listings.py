"""Listings at a lab's lifetime: `runs list` over many runs, from the listing index.

Run from the repository root::

    python benchmarks/listings.py               # 100,000 runs (several GB of writes: minutes)
    python benchmarks/listings.py --runs 2000   # a smoke check

Writes run folders with records shaped like real ones (metrics, a loss curve, a package
list) into a temporary registry, lists them once to write the index (timed: the first
listing after the runs, as after a long sweep whose records nobody summarised), then
times `python -m snakeyard runs list` as a user runs it, with and without `--json`,
`--limit`, `--sort`, each in a fresh process whose own peak memory (VmHWM) is measured.
Figures go to ``benchmarks/results/listings.{json,md}`` with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core import RESULTS, environment_info, load, report_heading, table_row, write_report  # noqa: E402

AIM_SECONDS = 1.0
AIM_PEAK_MB = 100
EXPERIMENTS = 10
PACKAGES = {f"package-{i}": f"{i}.0.{i % 7}" for i in range(60)}


def write_runs(root: Path, count: int) -> None:
    """``count`` ended run records spread over :data:`EXPERIMENTS` experiments."""
    for n in range(count):
        experiment = f"exp-{n % EXPERIMENTS}"
        run_id = f"{experiment}_{1795000000 + n}_{n:08x}"
        folder = root / "runs" / experiment / run_id
        folder.mkdir(parents=True)
        seconds = 1795000000 + n
        record = {
            "id": run_id, "experiment": experiment,
            "status": "Failed" if n % 50 == 0 else "Completed", "exit_code": 0,
            "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)),
            "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds + 3)),
            "duration_seconds": 3.0, "host": "node1", "pid": 1000 + n,
            "arguments": {"kernel": "rbf", "penalty": n % 10 / 10},
            "metrics": {"Accuracy": (n % 997) / 997, "loss": [1 / (s + 1) for s in range(50)]},
            "tags": {}, "images": {}, "uploads": {}, "outputs": [], "packages": PACKAGES,
            "command": ["python", "train.py"], "snapshot_hash": "0" * 64, "snapshot_files": 3,
            "dataset": {"name": "iris", "version": 1},
            "environment": {"name": "current", "version": 1},
        }  # fmt: skip
        (folder / "run.json").write_text(json.dumps(record, indent=2))


# the snakeyard command, then this process's own peak memory on stderr: VmHWM, the
# high-water mark of this program's memory, where Linux has it. Not ru_maxrss: Linux
# carries the parent's peak into it across fork and exec, and this parent has read
# tens of megabytes of the listings' output by then
MEASURED_CLI = (
    "import re, resource, sys\n"
    "from snakeyard.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "sys.stdout.flush()\n"
    "try:\n"
    "    with open('/proc/self/status') as status:\n"
    "        peak = int(re.search(r'VmHWM:\\s*(\\d+)', status.read()).group(1))\n"
    "except (OSError, AttributeError):\n"
    "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "sys.stderr.write(f'\\nmaxrss_kb {peak}\\n')\n"
    "sys.exit(code)\n"
)


def timed_cli(registry: Path, *words: str) -> dict[str, Any]:
    """One snakeyard command in a fresh process: wall time, its CPU time (user and
    system: steadier than the wall time on a busy machine), peak memory, output size."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_CLI, "--registry", str(registry), *words],
        capture_output=True, check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode())
    peak_kb = int(done.stderr.decode().rsplit("maxrss_kb", 1)[1])
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"seconds": wall, "cpu_s": cpu, "peak_mb": peak_kb / 1024,
            "output_bytes": len(done.stdout), "load": os.getloadavg()[0]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"quick": args.runs < 100_000, "runs": args.runs,
                              "environment": environment_info()}  # fmt: skip
    scratch = Path(tempfile.mkdtemp(prefix="snakeyard-listings-"))
    try:
        registry = scratch / "registry"
        print(f"[listings] writing {args.runs} run records ...", flush=True)
        start = time.perf_counter()
        write_runs(registry, args.runs)
        report["write_s"] = time.perf_counter() - start
        print("[listings] the first listing (writes the index) ...", flush=True)
        report["first_listing"] = timed_cli(registry, "runs", "list", "--limit", "1")
        report["load_after_first"] = os.getloadavg()
        cases = {
            "runs list": ["runs", "list"],
            "runs list --json": ["runs", "list", "--json"],
            "runs list --reverse --limit 20": ["runs", "list", "--reverse", "--limit", "20"],
            "runs list --experiment exp-3 --sort Accuracy --limit 10":
                ["runs", "list", "--experiment", "exp-3", "--sort", "Accuracy", "--limit", "10"],
        }  # fmt: skip
        report["cases"] = {}
        for name, words in cases.items():
            samples = [timed_cli(registry, *words) for _ in range(args.repeats)]
            report["cases"][name] = {
                "median_s": statistics.median(s["seconds"] for s in samples),
                "median_cpu_s": statistics.median(s["cpu_s"] for s in samples),
                "load": statistics.mean(s["load"] for s in samples),
                "peak_mb": max(s["peak_mb"] for s in samples),
                "output_bytes": samples[0]["output_bytes"],
            }
            print(f"[listings] {name}: {report['cases'][name]}", flush=True)
        report["environment"]["load_average_end"] = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_report(report, args.out, "listings", markdown)
    return 0


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    rows = [*report_heading("listings", report)]
    first = report["first_listing"]
    rows.append(table_row(f"first listing of {report['runs']} runs (writes the index)",
                          f"{first['seconds']:.2f} s", "", "", ""))  # fmt: skip
    for name, case in report["cases"].items():
        rows.append(table_row(
            f"`{name}` at {report['runs']} runs: time, peak memory (VmHWM)",
            f"{case['median_s']:.2f} s (CPU {case['median_cpu_s']:.2f} s, load "
            f"{case['load']:.2f}), {case['peak_mb']:.0f} MB", "", "",
            f"≤ {AIM_SECONDS} s, ≤ {AIM_PEAK_MB} MB",
        ))  # fmt: skip
    rows += [
        "",
        "Time: median wall time of a fresh `snakeyard` process, start-up included (CPU: "
        "its user and system time, steadier on a busy machine; load: the 1-minute load "
        "average after each sample, averaged). Peak "
        "memory: that process's own high-water mark (VmHWM; the largest of the repeats).",
        f"Load average at start {load(env['load_average_start'])}, after the first listing "
        f"{load(report['load_after_first'])}, at end {load(env.get('load_average_end'))} "
        f"({env['cpus']} CPUs).",
        "",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
