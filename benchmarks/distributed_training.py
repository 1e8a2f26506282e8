"""Distributed training figures: one random forest fitted serially, on joblib's local
processes, and on a Dask cluster of 2 worker processes; and what a Dask cluster costs a
run to start.

Run from the repository root::

    python benchmarks/distributed.py           # 300 trees on 50,000 x 50: ~10 min on 2 cores
    python benchmarks/distributed.py --quick   # small sizes, a smoke check
    python benchmarks/distributed.py --trees 100 --samples 20000 --rounds 2

Figures go to ``benchmarks/results/distributed_training.json`` and ``.md`` and are printed. It
only measures; it asserts nothing about time. See docs/distributed.md for what they mean.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

import joblib  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402

from snakeyard.registry.registry import Registry  # noqa: E402
from snakeyard.training.distributed.dask_backend import DaskCluster  # noqa: E402
from snakeyard.training.runner import child_environment, execute  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
DASK = {"backend": "dask", "nodes": 1, "processes_per_node": 2, "threads_per_process": 1}
TRIVIAL_SCRIPT = "from snakeyard import Run\nRun.get_context().log('done', 1)\n"


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def fit_seconds(X: np.ndarray, y: np.ndarray, trees: int, **parallel: Any) -> float:
    """Seconds to fit the forest with ``n_jobs=-1`` under ``joblib.parallel_config``."""
    model = RandomForestClassifier(n_estimators=trees, n_jobs=-1, random_state=0)
    with joblib.parallel_config(**parallel):
        started = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - started


def forest_figures(args: argparse.Namespace, scratch: Path) -> dict[str, list[float]]:
    """Fit times of each way, interleaved round by round so that load changes hit all."""
    X, y = make_classification(
        n_samples=args.samples, n_features=args.features, n_informative=10, random_state=0
    )
    folder = scratch / "cluster"
    (folder / "work" / "logs").mkdir(parents=True)
    env = child_environment(folder, "benchmark", "benchmark", sys.executable)
    started = time.perf_counter()
    cluster = DaskCluster(DASK, sys.executable, folder, env)
    cluster.start()
    from distributed import Client

    client = Client(scheduler_file=str(cluster.scheduler_file))
    startup = time.perf_counter() - started
    figures: dict[str, list[float]] = {"serial": [], "loky_2": [], "dask_2_workers": []}
    try:
        # the first use of each pool imports scikit-learn in its workers: timed apart
        figures["loky_first_use"] = [fit_seconds(X[:200], y[:200], 2, backend="loky", n_jobs=2)]
        figures["dask_first_use"] = [fit_seconds(X[:200], y[:200], 2, backend="dask")]
        for _ in range(args.rounds):
            figures["serial"].append(fit_seconds(X, y, args.trees, n_jobs=1))
            figures["loky_2"].append(fit_seconds(X, y, args.trees, backend="loky", n_jobs=2))
            figures["dask_2_workers"].append(fit_seconds(X, y, args.trees, backend="dask"))
    finally:
        client.close()
        cluster.stop()
    figures["dask_cluster_start"] = [startup]
    return figures


def run_figures(args: argparse.Namespace, scratch: Path) -> dict[str, list[float]]:
    """A whole run of a trivial script with and without a Dask cluster (start, connect,
    stop): the start-up cost a run pays for ``backend: dask``."""
    source = scratch / "src"
    source.mkdir()
    (source / "train.py").write_text(TRIVIAL_SCRIPT)
    registry = Registry(scratch / "registry")
    dataset = {"name": "d", "version": 1, "content_hash": "0" * 64, "location": "."}
    environment = {"name": "e", "version": 1, "method": "recorded-interpreter"}
    figures: dict[str, list[float]] = {"run_plain": [], "run_dask": []}
    for _ in range(args.run_rounds):
        for name, distributed in (("run_plain", None), ("run_dask", DASK)):
            started = time.perf_counter()
            execute(
                registry, experiment="bench", source_directory=source, script="train.py",
                arguments={}, dataset=dataset, environment=environment, data_argument=None,
                log=lambda _: None, distributed=distributed,
            )  # fmt: skip
            figures[name].append(time.perf_counter() - started)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke check")
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1, help="fits of each way")
    parser.add_argument("--run-rounds", type=int, default=3, help="runs with and without Dask")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.trees, args.samples, args.features, args.run_rounds = 30, 2000, 20, 1
    for variable in [v for v in os.environ if v.startswith("SNAKEYARD_")]:
        os.environ.pop(variable)

    load_start = load()
    with tempfile.TemporaryDirectory(prefix="snakeyard-distributed-") as scratch:
        figures = forest_figures(args, Path(scratch))
        figures.update(run_figures(args, Path(scratch)))
    medians = {name: round(statistics.median(values), 3) for name, values in figures.items()}
    report = {
        "sizes": {k: getattr(args, k) for k in ("trees", "samples", "features", "rounds",
                                                 "run_rounds")},  # fmt: skip
        "seconds": figures,
        "median_seconds": medians,
        "speedup_over_serial": {
            name: round(medians["serial"] / medians[name], 2)
            for name in ("loky_2", "dask_2_workers")
        },
        "dask_start_per_run_seconds": round(medians["run_dask"] - medians["run_plain"], 3),
        "cpus": os.cpu_count(),
        "load_average_start": load_start,
        "load_average_end": load(),
        "python": platform.python_version(),
        "versions": _versions(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "distributed_training.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "distributed_training.md").write_text(_table(report))
    print(_table(report))


def _versions() -> dict[str, str]:
    import dask
    import sklearn

    return {
        "dask": dask.__version__,
        "joblib": joblib.__version__,
        "scikit-learn": sklearn.__version__,
    }


def _table(report: dict[str, Any]) -> str:
    m, s = report["median_seconds"], report["sizes"]
    lines = [
        f"# Distributed figures: random forest of {s['trees']} trees on "
        f"{s['samples']:,} x {s['features']}",
        "",
        f"{report['cpus']} CPUs; load average {report['load_average_start']} at start, "
        f"{report['load_average_end']} at end; versions {report['versions']}",
        "",
        "| figure | median s | speed-up over serial |",
        "|---|---|---|",
        f"| fit, serial (n_jobs=1) | {m['serial']} | 1 |",
        f"| fit, joblib loky, 2 processes | {m['loky_2']} | "
        f"{report['speedup_over_serial']['loky_2']} |",
        f"| fit, Dask, 2 worker processes | {m['dask_2_workers']} | "
        f"{report['speedup_over_serial']['dask_2_workers']} |",
        f"| Dask cluster start (2 workers) + connect | {m['dask_cluster_start']} | |",
        f"| first use of the loky pool (2-tree fit) | {m['loky_first_use']} | |",
        f"| first use of the Dask workers (2-tree fit) | {m['dask_first_use']} | |",
        f"| whole run, trivial script, no cluster | {m['run_plain']} | |",
        f"| whole run, trivial script, backend dask | {m['run_dask']} | |",
        f"| Dask start-up cost per run | {report['dask_start_per_run_seconds']} | |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
