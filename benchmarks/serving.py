"""Serving benchmarks: `snakeyard models serve` against `mlflow models serve` of the same
model, bulk scoring in chunks against one predict call, and start-up time.

Run from the repository root (snakeyard importable, the serve and mlflow extras)::

    python benchmarks/serving.py                 # 10 s per server, 1,000,000 rows
    python benchmarks/serving.py --quick         # 3 s per server, 100,000 rows

Figures go to ``benchmarks/results/serving.json`` and ``.md`` and are printed. Everything
happens in a temporary folder, on 127.0.0.1 only; every wait is bounded. Nothing here
asserts on time. The figures:

1. *requests*: ``--clients`` (8) threads, each with one keep-alive connection, send
   single-row requests for ``--seconds`` (10) to one server, then the same to the other
   (snakeyard ``POST /score``, MLflow ``POST /invocations``; one worker each, the same
   iris logistic regression, exported with ``models export --format mlflow``); p50 and
   p99 latency and requests per second. The clients run on the same 2 cores as the
   server, as they would in a load test on one machine.
2. *start-up*: seconds from starting each server command until it answers its readiness
   check (``/v2/health/ready``, ``/health``).
3. *bulk*: ``--rows`` (1,000,000) rows of 4 features scored by a random forest: one
   ``predict`` call on the whole array (model and array already in memory), against the
   workflow's stages run as the ``scoring`` rules run them (``score-chunk`` in
   ``--chunks`` (8) processes, 2 at a time, then ``score-gather`` writing the CSV),
   each a whole ``python -m snakeyard.stages`` command with its start-up and model check;
   and the same chunk function in 2 worker processes already running with the model
   loaded, which is the cost of chunking without the interpreters' start-up. Then
   ``score-gather`` commands writing CSV and Parquet, and the fixed cost every stage
   command pays (the interpreter, ``import sklearn.ensemble``, a 1-row ``score-chunk``),
   from which the floor of the chunk commands on 2 cores follows.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
START_TIMEOUT = 180


def clean_env() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEYARD_")}
    environment["PYTHONPATH"] = str(REPO / "src")
    return environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int, path: str) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False


class Server:
    """A server command started in its own process group, stopped with SIGINT."""

    def __init__(self, command: list[str], port: int, ready: str, log: Path):
        self.port = port
        start = time.perf_counter()
        with open(log, "w") as handle:
            self.process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                            env=clean_env(), start_new_session=True)  # fmt: skip
        while not answers(port, ready):
            if self.process.poll() is not None or time.perf_counter() - start > START_TIMEOUT:
                self.stop()
                raise SystemExit(f"{command[:4]} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.startup_s = time.perf_counter() - start

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)


def load_test(port: int, path: str, body: bytes, clients: int, seconds: float) -> dict[str, Any]:
    """Single-row requests from ``clients`` threads for ``seconds``; latency and rate."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop_at = time.perf_counter() + seconds
    headers = {"Content-Type": "application/json"}

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            latencies[index].append(time.perf_counter() - start)
            if response.status != 200:
                errors[index] += 1
        connection.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    elapsed = time.perf_counter() - start
    every = sorted(x for values in latencies for x in values)
    return {
        "requests": len(every),
        "errors": sum(errors),
        "seconds": round(elapsed, 3),
        "requests_per_s": round(len(every) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(every), 2),
        "p99_ms": round(1000 * every[min(len(every) - 1, int(0.99 * len(every)))], 2),
    }


def prepare(work: Path) -> tuple[Path, Path]:
    """Register the iris model (a registry in ``work``) and export it for MLflow."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from snakeyard.registry.registry import Registry
    from snakeyard.serving.signature import infer_signature

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    joblib.dump(model, work / "iris.joblib")
    registry = Registry(work / "registry")
    registry.register_model("iris", work / "iris.joblib", framework="scikit-learn",
                            signature=infer_signature(model, X[:5]))  # fmt: skip
    exported = work / "iris-mlflow"
    subprocess.run([sys.executable, "-m", "snakeyard", "--registry", str(registry.root),
                    "models", "export", "iris", str(exported), "--format", "mlflow"],
                   check=True, env=clean_env(), capture_output=True)  # fmt: skip
    return registry.root, exported


def request_figures(work: Path, clients: int, seconds: float) -> dict[str, Any]:
    registry, exported = prepare(work)
    row = [5.1, 3.5, 1.4, 0.2]
    servers = {
        "snakeyard": (
            [sys.executable, "-m", "snakeyard", "--registry", str(registry), "models", "serve",
             "iris", "--workers", "1"],
            "/v2/health/ready", "/score", {"data": [row]},
        ),
        "mlflow": (
            [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(exported),
             "--env-manager", "local", "-h", "127.0.0.1", "--workers", "1"],
            "/health", "/invocations", {"inputs": [row]},
        ),
    }  # fmt: skip
    figures = {}
    for name, (command, ready, path, body) in servers.items():
        port = free_port()
        server = Server([*command, "-p" if name == "mlflow" else "--port", str(port)],
                        port, ready, work / f"{name}.log")  # fmt: skip
        try:
            load_test(port, path, json.dumps(body).encode(), clients, 1.0)  # warm up
            figures[name] = {"startup_s": round(server.startup_s, 3),
                             **load_test(port, path, json.dumps(body).encode(), clients, seconds)}
        finally:
            server.stop()
    figures["ratio"] = {
        "p50": round(figures["snakeyard"]["p50_ms"] / figures["mlflow"]["p50_ms"], 3),
        "throughput": round(
            figures["snakeyard"]["requests_per_s"] / figures["mlflow"]["requests_per_s"], 3
        ),
    }
    return figures


_POOL_MODEL: Any = None


def _load_in_worker(registry: str) -> None:
    global _POOL_MODEL
    from snakeyard.registry.registry import Registry
    from snakeyard.serving.loading import from_registry

    _POOL_MODEL = from_registry(Registry(registry), "forest:1")


def _chunk_in_worker(job: tuple[str, int, int, str]) -> None:
    from snakeyard.serving.scoring import score_chunk

    features, chunk, chunks, out = job
    score_chunk(_POOL_MODEL, Path(features), chunk, chunks, "predict", Path(out))


def bulk_figures(work: Path, rows: int, chunks: int) -> dict[str, Any]:
    import joblib
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    from snakeyard.registry.registry import Registry

    X, y = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=50, random_state=0).fit(X, y)
    joblib.dump(forest, work / "forest.joblib")
    registry = Registry(work / "registry")
    registry.register_model("forest", work / "forest.joblib", framework="scikit-learn")
    rng = np.random.default_rng(0)
    features = X[rng.integers(0, len(X), rows)] + rng.normal(0, 0.1, (rows, X.shape[1]))
    np.save(work / "features.npy", features)
    # score-gather reads the data set's record for its header: a small registered stand-in
    (work / "synthetic").mkdir()
    (work / "synthetic" / "README").write_text(f"{rows} rows drawn around the iris set\n")
    meta = registry.upload_dataset("synthetic", work / "synthetic")
    dataset = {"registry": str(registry.root), "name": "synthetic", "version": meta["version"]}

    start = time.perf_counter()
    expected = forest.predict(features)
    one_predict = time.perf_counter() - start

    stage = [sys.executable, "-m", "snakeyard.stages"]
    outputs = [work / "chunks" / f"{i}.npz" for i in range(chunks)]

    def chunk(i: int) -> None:
        subprocess.run([*stage, "score-chunk", "--features", str(work / "features.npy"),
                        "--model", "forest:1", "--chunk", str(i), "--chunks", str(chunks),
                        "--method", "predict", "--registry", str(registry.root),
                        "--out", str(outputs[i])], check=True, env=clean_env())  # fmt: skip

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(chunk, range(chunks)))
    chunked = time.perf_counter() - start

    # the same chunk function in 2 processes that are already running, the model loaded:
    # the cost of chunking itself, without each job's interpreter start-up
    import multiprocessing

    jobs = [(str(work / "features.npy"), i, chunks, str(work / "pool" / f"{i}.npz"))
            for i in range(chunks)]  # fmt: skip
    with multiprocessing.get_context("fork").Pool(
        2, initializer=_load_in_worker, initargs=(str(registry.root),)
    ) as pool:
        pool.map(_chunk_in_worker, jobs[:2], chunksize=1)  # both workers up and loaded
        start = time.perf_counter()
        pool.map(_chunk_in_worker, jobs, chunksize=1)
        pooled = time.perf_counter() - start
    # score-gather as the score rule runs it (a whole stage command), for each format
    receipt = work / "dataset.json"  # what score_features and score read of a data set
    receipt.write_text(json.dumps(dataset))
    gathered = {}
    for fmt in ("csv", "parquet"):
        start = time.perf_counter()
        subprocess.run([*stage, "score-gather", "--chunks", *map(str, outputs),
                        "--dataset", str(receipt), "--format", fmt,
                        "--out", str(work / f"predictions.{fmt}")],
                       check=True, env=clean_env(), capture_output=True)  # fmt: skip
        gathered[fmt] = time.perf_counter() - start
    parts = [np.load(path)["predictions"] for path in outputs]
    assert np.array_equal(np.concatenate(parts), expected)

    # what every stage command pays before its first row: the interpreter, the imports
    # that unpickling the forest needs, and the model's check and load (a 1-row chunk)
    def command_s(command: list[str]) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(command, check=True, env=clean_env(), capture_output=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    fixed = {
        "interpreter_s": command_s([sys.executable, "-c", "pass"]),
        "import_sklearn_ensemble_s": command_s(
            [sys.executable, "-c", "import joblib, sklearn.ensemble"]
        ),
        "one_row_chunk_command_s": command_s(
            [*stage, "score-chunk", "--features", str(work / "features.npy"),
             "--model", "forest:1", "--chunk", "0", "--chunks", str(rows),
             "--method", "predict", "--registry", str(registry.root),
             "--out", str(work / "one-row.npz")]
        ),
    }  # fmt: skip
    rounds = -(-chunks // 2)  # 2 commands at a time
    floor = rounds * fixed["one_row_chunk_command_s"] + pooled
    return {
        "rows": rows,
        "chunks": chunks,
        "one_predict_s": round(one_predict, 3),
        "chunk_stages_s": round(chunked, 3),
        "chunks_in_running_workers_s": round(pooled, 3),
        "ratio_running_workers": round(pooled / one_predict, 3),
        "gather_csv_s": round(gathered["csv"], 3),
        "gather_parquet_s": round(gathered["parquet"], 3),
        "ratio_chunks": round(chunked / one_predict, 3),
        "ratio_chunks_and_gather": round((chunked + gathered["csv"]) / one_predict, 3),
        **{key: round(value, 3) for key, value in fixed.items()},
        "stage_floor_s": round(floor, 3),
        "ratio_stage_floor": round(floor / one_predict, 3),
    }


def markdown(report: dict[str, Any]) -> str:
    requests, bulk = report["requests"], report["bulk"]
    ours, theirs = requests["snakeyard"], requests["mlflow"]
    machine = report["machine"]

    def line(name: str, f: dict[str, Any]) -> str:
        return (f"| {name} | {f['p50_ms']} | {f['p99_ms']} | {f['requests_per_s']} | "
                f"{f['requests']} ({f['errors']} errors) | {f['startup_s']} |")  # fmt: skip

    return "\n".join([
        f"Single-row requests, {report['clients']} clients for {report['seconds']} s each:",
        "",
        "| server | p50 ms | p99 ms | requests/s | requests | start-up s |",
        "|---|---|---|---|---|---|",
        line("snakeyard models serve", ours),
        line("mlflow models serve", theirs),
        "",
        f"snakeyard / MLflow: p50 {requests['ratio']['p50']}, "
        f"throughput {requests['ratio']['throughput']}.",
        "",
        f"Bulk scoring, {bulk['rows']:,} rows, random forest of 50 trees:",
        "",
        "| figure | seconds |",
        "|---|---|",
        f"| one predict call (in memory) | {bulk['one_predict_s']} |",
        f"| {bulk['chunks']} score-chunk stage commands, 2 at a time | {bulk['chunk_stages_s']} |",
        f"| the {bulk['chunks']} chunks in 2 running workers (no start-up) | "
        f"{bulk['chunks_in_running_workers_s']} |",
        f"| ratio running workers / one predict | {bulk['ratio_running_workers']} |",
        f"| score-gather command, CSV | {bulk['gather_csv_s']} |",
        f"| score-gather command, Parquet | {bulk['gather_parquet_s']} |",
        f"| ratio chunk commands / one predict | {bulk['ratio_chunks']} |",
        f"| ratio chunk commands + gather (CSV) / one predict | "
        f"{bulk['ratio_chunks_and_gather']} |",
        "",
        "Fixed cost of one stage command (median of 3), paid by every chunk job:",
        "",
        "| command | seconds |",
        "|---|---|",
        f"| `python -c pass` (the interpreter) | {bulk['interpreter_s']} |",
        f"| `python -c 'import joblib, sklearn.ensemble'` (what unpickling the forest "
        f"imports) | {bulk['import_sklearn_ensemble_s']} |",
        f"| score-chunk of 1 row (interpreter + imports + model check and load) | "
        f"{bulk['one_row_chunk_command_s']} |",
        f"| floor of the chunk commands on 2 free cores: {-(-bulk['chunks'] // 2)} rounds "
        f"(2 commands side by side) x the 1-row command, + the chunks in running workers | "
        f"{bulk['stage_floor_s']} |",
        f"| ratio floor / one predict | {bulk['ratio_stage_floor']} |",
        "",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, load average "
        f"{machine['load_start']} at start, {machine['load_end']} at end (shared machine).",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per server, 100,000 rows")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per server (10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--rows", type=int, default=None, help="rows scored in bulk (1,000,000)")
    parser.add_argument("--chunks", type=int, default=8, help="chunks of the bulk scoring (8)")
    parser.add_argument("--out", default=str(RESULTS), help="folder for the figures")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    sys.path.insert(0, str(REPO / "src"))
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="snakeyard-bench-serving-"))
    try:
        report = {
            "clients": args.clients,
            "seconds": seconds,
            "requests": request_figures(work, args.clients, seconds),
            "bulk": bulk_figures(work, rows, args.chunks),
        }
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_start": [round(x, 2) for x in load_start],
        "load_end": [round(x, 2) for x in os.getloadavg()],
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "serving.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (out / "serving.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
