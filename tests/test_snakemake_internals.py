"""snakemake_internals: the undocumented Snakemake names snakeyard uses are still there, in
the shape it uses them; the scheduler's wake-up timers are cancelled, nothing else is
touched; and a workflow that uses snakeyard as a module keeps Snakemake's exit behaviour."""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import snakemake.api  # noqa: F401  (snakemake.workflow is importable only after it)
import yaml
from snakemake.iocontainers import Wildcards
from snakemake.resources import Resource, Resources
from snakemake.scheduling.job_scheduler import JobScheduler
from snakemake.settings.types import ConfigSettings, DeploymentSettings, ResourceSettings
from snakemake.workflow import Workflow
from snakemake_interface_executor_plugins.settings import DeploymentMethod

from conftest import ROOT, SNAKEFILE, default_config
from snakeyard import snakemake_internals
from snakeyard.snakemake_internals import (
    KEPT_LINTS,
    cancel_scheduler_wakeups,
    default_resource,
    deployment_methods,
    lint_findings,
)

# runs `python -m snakemake ARGS` and prints, after every other exit handler (they run
# last registered first), whether the heap was frozen for the exit
OBSERVED_SNAKEMAKE = (
    "import atexit, gc, runpy, sys\n"
    "atexit.register(lambda: print('heap frozen at exit:', gc.get_freeze_count() > 0))\n"
    "sys.argv[0] = 'snakemake'\n"
    "runpy.run_module('snakemake', run_name='__main__')\n"
)


def observed_snakemake(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-c", OBSERVED_SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


# ---------------------------------------------------------------- the names, still there


def field_names(cls) -> set[str]:
    return {field.name for field in dataclasses.fields(cls)}


def test_the_workflow_object_still_has_the_attributes_used():
    assert {"config_settings", "deployment_settings", "resource_settings"} <= field_names(Workflow)
    assert "configfiles" in field_names(ConfigSettings)
    assert "deployment_method" in field_names(DeploymentSettings)
    assert "default_resources" in field_names(ResourceSettings)
    for name in ("current_basedir", "main_snakefile"):
        assert isinstance(inspect.getattr_static(Workflow, name), property), name
    assert list(inspect.signature(Workflow.register_resource).parameters) == ["self", "name", "value"]
    # global_resources is set on each instance; the probe below reads it from a real run


def test_resources_still_have_the_methods_used():
    assert callable(Resources.from_mapping) and callable(Resources.get)
    assert callable(Resource.evaluate) and isinstance(inspect.getattr_static(Resource, "value"), property)


def test_the_installed_snakemake_still_wakes_its_scheduler_this_way():
    # cancel_scheduler_wakeups finds the timers by the name of the method that starts them
    assert callable(getattr(JobScheduler, "_schedule_reevalutation", None))


def test_deployment_methods_are_lower_case_names():
    workflow = SimpleNamespace(
        deployment_settings=DeploymentSettings(deployment_method={DeploymentMethod.CONDA})
    )
    assert deployment_methods(workflow) == {"conda"}
    assert deployment_methods(SimpleNamespace(deployment_settings=DeploymentSettings())) == set()


@pytest.mark.parametrize(
    "defaults",
    [
        Resources.parse(["runtime=7*attempt"], allow_expressions=True, defaults="full"),
        {"runtime": lambda wildcards, attempt: 7 * attempt},
    ],
    ids=["from the command line", "a mapping"],
)
def test_default_resources_are_evaluated_for_the_job(defaults):
    workflow = SimpleNamespace(resource_settings=ResourceSettings(default_resources=defaults))
    wildcards = Wildcards(fromdict={"experiment": "iris"})
    context = dict(input=[], attempt=2, threads=1, rulename="train", async_run=None)
    assert default_resource(workflow, "runtime", wildcards, **context) == 14
    assert default_resource(workflow, "slurm_partition", wildcards, **context) is None
    none = SimpleNamespace(resource_settings=ResourceSettings(default_resources=None))
    assert default_resource(none, "runtime", wildcards, **context) is None


PROBE = """
import json

from snakeyard import snakemake_internals as internals

internals.add_global_resource(workflow, "slots", 2)
internals.add_global_resource(workflow, "given", 3)  # --resources given=5 wins

FACTS = {
    "configfiles_given": internals.configfiles_given(workflow),
    "current_folder": str(internals.current_folder(workflow)),
    "deployment_methods": sorted(internals.deployment_methods(workflow)),
    "main": internals.is_main_snakefile(workflow, "Snakefile"),
    "other": internals.is_main_snakefile(workflow, "other/Snakefile"),
    "seen": {},
}


def seen(wildcards, input, attempt, threads=None, rulename=None, async_run=None):
    FACTS["seen"] = {"rulename": rulename, "async_run": callable(async_run)}
    return 1


rule probe:
    output:
        "probe.txt",
    resources:
        slots=1,
        seen=seen,
        runtime=internals.resource_function(workflow, "runtime", lambda w: None, 30),
        mem_mb=internals.resource_function(workflow, "mem_mb", lambda w: 123),
        disk_mb=internals.resource_function(workflow, "disk_mb", lambda w: None),
        fallback=internals.resource_function(workflow, "fallback", lambda w: None, 5),
    shell:
        "echo {resources.runtime} {resources.mem_mb} {resources.disk_mb} {resources.fallback} > {output}"


onsuccess:
    limits = {name: workflow.global_resources[name] for name in ("slots", "given")}
    FACTS["limits"] = {name: getattr(value, "value", value) for name, value in limits.items()}
    print("FACTS", json.dumps(FACTS))
"""


def test_each_function_against_a_real_snakemake_run(tmp_path: Path):
    (tmp_path / "Snakefile").write_text(PROBE)
    (tmp_path / "extra.yaml").write_text("key: value\n")
    done = subprocess.run(
        ["snakemake", "--cores", "1", "--configfile", "extra.yaml", "--resources", "given=5",
         "--default-resources", "runtime=7*attempt"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = [line for line in done.stdout.splitlines() if line.startswith("FACTS ")]
    facts = json.loads(line.removeprefix("FACTS "))
    assert facts == {
        "configfiles_given": True,
        "current_folder": str(tmp_path),
        "deployment_methods": [],
        "main": True,
        "other": False,
        "seen": {"rulename": "probe", "async_run": True},
        "limits": {"slots": 2, "given": 5},
    }
    # runtime from --default-resources, mem_mb configured, disk_mb from Snakemake's own
    # default expression (which needs input), fallback where there is no default
    assert (tmp_path / "probe.txt").read_text().split() == ["7", "123", "50000", "5"]


# ------------------------------------------------------------------ ending a run quickly


class FakeScheduler:
    """Starts its wake-ups the way Snakemake's JobScheduler does: a Timer and a lambda."""

    def __init__(self):
        self.woken = threading.Event()

    def _schedule_reevalutation(self, delay: float) -> threading.Timer:
        timer = threading.Timer(delay, lambda: self.woken.set())
        timer.start()
        return timer


def test_pending_wakeups_are_cancelled_and_other_timers_left_alone():
    scheduler = FakeScheduler()
    wakeups = [scheduler._schedule_reevalutation(600) for _ in range(3)]
    other_fired = threading.Event()
    other = threading.Timer(600, other_fired.set)
    other.start()
    try:
        assert cancel_scheduler_wakeups() == 3
        for timer in wakeups:
            timer.join(timeout=30)
            assert not timer.is_alive()
        assert not scheduler.woken.is_set()  # cancelled, not fired early
        assert other.is_alive()
    finally:
        other.cancel()
        other.join()
    assert not other_fired.is_set()
    assert cancel_scheduler_wakeups() == 0


def test_the_heap_is_frozen_at_exit_only():
    # handlers run last registered first: the report below runs after the freeze
    code = (
        "import atexit, gc\n"
        "from snakeyard.snakemake_internals import final_collection_skipped, skip_final_collection\n"
        "atexit.register(lambda: print('at exit:', gc.get_freeze_count() > 0))\n"
        "skip_final_collection()\n"
        "skip_final_collection()\n"
        "print('before exit:', gc.get_freeze_count(), final_collection_skipped())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["before exit: 0 True", "at exit: True"]


def test_a_run_of_snakeyards_snakefile_skips_the_final_collection(tmp_path: Path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(default_config()))
    done = observed_snakemake(tmp_path, "-s", str(SNAKEFILE), "--dry-run", "--quiet")
    assert done.stdout.splitlines()[-1] == "heap frozen at exit: True"


HOST = """
import yaml

from snakeyard import snakemake_internals

config["snakeyard"] = yaml.safe_load(open({config!r}))


rule host:
    output:
        "host.txt",
    shell:
        "echo hi > {{output}}"


module snakeyard:
    snakefile:
        {snakefile!r}
    config:
        config["snakeyard"]


use rule * from snakeyard as snakeyard_*


onsuccess:
    print("snakeyard's rules:", hasattr(rules, "snakeyard_train"))
    print("final collection skipped:", snakemake_internals.final_collection_skipped())
"""


def test_a_workflow_using_snakeyard_as_a_module_keeps_snakemakes_exit(tmp_path: Path):
    config = ROOT / "config" / "config.yaml"
    (tmp_path / "Snakefile").write_text(HOST.format(config=str(config), snakefile=str(SNAKEFILE)))
    done = observed_snakemake(tmp_path, "--cores", "1", "host.txt")
    assert (tmp_path / "host.txt").read_text() == "hi\n"
    assert done.stdout.splitlines()[-3:] == [
        "snakeyard's rules: True",
        "final collection skipped: False",
        "heap frozen at exit: False",
    ]


# ------------------------------------------------------------------------ snakemake --lint

LINT_TEXT = """\
Using workflow specific profile profiles/default for setting default command line arguments.
Lints for snakefile /somewhere/Snakefile:
    * Mixed rules and functions in same snakefile.:
      Small one-liner functions used only once should be defined as lambda
      expressions.

Lints for rule fetch (line 4, /somewhere/workflow/rules/data.smk):
    * No log directive defined:
      Without a log directive, all output will be printed to the terminal.
    * Specify a conda environment or container for each rule.:
      This way, the used software for each specific step is documented, and the
      workflow can be executed on any machine without prerequisites.
      Also see:
      https://snakemake.readthedocs.io/en/latest/snakefiles/deployment.html

"""


def test_lint_findings_are_read_from_snakemakes_text():
    assert lint_findings(LINT_TEXT) == {
        ("snakefile /somewhere/Snakefile", "Mixed rules and functions in same snakefile."),
        ("rule fetch", "No log directive defined"),
        ("rule fetch", "Specify a conda environment or container for each rule."),
    }


def test_the_lint_check_passes_on_the_kept_findings_only():
    def check(text: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "snakeyard.snakemake_internals", "check-lint"],
            input=text, capture_output=True, text=True,
        )

    def as_text(findings) -> str:
        return "".join(
            f"Lints for {what} (line 1, x.smk):\n    * {title}:\n      Why.\n\n"
            for what, title in sorted(findings)
        )

    assert check(as_text(KEPT_LINTS)).returncode == 0
    extra = check(as_text(KEPT_LINTS | {("rule train", "No log directive defined")}))
    assert extra.returncode == 1 and "new finding for rule train" in extra.stdout
    fewer = set(KEPT_LINTS)
    fewer.pop()
    assert check(as_text(fewer)).returncode == 1
    assert check("WorkflowError: the Snakefile does not parse\n").returncode == 1


def test_every_kept_lint_is_in_the_docstring():
    for what, title in KEPT_LINTS:
        assert title in snakemake_internals.__doc__
        assert what.removeprefix("rule ") in snakemake_internals.__doc__
