"""Every use snakeyard makes of a Snakemake name that Snakemake does not document.

Snakemake documents its Snakefile language, its command line, its Python API and, of the
``workflow`` object a Snakefile sees, ``workflow.cores`` and ``workflow.source_path``
(snakemake.readthedocs.io, checked against Snakemake 9.27). snakeyard needs a few more
of its names; each use is one function here, which the Snakefile and
``workflow/rules/common.smk`` call, and ``tests/test_snakemake_internals.py`` fails when
an installed Snakemake no longer has the name in the shape used here:

- ``workflow.config_settings.configfiles`` (:func:`configfiles_given`): whether
  ``--configfile`` was given, in which case the Snakefile loads no default
  configuration under it (``configfile:`` would merge the two).
- ``workflow.current_basedir`` (:func:`current_folder`): the folder of the file being
  parsed, from which snakeyard finds its own files also when used as a ``module``.
- ``workflow.main_snakefile`` (:func:`is_main_snakefile`): whether snakeyard's
  Snakefile is the one Snakemake runs, or a ``module`` (or ``include``) of another.
- ``workflow.deployment_settings.deployment_method`` (:func:`deployment_methods`):
  with ``--software-deployment-method conda`` a train job runs in the activated
  environment.
- ``workflow.resource_settings.default_resources``, ``snakemake.resources.Resources``
  (``from_mapping``, ``get``, then ``evaluate(...).value``), and the ``rulename`` and
  ``async_run`` arguments Snakemake passes to resource functions that name them
  (:func:`default_resource`, :func:`resource_function`): a train resource that the
  experiment leaves out comes from the profile's ``default-resources``. Snakemake
  applies those only to resources a rule does not define, and the train rule defines
  each of them (as a function of its experiment).
- ``workflow.global_resources`` and ``workflow.register_resource``
  (:func:`add_global_resource`): a sweep's ``max_concurrent_runs`` is a global resource
  limit, as ``--resources NAME=N`` would set, unless ``--resources`` sets it.
- ``snakemake.scheduling.job_scheduler.JobScheduler._schedule_reevalutation``
  (:func:`cancel_scheduler_wakeups`), see below.

Ending a run quickly
--------------------
Two waits follow a finished run that have nothing to do with the work, and cost about
a second per call, so they show on every short run and on each round of a sweep
(figures from ``benchmarks/sweeps.py``, Snakemake 9.27, Python 3.11):

- Snakemake caps job starts per timespan (``--max-jobs-per-timespan``, 100 per second
  by default). After each scheduling pass it starts a ``threading.Timer`` of one
  timespan to wake the scheduler again. The timer is not a daemon thread, so after the
  last job the interpreter waits for it: up to one second. The workflow's
  ``onsuccess``/``onerror`` hooks run once the scheduler has stopped, when nothing
  listens for those wake-ups any more, and cancel them.
- At exit, Python runs a last garbage collection over every object alive: in a
  Snakemake process (pandas, SQLAlchemy, the DAG) about a quarter of a second.
  Freezing the heap at exit (``gc.freeze``) skips it. Objects are still freed; only
  the cycle search over that heap is skipped, which Python never promises to finish
  at exit anyway.

Both change the process, not only snakeyard's jobs, so they apply only where snakeyard's
own Snakefile is the main one (:func:`is_main_snakefile`): a workflow that uses snakeyard
through ``module`` keeps Snakemake's behaviour. (Snakemake runs the ``onsuccess`` and
``onerror`` hooks of the main Snakefile only; a host that calls ``snakeyard.onsuccess()``
itself still gets nothing cancelled.)

What ``snakemake --lint`` still finds, on purpose
-------------------------------------------------
``.ci/run`` runs ``snakemake --lint`` and fails unless its findings are exactly
:data:`KEPT_LINTS` (Snakemake has no way to silence one, snakemake/snakemake#2085, and
``--lint json`` prints text in 9.27, so :func:`lint_findings` reads the text):

- "Specify a conda environment or container for each rule." for fetch, upload, lock,
  collect, register, trials_done (a ``touch``), sweep, sweep_wave, sweep_report,
  experiment_report, deploy, score_features, score_chunk and score. These stages are
  snakeyard's own code (``python -m snakeyard.stages``) and run with the interpreter
  that runs the workflow, whatever the job's environment; a conda environment or
  container of their own would have to hold snakeyard and would not be that
  interpreter. Only training runs the experiment's environment, and train (with trial)
  names it with ``conda:``.
"""

from __future__ import annotations

import atexit
import gc
import re
import sys
import threading
from pathlib import Path
from typing import Any

# --------------------------------------------------------------- the workflow object


def configfiles_given(workflow: Any) -> bool:
    """Whether ``--configfile`` named configuration files for this run."""
    return bool(workflow.config_settings.configfiles)


def current_folder(workflow: Any) -> Path:
    """The folder of the Snakefile (or included file) being parsed when called."""
    return Path(workflow.current_basedir)


def is_main_snakefile(workflow: Any, snakefile: str | Path) -> bool:
    """Whether ``snakefile`` is the main Snakefile of the workflow, the one Snakemake
    was asked to run, rather than one used as a ``module`` or included by it."""
    return Path(workflow.main_snakefile).resolve() == Path(snakefile).resolve()


def deployment_methods(workflow: Any) -> set[str]:
    """The ``--software-deployment-method`` values, lower case: ``conda``, ..."""
    return {method.name.lower() for method in workflow.deployment_settings.deployment_method}


def add_global_resource(workflow: Any, name: str, limit: int) -> None:
    """Limit the jobs' claims on resource ``name`` to ``limit`` at any time, as
    ``--resources name=limit`` does; a ``--resources`` value for ``name`` wins."""
    if name not in workflow.global_resources:
        workflow.register_resource(name, limit)


# ---------------------------------------------------------------------- resources


def default_resource(workflow: Any, name: str, wildcards: Any, **context: Any) -> Any:
    """What ``--default-resources`` (or a profile's ``default-resources``) gives resource
    ``name`` for a job, or None. ``context``: the arguments Snakemake passed to the
    resource function (input, attempt, threads, rulename, async_run)."""
    from snakemake.resources import Resources

    defaults = workflow.resource_settings.default_resources
    if defaults is None:
        return None
    if not isinstance(defaults, Resources):
        defaults = Resources.from_mapping(defaults)
    return defaults.get(name).evaluate(wildcards, **context).value


def resource_function(workflow: Any, name: str, configured, fallback: Any = None):
    """A function for a rule's ``resources:`` (or ``threads:``) entry ``name``:
    ``configured(wildcards)`` where that is not None, else the default-resources value
    (:func:`default_resource`), else ``fallback``."""

    # Snakemake passes only the arguments a resource function names; rulename and
    # async_run are there so that a default-resources expression sees what Snakemake
    # would give it
    def value(wildcards, input, attempt, threads=None, rulename=None, async_run=None):
        chosen = configured(wildcards)
        if chosen is not None:
            return chosen
        context = dict(input=input, attempt=attempt, rulename=rulename, async_run=async_run)
        if threads is not None:
            context["threads"] = threads
        default = default_resource(workflow, name, wildcards, **context)
        return fallback if default is None else default

    return value


# ------------------------------------------------------------- ending a run quickly

# the method that starts the timers, in snakemake/scheduling/job_scheduler.py
_WAKE_UP = "_schedule_reevalutation"

_final_collection_skipped = False


def cancel_scheduler_wakeups() -> int:
    """Cancel the scheduler's pending wake-up timers; return how many there were."""
    cancelled = 0
    for thread in threading.enumerate():
        function = getattr(thread, "function", None)
        if isinstance(thread, threading.Timer) and _WAKE_UP in getattr(
            function, "__qualname__", ""
        ):
            thread.cancel()
            cancelled += 1
    return cancelled


def skip_final_collection() -> None:
    """Freeze the heap at interpreter exit, so that no last full collection runs."""
    global _final_collection_skipped
    if not _final_collection_skipped:
        atexit.register(gc.freeze)
        _final_collection_skipped = True


def final_collection_skipped() -> bool:
    """Whether :func:`skip_final_collection` was called in this process."""
    return _final_collection_skipped


# ------------------------------------------------------------------- snakemake --lint

# the findings listed in the docstring, as (what, lint title); what: "rule NAME" or
# "snakefile PATH", as snakemake --lint names it
KEPT_LINTS = frozenset(
    (f"rule {rule}", "Specify a conda environment or container for each rule.")
    for rule in (
        "fetch", "upload", "lock", "collect", "register", "trials_done", "sweep", "sweep_wave",
        "sweep_report", "experiment_report",
        "deploy", "score_features", "score_chunk", "score",
    )  # fmt: skip
)

_LINTS_FOR = re.compile(r"^Lints for (rule \S+|snakefile .+?)(?: \(line \d+, .*\))?:$")
_LINT_TITLE = re.compile(r"^    \* (.+):$")


def lint_findings(text: str) -> set[tuple[str, str]]:
    """The findings in the text ``snakemake --lint`` prints, as (what, lint title)."""
    findings = set()
    what = None
    for line in text.splitlines():
        if heading := _LINTS_FOR.match(line):
            what = heading.group(1)
        elif what is not None and (title := _LINT_TITLE.match(line)):
            findings.add((what, title.group(1)))
        elif not line.strip():
            what = None
    return findings


def _check_lint(text: str) -> int:
    """Echo ``snakemake --lint``'s output; 0 if its findings are exactly KEPT_LINTS."""
    print(text, end="" if text.endswith("\n") else "\n")
    findings = lint_findings(text)
    if findings == KEPT_LINTS:
        print(f"snakemake --lint: only the {len(findings)} findings kept on purpose")
        return 0
    for what, title in sorted(findings - KEPT_LINTS):
        print(f"snakemake --lint: new finding for {what}: {title}")
    for what, title in sorted(KEPT_LINTS - findings):
        print(f"snakemake --lint: no longer found for {what}: {title}")
    print("(the findings kept on purpose: src/snakeyard/snakemake_internals.py)")
    return 1


if __name__ == "__main__":
    if sys.argv[1:] != ["check-lint"]:
        sys.exit(f"usage: snakemake --lint 2>&1 | python -m {__spec__.name} check-lint")
    sys.exit(_check_lint(sys.stdin.read()))
