"""How long a training script takes to log one metric many times, and the run to fold it.

Run from the repository root::

    python benchmarks/run_api.py                 # 100,000 values (the aim: under 1 s)
    python benchmarks/run_api.py --values 1000   # a smoke check

A fresh Python process logs ``--values`` values of one metric through ``snakeyard.Run``
into a temporary run folder (what a script does), then the events are folded into the
run's metrics with ``read_events`` (what the train stage does when the script ends).
Also measured at a tenth and a half of the size, to show both grow linearly. Figures
go to ``benchmarks/results/run_api.json`` and are printed; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

LOG_SCRIPT = """
import sys, time
from snakeyard import Run
run = Run.get_context()
count = int(sys.argv[1])
start = time.perf_counter()
for i in range(count):
    run.log("loss", 1.0 / (i + 1))
print(time.perf_counter() - start)
"""


def measure(values: int) -> dict[str, float]:
    """Seconds to log ``values`` values in a script and to fold them afterwards."""
    from snakeyard.training.run_api import read_events

    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEYARD_")}
        env.update(SNAKEYARD_RUN_DIR=folder, SNAKEYARD_RUN_ID="bench")
        done = subprocess.run(
            [sys.executable, "-c", LOG_SCRIPT, str(values)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        logged = float(done.stdout.strip().splitlines()[-1])
        start = time.perf_counter()
        metrics, _tags = read_events(folder)
        folded = time.perf_counter() - start
        assert len(metrics["loss"]) == values, "every value is folded"
    return {"values": values, "log_seconds": logged, "fold_seconds": folded,
            "total_seconds": logged + folded}  # fmt: skip


def main() -> None:
    """Measure, print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=100_000, help="values to log")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for run_api.json")
    args = parser.parse_args()
    sizes = sorted({max(1, args.values // 10), max(1, args.values // 2), args.values})
    rows = [measure(size) for size in sizes]
    result = {
        "aim": "100,000 values logged and folded in under 1 s",
        "rows": rows,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3]
        if Path("/proc/loadavg").exists() else None,
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "run_api.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'values':>8} {'log s':>8} {'fold s':>8} {'total s':>8}")
    for row in rows:
        print(f"{row['values']:>8} {row['log_seconds']:>8.3f} {row['fold_seconds']:>8.3f} "
              f"{row['total_seconds']:>8.3f}")  # fmt: skip
    print(f"load average {result['loadavg']}; written to {args.out / 'run_api.json'}")


if __name__ == "__main__":
    main()
