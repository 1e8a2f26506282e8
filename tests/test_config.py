"""Configuration checks: each mistake is named before any job runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT, default_config
from snakeyard.config import resolve, validate
from snakeyard.errors import SnakeyardError

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def check(config: dict, workdir: Path = ROOT) -> dict:
    return resolve(validate(config, SCHEMA), workdir, ROOT)


def test_default_config_is_valid_and_gets_defaults():
    config = default_config()
    del config["experiments"]["sklearn-iris"]["model"]
    resolved = check(config)
    experiment = resolved["experiments"]["sklearn-iris"]
    assert experiment["model"]["name"] == "sklearn-iris"
    assert experiment["model"]["path"] == "outputs/model.joblib"
    assert Path(experiment["source_directory"]).is_dir()
    assert resolved["registry"] == "registry"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(colour="blue"), r"unknown key 'colour' in top level"),
        (
            lambda c: c["experiments"]["sklearn-iris"].update(scirpt="x.py"),
            r"unknown key 'scirpt' in experiments.sklearn-iris; allowed keys: arguments,",
        ),
        (
            lambda c: c["experiments"]["sklearn-iris"]["arguments"].update(penalty=[1, 2]),
            r"experiments.sklearn-iris.arguments.penalty: \[1, 2\] is not of type",
        ),
        (
            lambda c: c["experiments"]["sklearn-iris"]["resources"].update(cpus="two"),
            r"experiments.sklearn-iris.resources.cpus: 'two' is not of type 'integer'",
        ),
        (
            lambda c: c["experiments"]["sklearn-iris"].pop("script"),
            r"experiments.sklearn-iris: 'script' is required",
        ),
        (
            lambda c: c.pop("datasets"),
            r"experiments.sklearn-iris.dataset: 'iris' is not defined under datasets "
            r"\(defined: none\)",
        ),
        (
            lambda c: c["experiments"].update({"a/b": c["experiments"]["sklearn-iris"]}),
            r"experiments: invalid name 'a/b'",
        ),
    ],
)
def test_schema_errors_name_the_key(change, message):
    config = default_config()
    change(config)
    with pytest.raises(SnakeyardError, match=message):
        check(config)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["datasets"]["iris"].update(source="s3:bucket/iris"),
            r"data set 'iris': unknown source 's3:bucket/iris'; use sklearn:<iris",
        ),
        (
            lambda c: c["datasets"]["iris"].update(source="sklearn:mnist"),
            r"unknown scikit-learn data set 'mnist'",
        ),
        (
            lambda c: c["datasets"]["iris"].update(source="path:no/such.csv"),
            r"datasets.iris.source: 'no/such.csv' not found in",
        ),
        (
            lambda c: c["experiments"]["sklearn-iris"].update(script="missing.py"),
            r"experiments.sklearn-iris.script: training script 'missing.py' not found in",
        ),
        (
            lambda c: c["experiments"]["sklearn-iris"].update(dataset="mnist"),
            r"experiments.sklearn-iris.dataset: 'mnist' is not defined under datasets",
        ),
        (
            lambda c: c["environments"]["sklearn"].update(file="envs/nope.yaml"),
            r"environments.sklearn.file: 'envs/nope.yaml' not found",
        ),
        (
            lambda c: c["experiments"]["sklearn-iris"]["model"].update(name="a..b"),
            r"invalid experiments.sklearn-iris.model.name 'a..b'",
        ),
    ],
)
def test_references_and_paths_are_checked(change, message, tmp_path):
    config = default_config()
    change(config)
    with pytest.raises(SnakeyardError, match=message):
        check(config, tmp_path)


def test_relative_paths_prefer_the_working_directory(tmp_path: Path):
    (tmp_path / "experiments" / "sklearn-iris").mkdir(parents=True)
    (tmp_path / "experiments" / "sklearn-iris" / "train.py").write_text("print('mine')\n")
    resolved = check(default_config(), tmp_path)
    assert resolved["experiments"]["sklearn-iris"]["source_directory"] == str(
        (tmp_path / "experiments" / "sklearn-iris").resolve()
    )
    assert resolved["environments"]["sklearn"]["file"] == str(ROOT / "envs" / "sklearn.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dependencies:\n  - numpy\n  - [oops\n", r"bad.yaml, line 4: "),
        ("name: x\nchannels: [conda-forge]\n", r"bad.yaml, line 1: expected a mapping with a 'dependencies:' list"),
        ("dependencies:\n  - numpy\n  - 3\n", r"bad.yaml, line 3: dependency 2 \(3\) must be"),
    ],
)  # fmt: skip
def test_malformed_environment_file_names_file_and_line(tmp_path: Path, text: str, message: str):
    (tmp_path / "bad.yaml").write_text(text)
    config = default_config()
    config["environments"]["sklearn"]["file"] = str(tmp_path / "bad.yaml")
    with pytest.raises(SnakeyardError, match=message):
        check(config, tmp_path)


def test_bad_argument_name_says_what_is_allowed():
    config = default_config()
    config["experiments"]["sklearn-iris"]["arguments"]["bad name"] = 1
    with pytest.raises(
        SnakeyardError,
        match=r"experiments.sklearn-iris.arguments: invalid name 'bad name'; use letters, digits",
    ):
        check(config)


def test_switches_and_no_data_argument():
    from snakeyard.training.runner import arguments_list

    assert arguments_list({"kernel": "rbf", "verbose": True, "quiet": False, "-C": 2}) == [
        "--kernel", "rbf", "--verbose", "-C", "2",
    ]  # fmt: skip
    config = default_config()
    config["experiments"]["sklearn-iris"]["data_argument"] = None
    config["experiments"]["sklearn-iris"]["arguments"]["shrinking"] = True
    assert check(config)["experiments"]["sklearn-iris"]["data_argument"] is None


# a model.path or script that leaves the run's outputs or the source directory is refused
# before any job runs (the trust issue, point 3)
@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../../../../etc/hostname", "", ".", "outputs", "model.joblib",
             "outputs/../../x.pkl", "outputs\\model.joblib"],
)  # fmt: skip
def test_model_path_outside_the_run_outputs_is_refused(path: str):
    config = default_config()
    config["experiments"]["sklearn-iris"]["model"] = {"path": path}
    with pytest.raises(SnakeyardError, match=r"experiments\.sklearn-iris\.model\.path: .* under outputs/"):
        check(config)


def test_model_path_under_outputs_is_kept_normalised():
    config = default_config()
    config["experiments"]["sklearn-iris"]["model"] = {"path": "outputs/./models/m.joblib"}
    resolved = check(config)
    assert resolved["experiments"]["sklearn-iris"]["model"]["path"] == "outputs/models/m.joblib"


@pytest.mark.parametrize("script", ["/etc/hostname", "../sklearn-mnist/train.py", ""])
def test_script_outside_the_source_directory_is_refused(script: str):
    config = default_config()
    config["experiments"]["sklearn-iris"]["script"] = script
    with pytest.raises(SnakeyardError, match=r"experiments\.sklearn-iris\.script: .*"):
        check(config)


def test_script_linked_out_of_the_source_directory_is_refused(tmp_path: Path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.py").symlink_to(ROOT / "experiments" / "sklearn-iris" / "train.py")
    config = default_config()
    config["experiments"]["sklearn-iris"]["source_directory"] = str(source)
    with pytest.raises(SnakeyardError, match="leads outside the source directory"):
        check(config)


@pytest.mark.parametrize("script", ["train.py/", "train.py/.", "./train.py/"])
def test_a_script_path_that_names_a_folder_is_refused(script: str):
    # train.py/ finds the file when checked, but the run could not start it
    config = default_config()
    config["experiments"]["sklearn-iris"]["script"] = script
    with pytest.raises(
        SnakeyardError,
        match=rf"experiments\.sklearn-iris\.script: '{re.escape(script)}' must name a file by "
        r"its path relative to the source directory .*, without '\.\.' or a trailing '/'",
    ):
        check(config)


@pytest.mark.parametrize("name", ["data", "datasets", "environments", "Datasets"])
def test_experiment_names_of_other_stages_results_are_reserved(name: str):
    # results/datasets/<data set>.json, results/environments/<env>.json, results/data/<data set>/
    # would mix with results/<experiment>/...: a data set named run made collect read its
    # upload receipt as a run record
    config = default_config()
    config["experiments"] = {name: config["experiments"]["sklearn-iris"]}
    with pytest.raises(
        SnakeyardError,
        match=rf"^experiments\.{name}: the experiment name '{name}' is reserved, as "
        rf"results/{name}/ holds other stages' files \(reserved: data, datasets, environments\)",
    ):
        check(config)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # the data argument again, as a sweep parameter or an argument
        (lambda e: e.update(sweep={"parameters": {"data-folder": "choice(a, b)"},
                                   "primary_metric": "Accuracy"}),
         r"experiments\.sklearn-iris\.sweep\.parameters\.data-folder: 'data-folder' gives the "
         r"script the option --data-folder, as experiments\.sklearn-iris\.data_argument does"),
        (lambda e: e["arguments"].update({"--data-folder": "x"}),
         r"arguments\.--data-folder: '--data-folder' gives the script the option --data-folder"),
        # one option spelt two ways
        (lambda e: e["arguments"].update({"--kernel": "rbf"}),
         r"arguments\.--kernel: '--kernel' gives the script the option --kernel, as "
         r"experiments\.sklearn-iris\.arguments\.kernel does already"),
        (lambda e: e.update(sweep={"parameters": {"--penalty": [1, 2]},
                                   "primary_metric": "Accuracy"}),
         r"parameters\.--penalty: '--penalty' gives the script the option --penalty, as "
         r"experiments\.sklearn-iris\.arguments\.penalty does already"),
    ],
)  # fmt: skip
def test_an_option_the_script_would_get_twice_is_refused(change, message):
    config = default_config()
    change(config["experiments"]["sklearn-iris"])
    with pytest.raises(SnakeyardError, match=message):
        check(config)


def test_a_sweep_parameter_replaces_the_argument_of_the_same_name():
    config = default_config()
    config["experiments"]["sklearn-iris"]["sweep"] = {
        "parameters": {"kernel": "choice(linear, rbf)"}, "primary_metric": "Accuracy",
    }  # fmt: skip
    assert check(config)["experiments"]["sklearn-iris"]["arguments"]["kernel"] == "linear"


def test_hosted_shapes_of_configuration_are_accepted():
    config = default_config()
    experiment = config["experiments"]["sklearn-iris"]
    experiment.update(arguments=["--C", 0.5, "--verbose"], model=None)
    experiment.update(sweep={"parameters": {"C": "choice(1, 2)"}, "sampling": "grid",
                             "primary_metric": "accuracy", "goal": "MAXIMIZE"})  # fmt: skip
    config["experiments"]["analysis"] = {**experiment, "dataset": None, "sweep": None}
    del config["experiments"]["analysis"]["sweep"]
    resolved = check(config)["experiments"]
    assert resolved["sklearn-iris"]["arguments"] == ["--C", 0.5, "--verbose"]
    assert resolved["sklearn-iris"]["model"] is None
    assert resolved["sklearn-iris"]["sweep"]["goal"] == "maximize"
    assert resolved["analysis"]["dataset"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(sweep={"parameters": {"C": "choice(1, 2)"}, "sampling": "grid",
                                   "primary_metric": "a", "goal": "up"}),
         r"experiments.sklearn-iris.sweep.goal: invalid goal 'up': use maximize or minimize"),
        (lambda e: e.update(arguments=["--data-folder", "x"]),
         r"experiments.sklearn-iris.arguments: the list holds the data argument --data-folder"),
        (lambda e: e.update(arguments=[["nested"]]),
         r"experiments.sklearn-iris.arguments.0: \['nested'\] is not of type"),
    ],
)  # fmt: skip
def test_hosted_shapes_that_cannot_work_are_refused(change, message):
    config = default_config()
    change(config["experiments"]["sklearn-iris"])
    with pytest.raises(SnakeyardError, match=message):
        check(config)
