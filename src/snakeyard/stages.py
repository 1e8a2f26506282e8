"""The commands the workflow's rules run: ``python -m snakeyard.stages STAGE ...``.

This module only turns a command line into a call: each stage is one function with
named, typed parameters in the subpackage of its rule file (``fetch`` and ``upload`` in
:mod:`snakeyard.data.stage`, ``lock`` in :mod:`snakeyard.environments.stage`, ``train``
and ``collect`` in :mod:`snakeyard.training.stage`, ``register`` in
:mod:`snakeyard.registry.stage`, ``sweep``, ``sweep-wave`` and ``sweep-report`` in
:mod:`snakeyard.sweeps.stage`, ``experiment-report`` in :mod:`snakeyard.reports.stage`,
``deploy`` and the ``score-*`` stages in :mod:`snakeyard.serving.stage`). Each reads the
files named on its command line, does
its one job, writes its output files, and appends what it did to ``--log``. A user
mistake or a failed training script ends the stage with one line on stderr (also in
the log) and exit code 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from .errors import SnakeyardError, describe_os_error


class StageLog:
    """Appends timestamped lines to a stage's log file (to stdout when it cannot);
    :meth:`say` also tells Snakemake's console."""

    def __init__(self, path: str | None, stage: str = "stage"):
        self.stage = stage
        self.path = Path(path) if path else None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("", encoding="utf-8")

    def __call__(self, message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {message.rstrip()}\n"
        if self.path:
            try:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(line)
                return
            except OSError:
                pass  # a full disk must not turn what the stage says into a traceback
        sys.stdout.write(line)

    def say(self, message: str) -> None:
        """Log ``message`` and print it on stderr as ``snakeyard <stage>: <message>``,
        which Snakemake's console shows under the job."""
        self(message)
        print(f"snakeyard {self.stage}: {message}", file=sys.stderr)


def _source(text: str) -> str | list:
    """A ``--source`` word: a source string, or a list of downloads as JSON."""
    return json.loads(text) if text.startswith("[") else text


def _json_or_none(text: str) -> Any:
    return json.loads(text) if text else None


def _text_or_none(text: str) -> str | None:
    return text or None


class Stage(NamedTuple):
    """One stage: where its function lives, and how each option's word becomes a value."""

    module: str  # imported on use, so that a stage loads only what it needs
    function: str
    required: dict[str, Callable[[str], Any]]
    optional: dict[str, tuple[Callable[[str], Any], Any]] = {}  # option: (convert, default)
    lists: frozenset[str] = frozenset()  # options that take one or more values
    # optional options that may also stand without a value (an empty input of the rule)
    bare: frozenset[str] = frozenset()


STAGES: dict[str, Stage] = {
    "fetch": Stage(
        "snakeyard.data.stage", "fetch",
        {"name": str, "source": _source, "files": Path, "manifest": Path},
        {"spec": (json.loads, {})},
    ),
    "upload": Stage(
        "snakeyard.data.stage", "upload",
        {"name": str, "files": Path, "manifest": Path, "registry": str, "out": Path},
        {"description": (str, ""), "datastore": (_text_or_none, None),
         "origin": (lambda text: _source(text) if text else None, None)},
    ),
    "lock": Stage(
        "snakeyard.environments.stage", "lock",
        {"name": str, "spec-file": str, "platforms": _json_or_none, "registry": str, "out": Path},
        {"channels": (_json_or_none, None)},
    ),
    "train": Stage(
        "snakeyard.training.stage", "train",
        {"experiment": str, "spec": json.loads, "environment": Path, "registry": str,
         "out": Path},
        {"conda-active": (lambda text: text == "yes", False), "dataset": (Path, None)},
        bare=frozenset({"dataset"}),  # an experiment without a data set
    ),
    "collect": Stage(
        "snakeyard.training.stage", "collect",
        {"run": Path, "outputs": Path, "metrics": Path},
    ),
    "register": Stage(
        "snakeyard.registry.stage", "register",
        {"run": Path, "environment": Path, "model": json.loads, "registry": str, "out": Path},
    ),
    "sweep": Stage(
        "snakeyard.sweeps.stage", "sweep",
        {"experiment": str, "trials": Path, "metric": str, "goal": str, "table": Path,
         "summary": Path, "out": Path},
        {"registry": (str, None)},
        lists=frozenset({"trials"}),
    ),
    "sweep-wave": Stage(
        "snakeyard.sweeps.stage", "sweep_wave",
        {"experiment": str, "wave": int, "count": int, "settings": json.loads, "study": Path,
         "out": Path},
        {"trials": (Path, [])},
        lists=frozenset({"trials"}),
    ),
    "sweep-report": Stage(
        "snakeyard.sweeps.stage", "sweep_report",
        {"summary": Path, "table": Path, "plot": Path},
        {"model": (Path, None)},
        bare=frozenset({"model"}),  # a sweep that registers no model (model: null)
    ),
    "experiment-report": Stage(
        "snakeyard.reports.stage", "experiment_report",
        {"run": Path, "metrics": Path, "curves": Path, "confusion": Path, "images": Path},
        {"model": (Path, None)},
        bare=frozenset({"model"}),  # an experiment that registers no model (model: null)
    ),
    "deploy": Stage(
        "snakeyard.serving.stage", "deploy",
        {"name": str, "model": str, "spec": json.loads, "registry": str, "bundle": Path,
         "out": Path},
    ),
    "score-features": Stage(
        "snakeyard.serving.stage", "score_features", {"dataset": Path, "out": Path},
    ),
    "score-chunk": Stage(
        "snakeyard.serving.stage", "score_chunk",
        {"features": Path, "model": str, "chunk": int, "chunks": int, "method": str,
         "registry": str, "out": Path},
    ),
    "score-gather": Stage(
        "snakeyard.serving.stage", "score_gather",
        {"chunks": Path, "dataset": Path, "format": str, "out": Path},
        lists=frozenset({"chunks"}),
    ),
}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    """The command line of the stages, one sub-command each."""
    top = argparse.ArgumentParser(prog="python -m snakeyard.stages", description=__doc__)
    commands = top.add_subparsers(dest="stage", required=True)
    for name, stage in STAGES.items():
        command = commands.add_parser(name, help=f"{stage.module}.{stage.function}")
        for option, convert in stage.required.items():
            many = "+" if option in stage.lists else None
            command.add_argument(f"--{option}", required=True, nargs=many, type=convert)
        for option, (convert, default) in stage.optional.items():
            bare = {"nargs": "?", "const": None} if option in stage.bare else {}
            many = {"nargs": "*"} if option in stage.lists else {}
            command.add_argument(f"--{option}", type=convert, default=default, **bare, **many)
        command.add_argument("--log", default=None, help="file that receives the stage's log")
    return top


def call(stage: Stage, args: argparse.Namespace, log: StageLog) -> Any:
    """Call the stage's function with the parsed options as named arguments."""
    function = getattr(importlib.import_module(stage.module), stage.function)
    options = [*stage.required, *stage.optional]
    return function(**{o.replace("-", "_"): getattr(args, o.replace("-", "_")) for o in options},
                    log=log)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run one stage; return the process exit code."""
    args = parser().parse_args(argv)
    log = StageLog(args.log, args.stage)
    try:
        call(STAGES[args.stage], args, log)
        return 0
    except SnakeyardError as error:
        message = str(error)
    except OSError as error:
        # a read-only registry or a full disk is the user's to fix, as a bad value is
        message = describe_os_error(error)
    log.say(f"error: {message}")
    return 1


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
