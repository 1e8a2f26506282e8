"""Core benchmarks of snakeyard: the registry at scale, the train job, the whole pipeline.

Run from the repository root::

    python benchmarks/core.py            # full size, a few minutes on 2 cores
    python benchmarks/core.py --quick    # small sizes, a smoke check

Figures go to ``benchmarks/results/core.json`` and ``benchmarks/results/core.md`` and
are printed at the end. Everything runs in temporary folders; the repository's own
``registry/`` and ``results/`` are never touched. Nothing here asserts on time: it
only measures. See ``benchmarks/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SNAKEFILE = REPO / "Snakefile"
CONFIG = REPO / "config" / "config.yaml"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
RESULTS = REPO / "benchmarks" / "results"

EXPERIMENT = "sklearn-iris"  # the default experiment of config/config.yaml
MODEL_NAME = "bench-model"

# aims of the registry against MLflow's sqlite registry measured in the same run
AIM_LIST_VS_MLFLOW = 0.1
AIM_REGISTER_VS_MLFLOW = 0.2
AIM_TRAIN_RATIO = 1.15
AIM_PIPELINE_RATIO = 1.5

FULL = {
    "versions": 10_000,  # versions of one model in the registry
    "api_repeats": 50,  # register one more / resolve latest
    "list_repeats": 5,  # list all versions
    "train_repeats": 5,  # forced train job, stage alone, direct script
    "pipeline_repeats": 3,  # clean pipeline + no-op snakemake + direct script
}
QUICK = {
    "versions": 300,
    "api_repeats": 10,
    "list_repeats": 2,
    "train_repeats": 2,
    "pipeline_repeats": 1,
}

NOOP_SNAKEFILE = """\
rule done:
    output:
        "done.txt",
    shell:
        "touch {output}"
"""


# ------------------------------------------------------------------- measuring
def summary(samples: list[float]) -> dict[str, Any]:
    """Median, min, max and count of timings in seconds, plus the samples themselves."""
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "n": len(samples),
        "samples_s": [round(s, 6) for s in samples],
    }


def time_calls(function: Callable[[int], Any], repeats: int) -> list[float]:
    """Wall time of ``function(i)`` for i in 0..repeats-1, one sample per call."""
    samples = []
    for i in range(repeats):
        start = time.perf_counter()
        function(i)
        samples.append(time.perf_counter() - start)
    return samples


def clean_env() -> dict[str, str]:
    """This process's environment without SNAKEYARD_* variables (registry, run context)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SNAKEYARD_")}


def run(command: list[str], cwd: Path) -> float:
    """Run a command to completion in ``cwd``; return its wall time. Fail loudly on error."""
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        tail = done.stdout.decode(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(command)} failed in {cwd} (exit {done.returncode}):\n{tail}")
    return elapsed


def snakemake_executable() -> str:
    """The ``snakemake`` on PATH."""
    found = shutil.which("snakemake")
    if not found:
        sys.exit("benchmarks/core.py: no 'snakemake' on PATH")
    return found


def tool_version(command: list[str]) -> str:
    """First line of a ``--version`` output, or '?'."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        return (done.stdout or done.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


# -------------------------------------------------------- 1. registry at scale
def write_artifact(path: Path, i: int, size: int = 100) -> None:
    """A tiny file whose bytes differ for every ``i`` (so every version is new content)."""
    stamp = f"artifact {i:012d} ".encode()
    path.write_bytes((stamp * (size // len(stamp) + 1))[:size])


def fill_registry(registry: Any, artifact: Path, versions: int) -> float:
    """Register ``versions`` versions of one model through the API; return the time taken."""
    start = time.perf_counter()
    for i in range(versions):
        write_artifact(artifact, i)
        registry.register_model(MODEL_NAME, artifact, framework="scikit-learn")
    return time.perf_counter() - start


class MlflowRegistry:
    """MLflow's model registry on a sqlite file: the peer every registry ratio divides by.

    Needs the ``benchmark`` extra (``pip install 'snakeyard[benchmark]'``). Filling it
    with thousands of versions through the client takes minutes, so all but the first
    version are SQL copies of the one the client made (the fill is not measured); every
    measured call goes through ``MlflowClient``.
    """

    def __init__(self, workdir: Path):
        try:
            from mlflow import MlflowClient
        except ImportError:
            sys.exit("benchmarks/core.py: MLflow is needed: pip install 'snakeyard[benchmark]'")
        self.db = workdir / "mlflow.db"
        uri = f"sqlite:///{self.db}"
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.sources = workdir / "mlflow-artifacts"
        self.sources.mkdir()
        self.client.create_registered_model(MODEL_NAME)

    def fill(self, versions: int) -> float:
        import sqlite3

        start = time.perf_counter()
        self.register(0)
        with sqlite3.connect(self.db) as db:
            columns = [row[1] for row in db.execute("PRAGMA table_info(model_versions)")]
            copied = ", ".join("? " if c == "version" else c for c in columns)
            db.executemany(
                f"INSERT INTO model_versions ({', '.join(columns)}) SELECT {copied} "
                "FROM model_versions WHERE name = ? AND version = 1",
                [(v, MODEL_NAME) for v in range(2, versions + 1)],
            )
        return time.perf_counter() - start

    def register(self, i: int) -> None:
        self.client.create_model_version(MODEL_NAME, source=str(self.sources / f"v{i}"))

    def latest(self) -> Any:
        return self.client.search_model_versions(
            f"name='{MODEL_NAME}'", order_by=["version_number DESC"], max_results=1
        )[0]

    def list_all(self) -> list[Any]:
        return self.client.search_model_versions(f"name='{MODEL_NAME}'", max_results=200_000)


def fsync_floor(workdir: Path) -> Callable[[int], None]:
    """The flushes alone of publishing a one-file version, as ``VersionStore.publish``
    issues them (its metadata, its file, its folder and ``artifacts/`` at once, on
    threads started once, then the rename and the name's folder), on files written just
    before: the least a durable registration costs on this disk, whatever the code
    around it."""
    from concurrent.futures import ThreadPoolExecutor

    base = workdir / "fsync-floor"
    base.mkdir()
    pool = ThreadPoolExecutor(3)  # kept, as snakeyard keeps its fsync threads

    def flush(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def publish(i: int) -> None:
        folder = workdir / f"floor-tmp-{i}"
        (folder / "artifacts").mkdir(parents=True)
        (folder / "model.json").write_text("x" * 700)
        write_artifact(folder / "artifacts" / "model.bin", i)
        start = time.perf_counter()
        paths = [folder / "model.json", folder / "artifacts" / "model.bin", folder,
                 folder / "artifacts"]  # fmt: skip
        pending = [pool.submit(flush, path) for path in paths[:-1]]
        flush(paths[-1])  # the fourth on this thread, as publish does
        for done in pending:
            done.result()
        os.rename(folder, base / str(i))
        flush(base)
        floor.append(time.perf_counter() - start)

    floor: list[float] = []
    publish.samples = floor  # type: ignore[attr-defined]
    return publish


def interleaved(pairs: dict[str, Callable[[int], Any]], repeats: int) -> dict[str, list[float]]:
    """Time each function ``repeats`` times, round after round, in turn (the order turned
    each round), so that both tools meet the same machine load."""
    samples: dict[str, list[float]] = {name: [] for name in pairs}
    for i in range(repeats):
        names = list(pairs) if i % 2 == 0 else list(reversed(pairs))
        for name in names:
            start = time.perf_counter()
            pairs[name](i)
            samples[name].append(time.perf_counter() - start)
    return samples


def registry_figures(workdir: Path, sizes: dict[str, int]) -> dict[str, Any]:
    """Fill snakeyard's registry and MLflow's with as many versions of one model, then
    time register one more (with every fsync), resolve latest, list all: the two tools
    interleaved, with the load printed for each phase."""
    from snakeyard.registry.registry import Registry

    registry = Registry(workdir / "registry")
    mlflow = MlflowRegistry(workdir)
    artifact = workdir / "model.bin"
    versions = sizes["versions"]
    print(f"[registry] filling both with {versions} versions of one model ...", flush=True)
    fill_seconds = fill_registry(registry, artifact, versions)
    mlflow_fill = mlflow.fill(versions)
    assert registry.models.latest(MODEL_NAME) == versions, "fill did not publish every version"
    assert int(mlflow.latest().version) == versions, "MLflow's fill did not make every version"
    loads = {"after_fill": os.getloadavg()}

    repeats = sizes["api_repeats"]
    # each registration's model file written beforehand, each new (same name, own
    # folder): the timed call is the registration alone, as MLflow's is. Rewriting one
    # file in place inside the timed call made ext4 write its old blocks back first
    # (auto_da_alloc), milliseconds that belong to the job writing the model
    sources = [workdir / "sources" / str(i) / artifact.name for i in range(repeats)]
    for i, source in enumerate(sources):
        source.parent.mkdir(parents=True)
        write_artifact(source, versions + i)

    def register_one(i: int) -> None:
        meta = registry.register_model(MODEL_NAME, sources[i], framework="scikit-learn")
        assert meta["new"], "a benchmark registration returned an existing version"

    print(f"[registry] register one more / resolve latest, {repeats} rounds ...", flush=True)
    floor = fsync_floor(workdir)
    register = interleaved({
        "snakeyard": register_one, "mlflow": lambda i: mlflow.register(versions + i),
        "floor": floor,
    }, repeats)  # fmt: skip
    loads["after_register"] = os.getloadavg()
    latest = interleaved({
        "get_model": lambda _: registry.get_model(MODEL_NAME),
        "models_latest": lambda _: registry.models.latest(MODEL_NAME),
        "mlflow": lambda _: mlflow.latest(),
    }, repeats)  # fmt: skip
    loads["after_latest"] = os.getloadavg()
    print(f"[registry] list all versions, {sizes['list_repeats']} rounds ...", flush=True)
    registry.model_versions(MODEL_NAME)  # the first listing after a fill writes the index
    listed = interleaved({
        "snakeyard": lambda _: registry.model_versions(MODEL_NAME),
        "mlflow": lambda _: mlflow.list_all(),
    }, sizes["list_repeats"])  # fmt: skip
    loads["after_list"] = os.getloadavg()
    for when, average in loads.items():
        print(f"[registry] load {when}: {load(average)}", flush=True)
    return {
        "versions_filled": versions,
        "artifact_bytes": artifact.stat().st_size,
        "fill": {
            "total_s": fill_seconds,
            "per_version_s": fill_seconds / versions,
            "method": "register_model in a loop, one process",
            "mlflow_total_s": mlflow_fill,
        },
        "register_one_more": summary(register["snakeyard"]),
        # the flushes alone (writing the files not counted): 1a cannot go below this
        "register_fsync_floor": summary(floor.samples),
        "get_model_latest": summary(latest["get_model"]),
        "models_latest": summary(latest["models_latest"]),
        "model_versions_list": summary(listed["snakeyard"]),
        "mlflow": {
            "register_one_more": summary(register["mlflow"]),
            "latest": summary(latest["mlflow"]),
            "list": summary(listed["mlflow"]),
        },
        "load_average": loads,
        "versions_at_end": registry.models.latest(MODEL_NAME),
    }


def registry_ratios(figures: dict[str, Any]) -> dict[str, float]:
    """Our medians divided by MLflow's, measured in the same run (below 1: we are faster)."""
    peer = {key: value["median_s"] for key, value in figures["mlflow"].items()}
    return {
        "register": figures["register_one_more"]["median_s"] / peer["register_one_more"],
        "latest_get_model": figures["get_model_latest"]["median_s"] / peer["latest"],
        "latest_models_latest": figures["models_latest"]["median_s"] / peer["latest"],
        "list": figures["model_versions_list"]["median_s"] / peer["list"],
    }


# ------------------------------------------------------------------ workflows
def new_workdir(parent: Path, label: str) -> tuple[Path, Path]:
    """A fresh working folder holding a copy of the default config; return both paths."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=parent))
    configfile = workdir / "config.yaml"
    shutil.copyfile(CONFIG, configfile)
    return workdir, configfile


def snakemake_command(configfile: Path, *extra: str) -> list[str]:
    """``snakemake --cores 2`` of snakeyard's Snakefile with the given config copy."""
    return [
        snakemake_executable(), "--cores", "2", "-s", str(SNAKEFILE),
        "--configfile", str(configfile), *extra,
    ]  # fmt: skip


def train_benchmark_seconds(workdir: Path) -> float:
    """The ``s`` column (wall seconds) of the train rule's benchmark file."""
    lines = (workdir / "results" / EXPERIMENT / "train.benchmark.tsv").read_text().splitlines()
    header, values = lines[0].split("\t"), lines[-1].split("\t")
    return float(values[header.index("s")])


def resolved_config(workdir: Path, configfile: Path) -> dict[str, Any]:
    """The config copy, checked and with paths resolved, as the workflow's rules see it."""
    import yaml

    from snakeyard import config as snakeyard_config

    config = yaml.safe_load(configfile.read_text(encoding="utf-8"))
    snakeyard_config.validate(config, SCHEMA)
    return snakeyard_config.resolve(config, workdir, REPO)


def train_stage_command(workdir: Path, configfile: Path) -> list[str]:
    """The command the train rule runs (see workflow/rules/training.smk), output elsewhere."""
    resolved = resolved_config(workdir, configfile)
    experiment = resolved["experiments"][EXPERIMENT]
    keys = ("source_directory", "script", "arguments", "data_argument")
    spec = json.dumps({key: experiment[key] for key in keys}, sort_keys=True)
    (workdir / "bench-stage").mkdir(exist_ok=True)
    return [
        sys.executable, "-m", "snakeyard.stages", "train",
        "--experiment", EXPERIMENT, "--spec", spec,
        "--dataset", f"results/datasets/{experiment['dataset']}.json",
        "--environment", f"results/environments/{experiment['environment']}.json",
        "--registry", resolved["registry"],
        "--out", "bench-stage/run.json", "--log", "bench-stage/train.log",
    ]  # fmt: skip


def direct_script_command(workdir: Path, configfile: Path) -> list[str]:
    """``python train.py --kernel linear --penalty 1.0 --data-folder <datastore copy>``.

    The data folder is the iris data set's folder in the datastore, as the upload
    stage's receipt names it.
    """
    experiment = resolved_config(workdir, configfile)["experiments"][EXPERIMENT]
    receipt_path = workdir / "results" / "datasets" / f"{experiment['dataset']}.json"
    location = json.loads(receipt_path.read_text(encoding="utf-8"))["location"]
    script = Path(experiment["source_directory"]) / experiment["script"]
    arguments = [w for k, v in experiment["arguments"].items() for w in (f"--{k}", str(v))]
    return [sys.executable, str(script), *arguments, experiment["data_argument"], location]


def train_figures(parent: Path, sizes: dict[str, int]) -> dict[str, Any]:
    """The train job under Snakemake (forced again and again) vs the script run directly.

    The three measurements are interleaved, one of each per round, so that a change
    of machine load during the benchmark affects all of them alike.
    """
    workdir, configfile = new_workdir(parent, "train")
    print(f"[train] first full pipeline in {workdir} ...", flush=True)
    first = run(snakemake_command(configfile), workdir)
    forced = snakemake_command(configfile, "--forcerun", "train", "--until", "train")
    stage = train_stage_command(workdir, configfile)
    direct = direct_script_command(workdir, configfile)

    repeats = sizes["train_repeats"]
    print(
        f"[train] {repeats} rounds of: forced train job, stage alone, direct script ...", flush=True
    )
    job, snakemake_wall, stage_wall, direct_wall = [], [], [], []
    for _ in range(repeats):
        snakemake_wall.append(run(forced, workdir))
        job.append(train_benchmark_seconds(workdir))
        stage_wall.append(run(stage, workdir))
        direct_wall.append(run(direct, Path(tempfile.mkdtemp(prefix="direct-", dir=parent))))

    job_s, stage_s, direct_s = summary(job), summary(stage_wall), summary(direct_wall)
    return {
        "first_pipeline_s": first,
        "train_job_benchmark": job_s,
        "snakemake_forcerun_train_wall": summary(snakemake_wall),
        "stage_command_alone": stage_s,
        "direct_script": direct_s,
        "direct_command": direct,
        "ratio_train_job_to_direct": job_s["median_s"] / direct_s["median_s"],
        "ratio_stage_to_direct": stage_s["median_s"] / direct_s["median_s"],
        "aim": AIM_TRAIN_RATIO,
    }


def noop_workdir(parent: Path) -> tuple[Path, list[str]]:
    """A folder with a one-rule Snakefile that is up to date, and the command to run it."""
    workdir = Path(tempfile.mkdtemp(prefix="noop-", dir=parent))
    (workdir / "Snakefile").write_text(NOOP_SNAKEFILE, encoding="utf-8")
    command = [snakemake_executable(), "--cores", "1", "-s", "Snakefile"]
    run(command, workdir)  # creates done.txt; every later call has nothing to do
    return workdir, command


def pipeline_figures(parent: Path, sizes: dict[str, int], direct: list[str]) -> dict[str, Any]:
    """The whole default pipeline from a clean folder vs a no-op Snakemake plus the script.

    Each round runs the pipeline in a fresh folder, then the no-op Snakemake, then the
    script directly (interleaved, like :func:`train_figures`).
    """
    rounds = sizes["pipeline_repeats"]
    print(
        f"[pipeline] {rounds} rounds of: clean pipeline, no-op snakemake, direct script ...",
        flush=True,
    )
    noop_dir, noop = noop_workdir(parent)
    walls, noops, directs = [], [], []
    for _ in range(rounds):
        workdir, configfile = new_workdir(parent, "pipeline")
        walls.append(run(snakemake_command(configfile), workdir))
        noops.append(run(noop, noop_dir))
        directs.append(run(direct, Path(tempfile.mkdtemp(prefix="direct-", dir=parent))))
    pipeline, noop_s, direct_s = summary(walls), summary(noops), summary(directs)
    baseline = noop_s["median_s"] + direct_s["median_s"]
    return {
        "pipeline_clean": pipeline,
        "snakemake_noop": noop_s,
        "direct_script": direct_s,
        "baseline_s": baseline,
        "ratio_pipeline_to_baseline": pipeline["median_s"] / baseline,
        "aim": AIM_PIPELINE_RATIO,
    }


# ------------------------------------------------------------------- reporting
def environment_info() -> dict[str, Any]:
    """Where and with what the figures were measured."""

    def git(*words: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO), *words], capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "snakemake": tool_version([snakemake_executable(), "--version"]),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "git_commit": commit or None,
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "load_average_start": os.getloadavg(),
    }


def load(average: Any) -> str:
    return ", ".join(f"{x:.2f}" for x in average) if average else "?"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def sec(seconds: float) -> str:
    return f"{seconds:.2f} s"


def table_row(*cells: str) -> str:
    """One row of a Markdown table."""
    return "| " + " | ".join(cells) + " |"


def report_heading(kind: str, report: dict[str, Any]) -> list[str]:
    """Title, where and with what it was measured, and the header of the figures table."""
    env = report["environment"]
    return [
        f"# snakeyard {kind} benchmarks{' (quick)' if report['quick'] else ''}",
        "",
        f"{env['date_utc']}, Python {env['python']}, Snakemake {env['snakemake']}, "
        f"{env['cpus']} CPUs, commit {env['git_commit']}"
        f"{' (with uncommitted changes)' if env.get('git_dirty') else ''}. "
        "Medians; ratio = ours / reference.",
        "",
        table_row("figure", "snakeyard", "reference", "ratio", "aim"),
        table_row("---", "---:", "---:", "---:", "---:"),
    ]


def markdown(report: dict[str, Any]) -> str:
    """The figures as a small human-readable table."""
    reg, train, pipe = report["registry"], report["train"], report["pipeline"]
    if train is None:  # --only registry: the other rows are left out by the caller
        train = {"direct_script": {"median_s": 0}, "train_job_benchmark": {"median_s": 0},
                 "ratio_train_job_to_direct": 0, "stage_command_alone": {"median_s": 0},
                 "ratio_stage_to_direct": 0, "snakemake_forcerun_train_wall": {"median_s": 0}}
        pipe = {"snakemake_noop": {"median_s": 0}, "direct_script": {"median_s": 0},
                "baseline_s": 0, "pipeline_clean": {"median_s": 0},
                "ratio_pipeline_to_baseline": 0}  # fmt: skip
    ratios = report["registry_ratios_vs_mlflow"]
    env = report["environment"]
    n = reg["versions_filled"]
    peer = reg["mlflow"]
    mlflow = {
        "register": f"MLflow {ms(peer['register_one_more']['median_s'])}",
        "latest": f"MLflow {ms(peer['latest']['median_s'])}",
        "list": f"MLflow {ms(peer['list']['median_s'])}",
    }
    direct = f"direct {sec(train['direct_script']['median_s'])}"
    baseline = (
        f"{sec(pipe['snakemake_noop']['median_s'])} + {sec(pipe['direct_script']['median_s'])}"
        f" = {sec(pipe['baseline_s'])}"
    )
    fill = f"{sec(reg['fill']['total_s'])} ({ms(reg['fill']['per_version_s'])} each)"
    floor = reg["register_fsync_floor"]["median_s"]
    rows = [
        *report_heading("core", report),
        table_row(f"1. fill registry with {n} versions (API loop)", fill, "", "", ""),
        table_row(
            f"1a. register one more version ({reg['artifact_bytes']} B artifact, with fsync)",
            ms(reg["register_one_more"]["median_s"]), mlflow["register"],
            f"{ratios['register']:.2f}", f"≤ {AIM_REGISTER_VS_MLFLOW}",
        ),
        table_row(
            "1a. its fsyncs alone (4 at once, rename, 1): the floor of 1a on this disk",
            ms(floor), mlflow["register"], f"{floor / peer['register_one_more']['median_s']:.2f}",
            "",
        ),
        table_row(
            "1b. latest: `registry.get_model(name)`",
            ms(reg["get_model_latest"]["median_s"]), mlflow["latest"],
            f"{ratios['latest_get_model']:.3f}", "",
        ),
        table_row(
            "1b. latest: `registry.models.latest(name)`",
            ms(reg["models_latest"]["median_s"]), mlflow["latest"],
            f"{ratios['latest_models_latest']:.3f}", "",
        ),
        table_row(
            f"1c. list all {n} versions: `model_versions(name)`",
            ms(reg["model_versions_list"]["median_s"]), mlflow["list"],
            f"{ratios['list']:.3f}", f"≤ {AIM_LIST_VS_MLFLOW}",
        ),
        table_row(
            "2. train job (benchmark `s`) vs direct script",
            sec(train["train_job_benchmark"]["median_s"]), direct,
            f"{train['ratio_train_job_to_direct']:.2f}", f"≤ {AIM_TRAIN_RATIO}",
        ),
        table_row(
            "2. `snakeyard.stages train` alone vs direct script",
            sec(train["stage_command_alone"]["median_s"]), direct,
            f"{train['ratio_stage_to_direct']:.2f}", "",
        ),
        table_row(
            "2. whole `snakemake --forcerun train --until train` call",
            sec(train["snakemake_forcerun_train_wall"]["median_s"]), "", "", "",
        ),
        table_row(
            "3. whole pipeline, clean folder vs no-op Snakemake + direct script",
            sec(pipe["pipeline_clean"]["median_s"]), baseline,
            f"{pipe['ratio_pipeline_to_baseline']:.2f}", f"≤ {AIM_PIPELINE_RATIO}",
        ),
        "",
        f"Whole benchmark run: {sec(report['total_s'])}. Load average (1, 5, 15 min) at start "
        f"{load(env['load_average_start'])}, at end {load(env.get('load_average_end'))}: "
        "a load above the CPU count means other work competed with the benchmark.",
        "",
    ]  # fmt: skip
    rows += [
        "MLflow 3 with a sqlite registry holding as many versions, measured in this run, "
        "interleaved round by round with snakeyard; load average after each phase: "
        + "; ".join(f"{k} {load(v)}" for k, v in reg["load_average"].items()),
        "",
    ]
    return "\n".join(rows)


def registry_markdown(report: dict[str, Any]) -> str:
    """The registry rows of :func:`markdown` alone (``--only registry``)."""
    rows = markdown({**report, "train": None, "pipeline": None}).splitlines()
    return "\n".join(row for row in rows if not row.startswith(("| 2.", "| 3."))) + "\n"


def write_report(
    report: dict[str, Any], out: Path, name: str = "core", render: Any = None
) -> None:
    """Write ``<name>.json`` and ``<name>.md`` (``render(report)``, this module's
    ``markdown`` by default) into ``out`` (created if missing), print the Markdown and
    say where both went."""
    text = (render or markdown)(report)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"wrote {out / f'{name}.json'} and {out / f'{name}.md'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"output folder (default {RESULTS})"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder and print it"
    )
    parser.add_argument(
        "--only", choices=["registry"], default=None, help="only the registry figures"
    )
    parser.add_argument("--versions", type=int, default=None, help="versions to fill with")
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    if args.versions:
        sizes["versions"] = args.versions

    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="snakeyard-bench-"))
    try:
        report: dict[str, Any] = {
            "quick": args.quick,
            "sizes": sizes,
            "environment": environment_info(),
        }
        report["registry"] = registry_figures(
            Path(tempfile.mkdtemp(prefix="registry-", dir=scratch)), sizes
        )
        report["registry_ratios_vs_mlflow"] = registry_ratios(report["registry"])
        if args.only != "registry":
            report["train"] = train_figures(scratch, sizes)
            direct = report["train"]["direct_command"]
            report["pipeline"] = pipeline_figures(scratch, sizes, direct)
        report["environment"]["load_average_end"] = os.getloadavg()
    finally:
        if args.keep:
            print(f"temporary files kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    report["total_s"] = time.perf_counter() - started
    write_report(report, args.out, "core-registry" if args.only else "core",
                 registry_markdown if args.only else None)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
