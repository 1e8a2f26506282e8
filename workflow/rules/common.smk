# Shared helpers: configuration checks, input functions and look-ups for the rules.
# Their code: src/snakeyard/config.py, and src/snakeyard/snakemake_internals.py for
# every use of a Snakemake name that Snakemake does not document.

import functools
import json
import os
import re
import sys
from pathlib import Path

from snakeyard import config as snakeyard_config
from snakeyard.environments.specs import CURRENT, read_spec
from snakeyard.errors import SnakeyardError
from snakeyard.files import walk_files, write_if_changed
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
from snakeyard.training.distributed.resources import (
    snakemake_resources as distributed_resources,
    threads as distributed_threads,
)
from snakeyard.environments.pip_env import pip_only, spec_digest
from snakeyard.sweeps.plan import plan as plan_sweep
from snakeyard.sweeps.plan import check_resource_names, resource_name, trial_arguments
from snakeyard.sweeps.budget import BUDGETS_VARIABLE
from snakeyard.sweeps.monitor import sweep_folder
from snakeyard.sweeps.study import study_name
from snakeyard.training.model_signature import MODEL_PATHS_VARIABLE

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
# each sweep's time budget reaches its trials the same way, not among the parameters of
# a rule, so that raising a budget re-runs no trial that finished (snakeyard.sweeps.budget)
os.environ[BUDGETS_VARIABLE] = json.dumps(
    {
        name: spec["sweep"]["max_duration_minutes"]
        for name, spec in sorted(CFG["experiments"].items())
        if (spec.get("sweep") or {}).get("max_duration_minutes")
    }
)

# and each experiment's model.path to its train jobs, which have the training script
# learn the model's signature as it exits (snakeyard.training.model_signature): not a
# parameter either, so that this re-runs no finished job
os.environ[MODEL_PATHS_VARIABLE] = json.dumps(
    {
        name: spec["model"]["path"]
        for name, spec in sorted(CFG["experiments"].items())
        if spec["model"] is not None
    }
)


envvars:
    "SNAKEYARD_PYTHON",
    "SNAKEYARD_SWEEP_BUDGETS",
    "SNAKEYARD_MODEL_PATHS",


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
    deployment=_alternatives(CFG["deployments"]) or "$^",
    scoring=_alternatives(CFG["scoring"]) or "$^",
    chunk=r"\d+",


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
    """The spec's sha256 (with its pip -r files): a changed spec is locked again, a
    touched one is not."""
    if wildcards.environment == CURRENT:
        return ""
    return spec_digest(Path(environment_spec(wildcards)))


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
    """The data set's receipt; none for an experiment without a data set."""
    name = experiment(wildcards)["dataset"]
    return f"results/datasets/{name}.json" if name else []


def model_receipt(wildcards):
    """The registered model's receipt; none for an experiment with ``model: null``."""
    if experiment(wildcards)["model"] is None:
        return []
    return f"results/{wildcards.experiment}/model.json"


def environment_receipt(wildcards):
    return f"results/environments/{experiment(wildcards)['environment']}.json"


def source_files(wildcards):
    """The files of the experiment's snapshot: editing one of them re-trains."""
    return list(_source_files(wildcards.experiment))


@functools.cache
def _source_files(name):
    # once per experiment and Snakemake process, not once per trial: a sweep of 1,000
    # trials would walk (and check) the same source directory 1,000 times
    root = Path(CFG["experiments"][name]["source_directory"])
    return [str(root / path) for path in snapshot_files(root)]


def train_spec(wildcards):
    """What a run depends on besides its input files, as one JSON parameter."""
    spec = experiment(wildcards)
    keys = ("source_directory", "script", "arguments", "data_argument")
    # arguments keep the order of the configuration: scripts may care
    train = {key: spec[key] for key in keys}
    # only when set, so that the spec (and the jobs) of other experiments stay as they were
    if spec.get("input_name"):
        train["input_name"] = spec["input_name"]
    if spec["model"] is None:
        train["register"] = False
    if spec.get("distributed"):
        train["distributed"] = spec["distributed"]
    return json.dumps(train)


def train_spec_file(wildcards):
    """``results/<experiment>/train.spec.json``: train_spec as an input file, rewritten
    only when it changes, so that a changed argument re-trains under every
    ``--rerun-triggers`` (``mtime`` alone, common in cluster profiles, ignores params)
    """
    return _train_spec_file(wildcards.experiment, train_spec(wildcards))


@functools.cache
def _train_spec_file(name, spec):
    # written (or found unchanged) once per experiment and Snakemake process, not once
    # per trial of its sweep
    path = Path(f"results/{name}/train.spec.json").resolve()
    write_if_changed(path, f"{spec}\n")
    # absolute: inside a `module`, a relative input that no rule makes is looked up
    # beside the module's Snakefile
    return str(path)


def train_inputs(wildcards):
    """A train job's input files by name: the data set's and the environment's receipts,
    the snapshot's source files and the spec file.

    One input function rather than four: Snakemake's own cost of calling one (it
    inspects the function's signature each time) adds up over a sweep's trials.
    """
    return {
        "dataset": dataset_receipt(wildcards),
        "environment": environment_receipt(wildcards),
        "sources": source_files(wildcards),
        "spec": train_spec_file(wildcards),
    }


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


def distributed_setting(name):
    """A train resource a ``distributed:`` experiment needs (nodes, tasks, cpus_per_task,
    mpi, and its cores and memory); None for the others."""

    def value(wildcards):
        found = distributed_resources(experiment(wildcards).get("distributed"))
        if name == "cpus":
            return distributed_threads(experiment(wildcards).get("distributed"))
        return found.get(name)

    return value


def train_resource(name):
    """``resource(name)``, except where a ``distributed:`` experiment sets it: its cores
    (threads) are all its processes' threads; an explicit resources.mem_mb wins over the
    memory its processes add up to."""

    def configured(wildcards):
        explicit = experiment(wildcards)["resources"].get(name)
        chosen = distributed_setting(name)(wildcards)
        if name == "mem_mb" and explicit is not None:
            return explicit
        return chosen if chosen is not None else explicit

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
        if dataset:
            files += [
                f"results/data/{dataset}/files",
                f"results/data/{dataset}/manifest.json",
                f"results/datasets/{dataset}.json",
            ]
        files += [
            f"results/environments/{environment}.json",
            f"results/{name}/run.json",
            f"results/{name}/metrics.tsv",
            f"results/{name}/outputs",
        ]
        if spec["model"] is not None:  # null: an analysis script, nothing to register
            files.append(f"results/{name}/model.json")
        if name in TRIALS:
            files += [
                f"results/{name}/trials/{trial}/run.json" for trial in TRIALS[name]
            ]
            files += [f"results/{name}/sweep.tsv", f"results/{name}/sweep.json"]
    return list(dict.fromkeys(files))


# ---------------------------------------------------------------------- sweeps
# experiments with a sweep; each trial of one is a train job (rule trial, sweeps.smk)
SWEPT = sorted(name for name, spec in CFG["experiments"].items() if spec.get("sweep"))
# those whose trials are proposed wave by wave as the sweep runs (checkpoint sweep_wave)
BAYESIAN = [
    name
    for name in SWEPT
    if CFG["experiments"][name]["sweep"]["sampling"] == "bayesian"
]

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
    """The report files of every sweep, with a model registered or without one."""
    # all of them, not one: Snakemake reruns a job for a missing output only when that
    # output is asked for (results from before the pictures were SVG had PNG ones)
    return expand(
        "results/{experiment}/report/{name}",
        experiment=SWEPT,
        name=("sweep.html", "primary-metric.svg"),
    )


def experiment_reports():
    """The report files of every experiment, sweep or not, with a model or without one."""
    return expand(
        "results/{experiment}/report/{name}",
        experiment=sorted(CFG["experiments"]),
        name=(
            "model-metrics.html",
            "curves.svg",
            "confusion-matrix.svg",
            "images.html",
        ),
    )


def sweep_setting(key):
    return lambda wildcards: experiment(wildcards)["sweep"][key]


def trial_runs(wildcards):
    """The trials' run records, in the sweep's order."""
    name = wildcards.experiment
    trials = bayesian_trials(name) if name in BAYESIAN else TRIALS[name]
    return [f"results/{name}/trials/{trial}/run.json" for trial in trials]


def bayesian_trial_runs(wildcards):
    """Every trial of every Bayesian sweep, planned wave by wave: the default target asks
    for them so that a sweep given more trials (or more time) plans and runs the new
    ones, although its own outputs are there already."""
    return [
        f"results/{name}/trials/{trial}/run.json"
        for name in BAYESIAN
        for trial in bayesian_trials(name)
    ]


def bayesian_trials(name, before=None):
    """The trial ids of a Bayesian sweep, wave by wave (of the waves before ``before``).

    Reading a wave's file through the checkpoint has Snakemake plan that wave first,
    after the trials of the waves before it; the sweep stops at a wave that ran out of
    time or of new values.
    """
    sweep = CFG["experiments"][name]["sweep"]
    total, size = sweep["max_total_runs"], sweep["max_concurrent_runs"]
    ids = []
    for wave in range(-(-total // size) if before is None else before):
        planned = read_wave(
            checkpoints.sweep_wave.get(
                experiment=name,
                plan=wave_plan(name),
                wave=wave,
                size=min(size, total - wave * size),
            ).output[0]
        )
        ids += [trial["id"] for trial in planned["trials"]]
        if planned["expired"] or planned["exhausted"]:
            break
    return ids


def wave_plan(name):
    """The folder of a Bayesian sweep's wave files: a hash of what its waves depend on.

    A wave file is never planned again once written (Snakemake would not look at a
    re-run checkpoint's new content): a change of these settings, or of the number of
    trials in a wave (its file name), names new files, and planning them again
    returns the trials the study proposed before (snakeyard.sweeps.study.plan_wave).
    """
    return hashlib.sha256(wave_settings_of(name).encode()).hexdigest()[:12]


def wave_settings_of(name):
    sweep = CFG["experiments"][name]["sweep"]
    keys = ("parameters", "sampler", "seed", "primary_metric", "goal")
    keys += ("max_concurrent_runs", "max_duration_minutes")
    # in the configuration's order: Optuna asks for the parameters in this order
    return json.dumps({key: sweep[key] for key in keys})


_WAVES = {}


def read_wave(path):
    """A wave file, read once per version of it."""
    stamp = os.stat(path).st_mtime_ns
    if _WAVES.get(path, (None,))[0] != stamp:
        _WAVES[path] = (stamp, json.loads(Path(path).read_text()))
    return _WAVES[path][1]


def wave_trial_runs(wildcards):
    """The run records a wave learns from: those of every wave before it (only their
    presence counts: a trial run again does not make the waves after it planned again).
    """
    name = wildcards.experiment
    trials = bayesian_trials(name, before=int(wildcards.wave))
    return [ancient(f"results/{name}/trials/{trial}/run.json") for trial in trials]


def wave_settings(wildcards):
    """What a wave's proposals depend on, as one JSON parameter."""
    return wave_settings_of(wildcards.experiment)


def bayesian_trial(name, trial_id):
    """A Bayesian trial's entry in the wave file that proposed it."""
    for path in sorted(Path(f"results/{name}/waves").glob("*/*.json")):
        for trial in read_wave(str(path))["trials"]:
            if trial["id"] == trial_id:
                return trial
    raise SnakeyardError(
        f"trial {trial_id} of {name} is in no wave of results/{name}/waves"
    )


def trial_spec(wildcards):
    """The train job's spec, with the trial's values among the arguments."""
    name = wildcards.experiment
    spec = json.loads(train_spec(wildcards))
    if name in BAYESIAN:
        parameters = bayesian_trial(name, wildcards.trial)["parameters"]
    else:
        parameters = TRIALS[name][wildcards.trial].parameters
    spec["arguments"] = trial_arguments(spec["arguments"], parameters)
    spec["trial"] = {"id": wildcards.trial, "parameters": parameters}
    sweep = experiment(wildcards)["sweep"]
    if sweep.get("early_termination"):
        # what the trial's monitor compares its values with (snakeyard.sweeps.monitor)
        spec["sweep"] = {
            "folder": str(sweep_folder(name)),
            "study": study_name(sweep),
            "primary_metric": sweep["primary_metric"],
            "goal": sweep["goal"],
            "early_termination": sweep["early_termination"],
        }
    return json.dumps(spec)


# --------------------------------------------------------------------- serving
# deployments and bulk scoring (rules in serving.smk); their model references are
# resolved here, when the jobs are planned, by the registry's one resolver
from snakeyard.registry.registry import Registry as _Registry
from snakeyard.serving.scoring import check_method_of

# the experiment that registers each model name, if any
EXPERIMENT_OF_MODEL = {
    spec["model"]["name"]: name
    for name, spec in CFG["experiments"].items()
    if spec["model"] is not None
}


def _model_reference(where, ref):
    """``(model, receipts)`` for a configured model reference: ``model`` is what the jobs
    score with and what makes them run again when it changes (``NAME:VERSION`` as the
    registry resolves it now); ``receipts`` the registration receipt of the experiment
    that registers the model, when one does.

    A plain reference (``NAME``, ``NAME:latest``) to a model an experiment of this
    workflow registers stays as it is while that experiment's receipt names the latest
    version: the receipt orders the jobs after its registration and makes them run again
    when it registers a new version. When another version is the latest (registered by
    hand, say), the reference is pinned to it, so that the jobs run again with it.
    """
    try:
        name = _Registry.model_ref_name(ref)
        producer = EXPERIMENT_OF_MODEL.get(name)
        receipts = [f"results/{producer}/model.json"] if producer else []
        if producer and ref in (name, f"{name}:latest"):
            receipt = Path(receipts[0])
            try:
                registered = json.loads(receipt.read_text())["version"]
                _, latest = _Registry(REGISTRY).resolve_model_ref(name)
            except (OSError, ValueError, KeyError, TypeError, SnakeyardError):
                return ref, receipts  # not registered yet: the experiment will
            if registered == latest:
                return ref, receipts
        found, version = _Registry(REGISTRY).resolve_model_ref(ref)
        return f"{found}:{version}", receipts
    except SnakeyardError as error:
        sys.exit(f"snakeyard: {where}.model: {error}")


DEPLOYMENT_MODELS = {
    name: _model_reference(f"deployments.{name}", spec["model"])
    for name, spec in CFG["deployments"].items()
}
SCORING_MODELS = {
    name: _model_reference(f"scoring.{name}", spec["model"])
    for name, spec in CFG["scoring"].items()
}


def _check_scoring_method(name, spec):
    """Refuse at planning a ``method`` the scored model version lacks (its signature
    says), rather than in every chunk job; the version an experiment of this run
    registers is checked there."""
    ref, receipts = SCORING_MODELS[name]
    plain = _Registry.model_ref_name(ref)
    if receipts and ref in (plain, f"{plain}:latest"):
        return  # the version an experiment of this run registers: its chunk jobs check it
    registry = _Registry(REGISTRY)
    meta = registry.get_model(*registry.resolve_model_ref(ref))
    try:
        check_method_of(meta, spec["method"])
    except SnakeyardError as error:
        sys.exit(f"snakeyard: scoring.{name}.method: {error}")


for _name, _spec in CFG["scoring"].items():
    _check_scoring_method(_name, _spec)


def deployment_targets():
    """The bundle and receipt of every configured deployment."""
    return [
        path
        for name in sorted(CFG["deployments"])
        for path in (
            f"results/deployments/{name}/bundle",
            f"results/deployments/{name}/deployment.json",
        )
    ]


def scoring_targets():
    """The predictions file of every configured bulk scoring."""
    return [
        f"results/scoring/{name}/predictions.{spec['format']}"
        for name, spec in sorted(CFG["scoring"].items())
    ]


def deployment_model(wildcards):
    return DEPLOYMENT_MODELS[wildcards.deployment][0]


def deployment_inputs(wildcards):
    """The registering experiment's receipt, and the entry script: editing it redeploys."""
    spec = CFG["deployments"][wildcards.deployment]
    entry = [spec["entry_script"]] if spec["entry_script"] else []
    return DEPLOYMENT_MODELS[wildcards.deployment][1] + entry


def deployment_spec(wildcards):
    spec = CFG["deployments"][wildcards.deployment]
    keys = ("host", "port", "workers", "entry_script")
    return json.dumps({key: spec[key] for key in keys}, sort_keys=True)


def scoring_model(wildcards):
    return SCORING_MODELS[wildcards.scoring][0]


def scoring_model_receipts(wildcards):
    return SCORING_MODELS[wildcards.scoring][1]


def scoring_dataset(wildcards):
    return f"results/datasets/{CFG['scoring'][wildcards.scoring]['dataset']}.json"


def scoring_setting(key):
    return lambda wildcards: CFG["scoring"][wildcards.scoring][key]


def scoring_chunks(wildcards):
    """The chunks' outputs, in order."""
    count = CFG["scoring"][wildcards.scoring]["chunks"]
    return [f"results/scoring/{wildcards.scoring}/chunks/{i}.npz" for i in range(count)]


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
