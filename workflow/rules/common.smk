# Shared helpers: configuration checks, input functions and look-ups for the rules.
# Their code: src/snakeyard/config.py, and src/snakeyard/snakemake_internals.py for
# every use of a Snakemake name that Snakemake does not document.

import hashlib
import json
import os
import re
import sys
from pathlib import Path

from snakeyard import config as snakeyard_config
from snakeyard.environments.specs import CURRENT, read_spec
from snakeyard.errors import SnakeyardError
from snakeyard.files import walk_files
from snakeyard.snakemake_internals import (
    add_global_resource,
    cancel_scheduler_wakeups,
    current_folder,
    deployment_methods,
    is_main_snakefile,
    resource_function,
    skip_final_collection,
)
from snakeyard.training.snapshot import snapshot_files
from snakeyard.environments.pip_env import pip_only
from snakeyard.sweeps.plan import plan as plan_sweep
from snakeyard.sweeps.plan import check_resource_names, resource_name, trial_arguments

# snakeyard's own folder, also when this file is included through `module`
SNAKEYARD_ROOT = current_folder(workflow).parent.parent

try:
    snakeyard_config.validate(
        config, SNAKEYARD_ROOT / "workflow" / "schemas" / "config.schema.yaml"
    )
    CFG = snakeyard_config.resolve(config, Path.cwd(), SNAKEYARD_ROOT)
except SnakeyardError as error:
    sys.exit(f"snakeyard: {error}")

# the stages run with the workflow's own interpreter, whatever the job's PATH says. The
# command names it as $SNAKEYARD_PYTHON, set here when the Snakefile is parsed (local jobs
# inherit Snakemake's environment; a cluster job runs Snakemake again on its node, which
# parses this file and sets it there), not as a path: Snakemake reruns a job whose command
# text changed, and `snakemake` and `python -m snakemake` spell one interpreter
# differently. Joined to each shell command at parse time (see stage()), which also works
# inside a `module`, where a shell command cannot name this file's variables.
os.environ["SNAKEYARD_PYTHON"] = sys.executable


envvars:
    "SNAKEYARD_PYTHON",


STAGE = '"$SNAKEYARD_PYTHON" -m snakeyard.stages'
REGISTRY = CFG["registry"]
LOCAL_STAGES = CFG["local_stages"]
DATASTORE = CFG["datastore"] or ""
if isinstance(DATASTORE, dict):  # an object store, {s3: {...}}: one JSON word
    DATASTORE = json.dumps(DATASTORE, sort_keys=True)


def stage(arguments):
    """The shell command of one stage: ``python -m snakeyard.stages ARGUMENTS``."""
    return f"{STAGE} {arguments}"


def _alternatives(names):
    return "|".join(re.escape(name) for name in sorted(names))


wildcard_constraints:
    dataset=_alternatives(CFG["datasets"]),
    environment=_alternatives([*CFG["environments"], CURRENT]),
    experiment=_alternatives(CFG["experiments"]),


def experiment(wildcards):
    """The resolved configuration of the job's experiment."""
    return CFG["experiments"][wildcards.experiment]


def dataset_source(wildcards):
    source = CFG["datasets"][wildcards.dataset]["source"]
    # a list of downloads travels as one JSON word
    return json.dumps(source, sort_keys=True) if isinstance(source, list) else source


def dataset_spec(wildcards):
    """How to fetch and check the data set: format, label column, download options."""
    dataset = CFG["datasets"][wildcards.dataset]
    keys = ("format", "label_column", "download")
    return json.dumps({key: dataset.get(key) for key in keys}, sort_keys=True)


def dataset_source_input(wildcards):
    """A local data set's files, so that changing one of them fetches it again."""
    source = CFG["datasets"][wildcards.dataset]["source"]
    if not isinstance(source, str) or not source.startswith("path:"):
        return []
    path = source[len("path:") :]
    root = Path(path)
    return [str(root / p) for p in walk_files(root)] if root.is_dir() else [path]


def environment_file(wildcards):
    """The spec file, as an input that only its content (spec_hash) makes re-lock."""
    if wildcards.environment == CURRENT:
        return []
    return ancient(CFG["environments"][wildcards.environment]["file"])


def environment_spec(wildcards):
    if wildcards.environment == CURRENT:
        return CURRENT
    return CFG["environments"][wildcards.environment]["file"]


def environment_spec_hash(wildcards):
    """The spec's sha256: a changed spec is locked again, a touched one is not."""
    if wildcards.environment == CURRENT:
        return ""
    return hashlib.sha256(Path(environment_spec(wildcards)).read_bytes()).hexdigest()


def environment_setting(key):
    def value(wildcards):
        if wildcards.environment == CURRENT:
            return ""
        setting = CFG["environments"][wildcards.environment][key]
        return json.dumps(setting) if setting else ""

    return value


def conda_environment(wildcards):
    """The conda spec Snakemake deploys with --sdm conda (its pin file next to it)."""
    name = experiment(wildcards)["environment"]
    if name == CURRENT:
        return None
    spec = CFG["environments"][name]["file"]
    return None if pip_only(read_spec(Path(spec))[1]) else spec


# with --software-deployment-method conda the train job runs in the activated environment
CONDA_ACTIVE = "yes" if "conda" in deployment_methods(workflow) else "no"


def dataset_receipt(wildcards):
    return f"results/datasets/{experiment(wildcards)['dataset']}.json"


def environment_receipt(wildcards):
    return f"results/environments/{experiment(wildcards)['environment']}.json"


def source_files(wildcards):
    """The files of the experiment's snapshot: editing one of them re-trains."""
    root = Path(experiment(wildcards)["source_directory"])
    return [str(root / path) for path in snapshot_files(root)]


def train_spec(wildcards):
    """What a run depends on besides its input files, as one JSON parameter."""
    spec = experiment(wildcards)
    keys = ("source_directory", "script", "arguments", "data_argument")
    # arguments keep the order of the configuration: scripts may care
    return json.dumps({key: spec[key] for key in keys})


def model_spec(wildcards):
    return json.dumps(experiment(wildcards)["model"], sort_keys=True)


# what a train job asks for when neither its experiment nor the profile says
RESOURCE_FALLBACKS = {"mem_mb": 1000, "runtime": 30}


def resource(name, config_key=None):
    """A train resource from the experiment's ``resources`` (``config_key``, default
    ``name``); where the experiment leaves it out, the profile's default-resources, else
    RESOURCE_FALLBACKS."""

    def configured(wildcards):
        return experiment(wildcards)["resources"].get(config_key or name)

    return resource_function(workflow, name, configured, RESOURCE_FALLBACKS.get(name))


def experiment_chains():
    """Every output of every experiment's chain, fetch to register.

    The default target asks for all of them, not only the registered models: Snakemake
    reruns a job for a missing output only when that output is asked for, and a failed or
    killed job's outputs are removed while a later stage's outputs from an earlier run
    stay, and would otherwise look up to date (snakemake/snakemake#1978).
    """
    files = []
    for name in sorted(CFG["experiments"]):
        spec = CFG["experiments"][name]
        dataset, environment = spec["dataset"], spec["environment"]
        files += [
            f"results/data/{dataset}/files",
            f"results/data/{dataset}/manifest.json",
            f"results/datasets/{dataset}.json",
            f"results/environments/{environment}.json",
            f"results/{name}/run.json",
            f"results/{name}/metrics.tsv",
            f"results/{name}/outputs",
            f"results/{name}/model.json",
        ]
        if name in TRIALS:
            files += [
                f"results/{name}/trials/{trial}/run.json" for trial in TRIALS[name]
            ]
            files += [f"results/{name}/sweep.tsv", f"results/{name}/sweep.json"]
    return list(dict.fromkeys(files))


# ---------------------------------------------------------------------- sweeps
# experiments with a sweep; each trial of one is a train job (rule trial, sweeps.smk)
SWEPT = sorted(name for name, spec in CFG["experiments"].items() if spec.get("sweep"))

try:
    # planned before any job runs: a bad expression stops the workflow here
    check_resource_names(SWEPT)
    TRIALS = {
        name: {
            trial.id: trial
            for trial in plan_sweep(
                f"experiments.{name}.sweep", CFG["experiments"][name]["sweep"]
            )
        }
        for name in SWEPT
    }
except SnakeyardError as error:
    sys.exit(f"snakeyard: {error}")

# max_concurrent_runs holds under every executor: Snakemake's scheduler never lets the
# running trials' claims on this resource exceed it; --resources NAME=N overrides it
for _name in SWEPT:
    _limit = CFG["experiments"][_name]["sweep"]["max_concurrent_runs"]
    if _limit:
        add_global_resource(workflow, resource_name(_name), _limit)


# cluster_group trials of a sweep share one cluster job, each still its own run: the
# trials of one bucket and the job that marks the bucket done form one connected
# group, which Snakemake submits as one job (sweeps.smk, docs/sweeps.md)
TRIAL_POSITION = {name: {t: i for i, t in enumerate(TRIALS[name])} for name in SWEPT}


def _group_size(name):
    return CFG["experiments"][name]["sweep"].get("cluster_group", 1)


def trial_group(wildcards):
    """The cluster job of a trial (or of its bucket's mark) when its sweep groups trials."""
    size = _group_size(wildcards.experiment)
    if size == 1:
        return None
    if hasattr(wildcards, "bucket"):
        return f"trials-{wildcards.experiment}-{wildcards.bucket}"
    bucket = TRIAL_POSITION[wildcards.experiment][wildcards.trial] // size
    return f"trials-{wildcards.experiment}-{size}x{bucket}"


def bucket_marks(wildcards):
    """The marks of a grouping sweep's buckets, each asking for its trials together."""
    size, name = _group_size(wildcards.experiment), wildcards.experiment
    if size == 1:
        return []
    count = -(-len(TRIALS[name]) // size)
    return [f"results/{name}/trial-groups/{size}x{k}.done" for k in range(count)]


def bucket_trials(wildcards):
    """The trials' run records of one bucket (``<size>x<index>``) of a sweep."""
    size, index = map(int, wildcards.bucket.split("x"))
    trials = list(TRIALS[wildcards.experiment])[size * index : size * (index + 1)]
    return [f"results/{wildcards.experiment}/trials/{t}/run.json" for t in trials]


def _trial_slot(name):
    def slot(wildcards):
        return int(
            getattr(wildcards, "trial", None) is not None
            and wildcards.experiment == name
        )

    return slot


def trial_slots():
    """Resources of a train job: one of max_concurrent_runs if it is a trial of that sweep."""
    return {resource_name(name): _trial_slot(name) for name in SWEPT}


def sweep_reports():
    """The report files of every sweep: they need the sweep's model registered."""
    # all of them, not one: Snakemake reruns a job for a missing output only when that
    # output is asked for (results from before the pictures were SVG had PNG ones)
    return expand(
        "results/{experiment}/report/{name}",
        experiment=SWEPT,
        name=(
            "sweep.html",
            "primary-metric.svg",
            "confusion-matrix.svg",
            "model-metrics.html",
        ),
    )


def sweep_setting(key):
    return lambda wildcards: experiment(wildcards)["sweep"][key]


def trial_runs(wildcards):
    """The trials' run records, in the sweep's order."""
    return [
        f"results/{wildcards.experiment}/trials/{trial}/run.json"
        for trial in TRIALS[wildcards.experiment]
    ]


def trial_spec(wildcards):
    """The train job's spec, with the trial's values among the arguments."""
    spec = json.loads(train_spec(wildcards))
    trial = TRIALS[wildcards.experiment][wildcards.trial]
    spec["arguments"] = trial_arguments(spec["arguments"], trial.parameters)
    spec["trial"] = {"id": trial.id, "parameters": trial.parameters}
    return json.dumps(spec)


# the run is over: exit now rather than wait for the scheduler's rate-limit timer or
# for a last garbage collection; only in a run of snakeyard's own Snakefile, as these
# change the whole process: a workflow using snakeyard as a module keeps Snakemake's
# behaviour (see src/snakeyard/snakemake_internals.py)
QUICK_EXIT = is_main_snakefile(workflow, SNAKEYARD_ROOT / "Snakefile")
if QUICK_EXIT:
    skip_final_collection()


onsuccess:
    if QUICK_EXIT:
        cancel_scheduler_wakeups()


onerror:
    if QUICK_EXIT:
        cancel_scheduler_wakeups()
