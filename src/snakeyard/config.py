"""The workflow configuration: schema validation, defaults, and checks across keys.

Relative paths in the configuration (data set ``path:`` sources, environment files,
experiment source directories) are looked up first in the working directory and then
in snakeyard's own folder, so the bundled examples work when snakeyard is used as a
module from another project.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from .data.sources import parse_source
from .environments.pip_env import pip_list, pip_only
from .environments.specs import CURRENT, read_spec
from .errors import ConfigError, InvalidNameError
from .files import load_yaml
from .registry.registry import default_root
from .registry.versions import NAME_PATTERN, NAME_RULE, check_alias, check_name
from .sweeps.plan import GOALS
from .training.distributed import resources as distributed_resources
from .training.runner import flag
from .training.snapshot import snapshot_files

# the folder of a run's working directory whose files are kept and registered
OUTPUTS = "outputs"
# folders of results/ that other stages write into (results/datasets/<name>.json,
# results/environments/<name>.json, results/data/<name>/): an experiment of that name
# would have its outputs, results/<experiment>/..., among theirs
RESERVED_EXPERIMENTS = ("data", "datasets", "environments")

NOT_BLANK = r"\S"  # the schema's pattern of a string that must not be empty or blank
# keys whose numbers are handed to the script as text, where "inf" may mean something
FREE_NUMBERS = ("arguments",)

# what the schema's name patterns mean, in words
PATTERN_RULES = {
    f"^{NAME_PATTERN.pattern}$": NAME_RULE,
    "^-{0,2}[A-Za-z0-9][A-Za-z0-9_-]*$": "letters, digits, '-' and '_', after an optional - or --",
}


def _with_defaults(validator_class: type) -> type:
    """A validator class that fills in each property's ``default`` before checking it."""
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):  # noqa: ANN001 - jsonschema hook
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "top level"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {', '.join(map(repr, unknown))} in {where}{hint}"
    if error.validator == "required":
        return f"{where}: {error.message.replace('is a required property', 'is required')}"
    if error.validator == "anyOf" and error.schema.get("description"):
        expected = " ".join(error.schema["description"].split())
        return f"{where}: {error.instance!r} is not valid; use {expected}"
    if error.validator == "pattern" and error.validator_value == NOT_BLANK:
        return f"{where}: {error.instance!r} is empty; give a value, or leave the key out"
    if error.validator == "pattern":
        rule = PATTERN_RULES.get(error.validator_value, f"the form {error.validator_value}")
        return f"{where}: invalid name {error.instance!r}; use {rule}"
    return f"{where}: {error.message}"


def validate(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Check ``config`` against the schema and fill in defaults; errors name the key."""
    _check_finite(config, "")
    schema = load_yaml(Path(schema_path).read_text(encoding="utf-8"))
    validator_class = _with_defaults(jsonschema.validators.validator_for(schema))
    errors = list(validator_class(schema).iter_errors(config))
    if errors:
        error = best_match(errors)
        raise ConfigError(f"config: {_describe(error)}")
    return config


def _check_finite(value: Any, where: str) -> None:
    """Refuse NaN and infinities (YAML's ``.nan``, ``.inf``): a timeout, a size or a
    model's resources must be a number, and JSON schemas let these through."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config: {where}: {value} is not a finite number")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(
        value, list) else ()  # fmt: skip
    for key, item in items:
        if key not in FREE_NUMBERS:
            _check_finite(item, f"{where}.{key}" if where else str(key))


def find_path(value: str, key: str, places: list[Path]) -> Path:
    """Resolve a configured path: absolute as is, else the first of ``places`` holding it."""
    path = Path(value).expanduser()
    if path.is_absolute():
        if path.exists():
            return path
        raise ConfigError(f"{key}: {value!r} does not exist")
    for place in places:
        if (place / path).exists():
            return (place / path).resolve()
    looked = " or ".join(str(p) for p in places)
    raise ConfigError(f"{key}: {value!r} not found in {looked}")


def resolve(config: dict[str, Any], workdir: Path, root: Path) -> dict[str, Any]:
    """Check references between keys and resolve paths; return a new plain dict."""
    places = list(dict.fromkeys([workdir.resolve(), root.resolve()]))
    resolved = copy.deepcopy(config)
    resolved["registry"] = str(config.get("registry") or default_root())
    _check_folder("registry", resolved["registry"])
    if isinstance(resolved.get("datastore"), str):
        _check_folder("datastore", resolved["datastore"])
    for name, dataset in resolved["datasets"].items():
        check_name(name, "data set name")
        kind, what = parse_source(dataset["source"], name)
        if kind == "path":
            dataset["source"] = f"path:{find_path(what, f'datasets.{name}.source', places)}"
        elif kind == "urls":
            dataset["source"] = what
        _check_format(name, dataset)
    for name, environment in resolved["environments"].items():
        check_name(name, "environment name")
        if name == CURRENT:
            raise ConfigError(
                f"environments: {CURRENT!r} is reserved for the workflow's own interpreter "
                "(environment: current in an experiment); name this environment otherwise"
            )
        spec = find_path(environment["file"], f"environments.{name}.file", places)
        data = read_spec(spec)[1]  # a malformed file stops the workflow before any job runs
        if pip_only(data):
            pip_list(spec, data)  # so do -e lines and missing -r files
        environment["file"] = str(spec)
    for name, experiment in resolved["experiments"].items():
        check_name(name, "experiment name")
        key = f"experiments.{name}"
        _check_experiment_name(key, name)
        source = find_path(experiment["source_directory"], f"{key}.source_directory", places)
        _check_script(key, source, experiment["script"])
        snapshot_files(source)  # a link out of it, or a pipe, stops the workflow here
        _check_flags(key, experiment)
        experiment["source_directory"] = str(source)
        for ref, pool in (("dataset", "datasets"), ("environment", "environments")):
            # environment: current is the workflow's own interpreter, defined nowhere
            known = sorted(resolved[pool]) + ([CURRENT] if ref == "environment" else [])
            if experiment.get(ref) is None and ref == "dataset":
                continue  # an experiment without a data set: no data argument is passed
            if experiment[ref] not in known:
                raise ConfigError(
                    f"{key}.{ref}: {experiment[ref]!r} is not defined under {pool} "
                    f"(defined: {', '.join(known) or 'none'})"
                )
        if experiment.get("distributed"):
            experiment["distributed"] = distributed_resources.check(
                f"{key}.distributed", experiment["distributed"]
            )
        model = experiment["model"]
        if model is not None:  # null: an analysis script, whose run registers no model
            model["name"] = check_name(model.get("name") or name, f"{key}.model.name")
            model["path"] = _check_model_path(key, model["path"])
            if model.get("alias"):
                model["alias"] = _check_alias(f"{key}.model.alias", model["alias"])
        if experiment.get("sweep"):
            experiment["sweep"]["goal"] = _check_goal(key, experiment["sweep"]["goal"])
    _resolve_serving(resolved, places)
    return resolved


def _check_goal(key: str, goal: str) -> str:
    """A sweep's goal in any case (the hosted ``PrimaryMetricGoal.MAXIMIZE`` is
    ``"MAXIMIZE"``), as snakeyard spells it."""
    if goal.lower() not in GOALS:
        raise ConfigError(
            f"{key}.sweep.goal: invalid goal {goal!r}: use {' or '.join(GOALS)} (in any case)"
        )
    return goal.lower()


def _resolve_serving(resolved: dict[str, Any], places: list[Path]) -> None:
    """``deployments`` and ``scoring``: names, data sets, entry scripts. Their model
    references are resolved by the registry when the workflow plans its jobs."""
    for name, deployment in resolved.setdefault("deployments", {}).items():
        check_name(name, "deployment name")
        if deployment.get("entry_script"):
            key = f"deployments.{name}.entry_script"
            deployment["entry_script"] = str(find_path(deployment["entry_script"], key, places))
    for name, scoring in resolved.setdefault("scoring", {}).items():
        check_name(name, "scoring name")
        if scoring["dataset"] not in resolved["datasets"]:
            raise ConfigError(
                f"scoring.{name}.dataset: {scoring['dataset']!r} is not defined under datasets "
                f"(defined: {', '.join(sorted(resolved['datasets']))})"
            )


def _check_folder(key: str, value: str) -> None:
    """A folder the workflow writes into (created when missing) must not be a file."""
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"{key}: {value!r} is a file, not a folder; set it to a folder (created when "
            "missing)"
        )


def _check_experiment_name(key: str, name: str) -> None:
    """An experiment's outputs, ``results/<name>/``, must not mix with other stages'."""
    # compared without case: on macOS and Windows, results/Data is results/data
    if name.lower() in RESERVED_EXPERIMENTS:
        raise ConfigError(
            f"{key}: the experiment name {name!r} is reserved, as results/{name}/ holds other "
            f"stages' files (reserved: {', '.join(RESERVED_EXPERIMENTS)}); name it otherwise"
        )


def _check_flags(key: str, experiment: dict[str, Any]) -> None:
    """Each option reaches the script once: no two of the arguments, the sweep's
    parameters (which replace the argument of the same name) and the data argument
    make the same flag, such as ``kernel`` and ``--kernel``, or ``data-folder`` and the
    data argument ``--data-folder``."""
    seen: dict[str, str] = {}
    data_argument = experiment.get("data_argument")
    if data_argument:
        seen[data_argument] = f"{key}.data_argument"
    parameters = (experiment.get("sweep") or {}).get("parameters") or {}
    arguments = experiment.get("arguments") or {}
    if isinstance(arguments, list):
        # words passed as they are; a sweep's parameter replaces the word after its flag
        if data_argument in [str(word) for word in arguments] and experiment.get("dataset"):
            raise ConfigError(
                f"{key}.arguments: the list holds the data argument {data_argument}, which "
                f"snakeyard passes itself with the data set; remove it from the list"
            )
        return
    names = [(f"{key}.arguments.{n}", n) for n in arguments if n not in parameters]
    names += [(f"{key}.sweep.parameters.{n}", n) for n in parameters]
    for where, name in names:
        other = seen.setdefault(flag(name), where)
        if other != where:
            raise ConfigError(
                f"{where}: {name!r} gives the script the option {flag(name)}, as {other} does "
                "already; the script would get it twice: remove or rename one of them"
            )


def _relative_inside(value: str) -> PurePosixPath | None:
    """``value`` as a relative path that stays where it starts (no ``..``), else None."""
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or "\\" in value:
        return None
    return path


def _check_script(key: str, source: Path, script: str) -> None:
    """The script is a file inside the source directory, so the run's snapshot holds it."""
    path = _relative_inside(script)
    # train.py/ (or train.py/.) names a folder, which the run then cannot start
    if path is None or not path.parts or script.split("/")[-1] in ("", "."):
        raise ConfigError(
            f"{key}.script: {script!r} must name a file by its path relative to the source "
            f"directory {source}, without '..' or a trailing '/' (for example train.py or "
            "src/train.py)"
        )
    found = (source / path).resolve()
    if not found.is_relative_to(source.resolve()):
        raise ConfigError(f"{key}.script: {script!r} leads outside the source directory {source}")
    if not found.is_file():
        raise ConfigError(f"{key}.script: training script {script!r} not found in {source}")


def _check_alias(key: str, alias: str) -> str:
    """``model.alias`` follows the alias rules (names, not ``latest`` or a number)."""
    try:
        return check_alias(alias)
    except InvalidNameError as error:
        raise ConfigError(f"{key}: {error}") from None


def _check_model_path(key: str, value: str) -> str:
    """``model.path`` names something under the run's ``outputs/``; returns it normalised."""
    path = _relative_inside(value)
    if path is None or len(path.parts) < 2 or path.parts[0] != OUTPUTS:
        raise ConfigError(
            f"{key}.model.path: {value!r} must name a file or folder under {OUTPUTS}/ of the "
            f"run's working directory, without '..' (for example {OUTPUTS}/model.joblib)"
        )
    return path.as_posix()


def _check_format(name: str, dataset: dict[str, Any]) -> None:
    """A tabular data set names its label column; no other format takes one."""
    tabular = dataset.get("format") == "tabular"
    if tabular and not dataset.get("label_column"):
        raise ConfigError(f"datasets.{name}: format tabular needs a label_column")
    if not tabular and dataset.get("label_column"):
        raise ConfigError(
            f"datasets.{name}.label_column: only used with format: tabular "
            f"(the format is {dataset.get('format', 'files')})"
        )
