"""The commands the workflow's rules run: ``python -m snakeyard.stages STAGE ...``.

Each stage reads the files named on its command line, does its one job through the
package API, writes its output files, and appends what it did to ``--log``. A user
mistake or a failed training script ends the stage with one line on stderr (also in
the log) and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import SnakeyardError
from .files import read_json, write_json_atomic, write_text_atomic


class StageLog:
    """Appends timestamped lines to a stage's log file."""

    def __init__(self, path: str | None):
        self.path = Path(path) if path else None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("", encoding="utf-8")

    def __call__(self, message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {message.rstrip()}\n"
        if self.path:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
        else:
            sys.stdout.write(line)


def _source(text: str) -> str | list:
    """A ``--source`` word: a source string, or a list of downloads as JSON."""
    return json.loads(text) if text.startswith("[") else text


def fetch(args: argparse.Namespace, log: StageLog) -> None:
    from .data.download import DownloadOptions
    from .data.sources import describe_source
    from .data.sources import fetch as fetch_source

    spec = json.loads(args.spec) if args.spec else {}
    source = _source(args.source)
    manifest = fetch_source(
        source,
        Path(args.files),
        Path(args.manifest),
        args.name,
        data_format=spec.get("format") or "files",
        label_column=spec.get("label_column"),
        options=DownloadOptions(**(spec.get("download") or {})),
        log=log,
    )
    size = sum(entry["bytes"] for entry in manifest)
    log(
        f"fetched {describe_source(source)} as data set {args.name!r}: "
        f"{len(manifest)} files, {size} bytes"
    )


def upload(args: argparse.Namespace, log: StageLog) -> None:
    from .data.sources import describe_source
    from .registry.registry import Registry

    registry = Registry(args.registry, args.datastore)
    fetched = read_json(args.manifest)
    meta = registry.upload_dataset(
        args.name,
        Path(args.files),
        fetched["files"],
        args.description or "",
        origin=describe_source(_source(args.origin)) if args.origin else None,
        data_format=fetched.get("format") or "files",
        schema=fetched.get("schema"),
    )
    log(f"data set {args.name!r} {outcome(meta)} (content {meta['content_hash'][:12]})")
    log(f"datastore {meta['location']}: {meta['report'].summary()}")
    keys = ("name", "version", "content_hash", "location", "format", "new")
    _receipt(args.out, meta, keys, registry)


def lock(args: argparse.Namespace, log: StageLog) -> None:
    from .environments.specs import CURRENT, pin, record_current
    from .registry.registry import Registry

    registry = Registry(args.registry)
    if args.name == CURRENT:
        pinned = record_current(log)
    else:
        pinned = pin(
            Path(args.spec_file),
            log,
            json.loads(args.platforms),
            json.loads(args.channels) if args.channels else None,
        )
    meta = registry.register_environment(args.name, spec_file=args.spec_file, **pinned)
    log(f"environment {args.name!r} ({meta['method']}) {outcome(meta)}")
    _receipt(args.out, meta, ("name", "version", "method", "content_hash", "new"), registry)


def train(args: argparse.Namespace, log: StageLog) -> None:
    from .environments.specs import METHOD_RECORDED, activate
    from .registry.registry import Registry
    from .training.runner import execute

    spec = json.loads(args.spec)
    registry = Registry(args.registry)
    environment = read_json(args.environment)
    # a recorded interpreter needs nothing from the registry to train with
    meta = environment
    if environment["method"] != METHOD_RECORDED:
        meta = registry.get_environment(environment["name"], environment["version"])
    python, packages = activate(meta, log, conda_active=args.conda_active == "yes")
    log(f"environment {environment['name']}:{environment['version']}: training with {python}")
    record = execute(
        registry,
        experiment=args.experiment,
        source_directory=Path(spec["source_directory"]),
        script=spec["script"],
        arguments=spec["arguments"],
        dataset=local_dataset(registry, read_json(args.dataset), log),
        environment=environment,
        data_argument=spec["data_argument"] or None,
        python=python,
        packages=packages,
        log=log,
        trial=spec.get("trial"),
    )
    write_json_atomic(args.out, record)


def local_dataset(registry: Any, receipt: dict[str, Any], log: StageLog) -> dict[str, Any]:
    """The receipt with ``location`` set to what the script gets: a local folder or file.

    A version in an object store is materialised into this node's cache first; a
    tabular data set is handed over as the path of its CSV file.
    """
    if not receipt["location"].startswith("s3://") and receipt.get("format") != "tabular":
        return receipt  # a folder the script gets as it is
    from .data.datastore import local_folder

    meta = registry.get_dataset(receipt["name"], receipt["version"])
    location = local_folder(meta, registry.root, log=log)
    if meta.get("format") == "tabular":
        location = location / meta["schema"]["file"]
    return {**receipt, "location": str(location)}


def train_or_trial(args: argparse.Namespace, log: StageLog) -> None:
    """Train; a sweep trial's failure is recorded as its output instead of failing the job."""
    from .training.runner import RunFailed

    try:
        train(args, log)
    except RunFailed as failure:
        trial = json.loads(args.spec).get("trial")
        if trial is None:
            raise
        # one failed trial must not stop its sweep: the sweep stage leaves it out of the
        # choice of the best run and reports it
        log(f"trial {trial['id']}: {failure}")
        print(f"snakeyard train: trial {trial['id']} failed: {failure}", file=sys.stderr)
        write_json_atomic(args.out, failure.record)


def collect(args: argparse.Namespace, log: StageLog) -> None:
    record = read_json(args.run)
    outputs = Path(record["folder"]) / "work" / "outputs"
    target = Path(args.outputs)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(outputs, target)
    rows = ["metric\tvalue"] + [
        f"{name}\t{json.dumps(value) if isinstance(value, (list, dict)) else value}"
        for name, value in sorted(record["metrics"].items())
    ]
    write_text_atomic(args.metrics, "\n".join(rows) + "\n")
    outputs, metrics = len(record["outputs"]), len(record["metrics"])
    log(f"run {record['id']}: {outputs} output file(s) and {metrics} metric(s) collected")


def register(args: argparse.Namespace, log: StageLog) -> None:
    from .registry.registry import Registry

    registry = Registry(args.registry)
    record = read_json(args.run)
    model = json.loads(args.model)
    artifact = Path(record["folder"]) / "work" / model["path"]
    if not artifact.exists():
        found = ", ".join(o["path"] for o in record["outputs"]) or "nothing"
        raise SnakeyardError(
            f"experiment {record['experiment']!r}: model.path {model['path']!r} is not in the "
            f"outputs of run {record['id']} (outputs/ holds: {found})"
        )
    environment = read_json(args.environment)
    packages = registry.get_environment(environment["name"], environment["version"])["packages"]
    meta = registry.register_model(
        model["name"],
        artifact,
        framework=model["framework"],
        framework_version=model["framework_version"] or packages.get(model["framework"].lower()),
        description=model["description"],
        tags=model["tags"],
        resource_configuration=model["resource_configuration"],
        run_id=record["id"],
        experiment=record["experiment"],
        dataset=record["dataset"],
        environment={"name": environment["name"], "version": environment["version"]},
        metrics=record["metrics"],
    )
    log(f"model {model['name']!r} from run {record['id']} {outcome(meta)}")
    _receipt(args.out, meta, ("name", "version", "content_hash", "run_id", "new"), registry)


def sweep(args: argparse.Namespace, log: StageLog) -> None:
    from .sweeps.ranking import choose_best, tsv

    records = [read_json(path) for path in args.trials]
    summary, rows, best = choose_best(args.experiment, records, args.metric, args.goal, log)
    write_text_atomic(args.table, tsv(rows))
    write_json_atomic(args.summary, summary)
    write_json_atomic(args.out, best)


def sweep_report(args: argparse.Namespace, log: StageLog) -> None:
    from .sweeps.report import draw_report

    draw_report(
        read_json(args.summary), read_json(args.run), read_json(args.model),
        table=Path(args.table), plot=Path(args.plot), confusion=Path(args.confusion),
        metrics=Path(args.metrics),
        log=log,
    )  # fmt: skip


def outcome(meta: dict[str, Any]) -> str:
    """How a registration went, for the log: a new version or the one already there."""
    if meta["new"]:
        return f"registered as new version {meta['version']}"
    return f"unchanged; already registered as version {meta['version']}"


def _receipt(path: str, meta: dict[str, Any], keys: tuple[str, ...], registry: Any) -> None:
    write_json_atomic(path, {**{k: meta[k] for k in keys}, "registry": str(registry.root)})


STAGES: dict[str, tuple[Callable[[argparse.Namespace, StageLog], None], list[str]]] = {
    "fetch": (fetch, ["name", "source", "files", "manifest"]),
    "upload": (upload, ["name", "files", "manifest", "registry", "out"]),
    "lock": (lock, ["name", "spec-file", "platforms", "registry", "out"]),
    "train": (train_or_trial, ["experiment", "spec", "dataset", "environment", "registry", "out"]),
    "collect": (collect, ["run", "outputs", "metrics"]),
    "register": (register, ["run", "environment", "model", "registry", "out"]),
    "sweep": (sweep, ["experiment", "trials", "metric", "goal", "table", "summary", "out"]),
    "sweep-report": (
        sweep_report, ["summary", "run", "model", "table", "plot", "confusion", "metrics"]
    ),
}
# options that take one or more values
LISTS = {"trials"}
OPTIONAL = {
    "fetch": ["spec"],
    "upload": ["description", "datastore", "origin"],
    "lock": ["channels"],
    "train": ["conda-active"],
}


def parser() -> argparse.ArgumentParser:
    """The command line of the stages, one sub-command each."""
    top = argparse.ArgumentParser(prog="python -m snakeyard.stages", description=__doc__)
    commands = top.add_subparsers(dest="stage", required=True)
    for stage, (function, required) in STAGES.items():
        command = commands.add_parser(stage, help=function.__doc__)
        for option in required:
            command.add_argument(
                f"--{option}", required=True, nargs="+" if option in LISTS else None
            )
        for option in OPTIONAL.get(stage, []):
            command.add_argument(f"--{option}", default=None)
        command.add_argument("--log", default=None, help="file that receives the stage's log")
    return top


def main(argv: list[str] | None = None) -> int:
    """Run one stage; return the process exit code."""
    args = parser().parse_args(argv)
    log = StageLog(args.log)
    function = STAGES[args.stage][0]
    try:
        function(args, log)
    except SnakeyardError as error:
        log(f"error: {error}")
        print(f"snakeyard {args.stage}: error: {error}", file=sys.stderr)
        return 1
    return 0


def exit_now(code: int) -> None:
    """Exit with ``code``; skip interpreter finalisation once py-rattler was used.

    py-rattler's worker threads sometimes race the interpreter's shutdown and abort it
    (exit code 134) after all work is done. Every file a stage writes is complete and
    closed before this point, so ending the process at once loses nothing.
    """
    if "rattler" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    exit_now(main())
