"""The hosted SDK's stand-in (``azureml.core`` when the real SDK is absent), run by the
runner in real processes without Snakemake: scripts written for the hosted service use
it unchanged, and what they log lands in the run record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from snakeyard.registry.registry import Registry
from snakeyard.training.runner import RunFailed, exception_line, execute

ROOT = Path(__file__).resolve().parent.parent
SHIM = ROOT / "src" / "snakeyard" / "training" / "hosted"
ENVIRONMENT = {"name": "e", "version": 1, "method": "recorded-interpreter"}

WORKSPACE_SCRIPT = """
import json, os, sys
from azureml.core import Dataset, Experiment, Model, Run, Workspace
from azureml.core.run import _OfflineRun

run = Run.get_context()
assert not isinstance(run, _OfflineRun) and not run.id.startswith("OfflineRun")
ws = Workspace.from_config()
assert ws.name == run.experiment.workspace.name
seen = {
    "named": Workspace.get("mine", subscription_id="x", resource_group="y").name,
    "experiment": run.experiment.name,
    "workspace": run.experiment.workspace.name,
    "workspace_datasets": sorted(ws.datasets),
    "argv": sys.argv[1:],
}
flowers = run.input_datasets["flowers"]
assert run.input_datasets["training"].id == flowers.id
seen["input"] = [flowers.name, flowers.version, flowers.to_path()]
# a hosted script consuming it as_mount() gets a path, and uses it as one
seen["as_path"] = os.path.isfile(os.path.join(flowers, "rows.csv"))
by_name = Dataset.get_by_name(ws, "flowers")
by_id = Dataset.get_by_id(ws, "flowers:1")
seen["by_name"] = [by_name.id, by_id.id]
downloaded = by_name.download(target_path="copy", overwrite=True)
seen["downloaded"] = [os.path.relpath(p) for p in downloaded]
with by_name.mount() as mounted:
    seen["mounted"] = sorted(os.listdir(mounted.mount_point))
table = Dataset.get_by_name(ws, "table").to_pandas_dataframe()
seen["table"] = list(table.columns)

run.log("accuracy", 0.9)
run.add_properties({"kind": "svm"})
seen["properties"] = run.get_properties()
run.display_name = "first try"
seen["display_name"] = run.display_name
seen["status"] = run.get_status()
details = run.get_details()
seen["details"] = [details["runId"] == run.id, details["status"], details["inputDatasets"][0]["dataset"]]
child = run.child_run("fold-1")
child.log("fold_accuracy", 0.8)
child.complete()
more = run.create_children(tag_key="fold", tag_values=[2, 3])
more[0].log("fold_accuracy", 0.7)
seen["recursive"] = sorted(run.get_metrics(recursive=True))
seen["parent"] = [child.parent.id == run.id, run.parent]

os.makedirs("outputs", exist_ok=True)
open("outputs/model.pkl", "wb").write(b"weights")
model = run.register_model("flower-model", "outputs/model.pkl", tags={"by": "script"})
seen["registered"] = [model.name, model.version, Model.get_model_path("flower-model")]
other = Model.register(ws, "outputs/model.pkl", "flower-copy", tags={"k": "v"})
seen["model_register"] = [other.id, Model(ws, "flower-copy").tags]
run.upload_file("outputs/notes.txt", __file__)
seen["files"] = run.get_file_names()
run.download_file("outputs/model.pkl", "fetched.pkl")
seen["fetched"] = open("fetched.pkl", "rb").read().decode()
try:
    run.get_secret("token")
except AttributeError as error:
    seen["missing"] = str(error)
try:
    from azureml.core import ScriptRunConfig
except ImportError as error:
    seen["missing_import"] = str(error)
print("SEEN " + json.dumps(seen), flush=True)
"""


def registry_with_data(tmp_path: Path) -> tuple[Registry, dict]:
    """A registry holding a file data set ``flowers`` and a tabular one ``table``."""
    registry = Registry(tmp_path / "registry")
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("a,label\n1,0\n2,1\n")
    flowers = registry.upload_dataset("flowers", data)
    table = tmp_path / "table"
    table.mkdir()
    (table / "t.csv").write_text("x,y\n1,0\n")
    registry.upload_dataset(
        "table", table, data_format="tabular",
        schema={"file": "t.csv", "label_column": "y", "columns": ["x", "y"]},
    )  # fmt: skip
    receipt = {k: flowers[k] for k in ("name", "version", "content_hash", "location")}
    return registry, {**receipt, "format": "files"}


def run_script(tmp_path: Path, registry: Registry, script: str, dataset: dict | None,
               **options) -> dict:  # fmt: skip
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "train.py").write_text(script)
    return execute(
        registry, experiment="hosted", source_directory=source, script="train.py",
        dataset=dataset, environment=ENVIRONMENT, log=lambda line: None, **options,
    )  # fmt: skip


def seen_in(record: dict) -> dict:
    log = (Path(record["folder"]) / "work/logs/std_log.txt").read_text()
    [line] = [line for line in log.splitlines() if line.startswith("SEEN ")]
    return json.loads(line[len("SEEN ") :])


def test_a_hosted_script_reaches_workspace_data_sets_models_and_child_runs(tmp_path: Path):
    registry, dataset = registry_with_data(tmp_path)
    record = run_script(
        tmp_path, registry, WORKSPACE_SCRIPT, dataset, input_name="training",
        arguments=["--C", 0.5, "--verbose"],
    )  # fmt: skip
    seen = seen_in(record)
    assert seen["experiment"] == "hosted" and seen["workspace"] == "registry"
    assert seen["named"] == "mine"
    assert seen["workspace_datasets"] == ["flowers", "table"]
    assert seen["argv"][:3] == ["--C", "0.5", "--verbose"]
    assert seen["input"] == ["flowers", 1, ["/rows.csv"]] and seen["as_path"]
    assert seen["by_name"] == ["flowers:1", "flowers:1"]
    assert seen["downloaded"] == ["copy/rows.csv"] and seen["mounted"] == ["rows.csv"]
    assert seen["table"] == ["x", "y"]
    assert seen["properties"] == {"kind": "svm"} and seen["display_name"] == "first try"
    assert seen["status"] == "Running"
    assert seen["details"] == [True, "Running", {"name": "flowers", "version": 1}]
    assert seen["parent"] == [True, None]  # not a sweep trial: no parent, as before
    assert len(seen["recursive"]) == 4  # the run and its three children

    # the model registered from inside the script carries the run's lineage
    name, version, path = seen["registered"]
    model = registry.get_model("flower-model")
    assert (name, version) == ("flower-model", 1) and path == model["artifact_path"]
    assert model["run_id"] == record["id"] and model["experiment"] == "hosted"
    assert model["dataset"]["name"] == "flowers" and model["metrics"] == {"accuracy": 0.9}
    assert model["tags"] == {"by": "script"}
    assert seen["model_register"] == ["flower-copy:1", {"k": "v"}]

    assert "outputs/model.pkl" in seen["files"] and "logs/std_log.txt" in seen["files"]
    assert "outputs/notes.txt" in seen["files"] and seen["fetched"] == "weights"
    assert "Run.get_secret is not provided by snakeyard" in seen["missing"]
    assert "azureml.core.ScriptRunConfig is not provided by snakeyard" in seen["missing_import"]

    # the record keeps the properties and the child runs
    assert record["status"] == "Completed" and record["properties"] == {"kind": "svm"}
    children = {c["name"]: c for c in record["children"]}
    assert children["fold-1"]["metrics"] == {"fold_accuracy": 0.8}
    assert [c["tags"] for c in record["children"][1:]] == [{"fold": "2"}, {"fold": "3"}]
    assert all(c["status"] == "Completed" for c in record["children"])


FAIL_SCRIPT = """
from azureml.core import Run
run = Run.get_context()
run.log("loss", 1.5)
run.fail(error_details="the loss diverged")
print("still here", flush=True)
"""


def test_a_script_that_calls_fail_leaves_a_failed_run_that_names_why(tmp_path: Path):
    registry, dataset = registry_with_data(tmp_path)
    with pytest.raises(RunFailed) as failed:
        run_script(tmp_path, registry, FAIL_SCRIPT, dataset, arguments={})
    record = failed.value.record
    assert record["status"] == "Failed" and record["exit_code"] == 0
    assert record["error"] == "the script marked the run Failed with run.fail(): the loss diverged"
    assert record["metrics"] == {"loss": 1.5}


OLD_NUMPY_SCRIPT = """
import sys
print("training on", sys.argv[1:])
def fit():
    raise AttributeError("module 'numpy' has no attribute 'float'")
try:
    fit()
finally:
    print("see https://numpy.org/devdocs/release/1.20.0-notes.html#deprecations", file=sys.stderr)
"""


def test_the_failure_summary_quotes_the_exception_line_not_the_last_line(tmp_path: Path):
    registry, _ = registry_with_data(tmp_path)
    with pytest.raises(RunFailed) as failed:
        run_script(tmp_path, registry, OLD_NUMPY_SCRIPT, None, arguments={})
    message = str(failed.value)
    assert "(its error: AttributeError: module 'numpy' has no attribute 'float')" in message
    assert failed.value.record["dataset"] is None  # no data set, no data argument
    assert failed.value.record["command"][2:] == []


def test_exception_line_skips_frames_and_what_follows(tmp_path: Path):
    log = tmp_path / "log.txt"
    log.write_text(
        "Traceback (most recent call last):\n"
        '  File "train.py", line 3, in <module>\n'
        "    X = X.astype(np.float)\n"
        "AttributeError: module 'numpy' has no attribute 'float'.\n"
        "`np.float` was a deprecated alias; see\n"
        "https://numpy.org/devdocs/release/1.20.0-notes.html#deprecations\n"
    )
    assert exception_line(log) == "AttributeError: module 'numpy' has no attribute 'float'."
    log.write_text("no traceback here\n")
    assert exception_line(log) == ""


OFFLINE_SCRIPT = """
from azureml.core.run import Run, _OfflineRun
run = Run.get_context()
print(type(run).__name__, isinstance(run, _OfflineRun), run.id.startswith("OfflineRun"))
run.log("accuracy", 0.5)
run.parent
"""


def test_by_hand_the_run_is_an_offline_run_that_prints(tmp_path: Path):
    script = tmp_path / "train.py"
    script.write_text(OFFLINE_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEYARD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SHIM), str(ROOT / "src")])
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "_OfflineRun True True" in done.stdout
    assert "Attempted to log scalar metric accuracy: 0.5" in done.stdout


def test_an_installed_sdks_offline_run_is_recorded_and_still_does_its_own_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # a small package in the shape of the real SDK (the PyPI one is tested in
    # test_hosted_workflow.py): its offline run only prints
    sdk = tmp_path / "site" / "azureml" / "core"
    sdk.mkdir(parents=True)
    (sdk.parent / "__init__.py").write_text("")
    (sdk / "__init__.py").write_text("from .run import Run\nVERSION = 'real'\n")
    (sdk / "run.py").write_text(
        "class _OfflineRun:\n"
        "    id = 'OfflineRun_1'\n"
        "    def log(self, name, value, description=''):\n"
        "        print('SDK got', name, value)\n"
        "    def tag(self, name, value=None):\n"
        "        print('SDK tagged', name, value)\n"
        "class Run:\n"
        "    @classmethod\n"
        "    def get_context(cls):\n"
        "        return _OfflineRun()\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(sdk.parent.parent))
    registry, _ = registry_with_data(tmp_path)
    script = (
        "import azureml.core\n"
        "from azureml.core.run import Run\n"
        "run = Run.get_context()\n"
        "run.log('accuracy', 0.5)\n"
        "run.tag('team', 'vision')\n"
        "print('version', azureml.core.VERSION)\n"
    )
    record = run_script(tmp_path, registry, script, None, arguments={})
    printed = (Path(record["folder"]) / "work/logs/std_log.txt").read_text()
    assert "SDK got accuracy 0.5" in printed and "SDK tagged team vision" in printed
    assert "version real" in printed  # the SDK's own package, not the stand-in
    assert record["metrics"] == {"accuracy": 0.5} and record["tags"] == {"team": "vision"}


def test_a_sweep_trials_parent_id_is_run_id_shaped_and_names_no_recorded_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from snakeyard.errors import NotFoundError
    from snakeyard.registry.registry import RUN_ID_PATTERN
    from snakeyard.training.hosted.azureml.core.run import Run
    from snakeyard.training.run_extras import PARENT_DIR_VARIABLE

    # the sweep stage records the parent run, with its real id, only after the trials
    monkeypatch.setenv(PARENT_DIR_VARIABLE, str(tmp_path / "parent"))
    trial = Run(str(tmp_path / "run"), "sklearn-iris_1796000000_0a1b2c3d", "sklearn-iris")
    assert trial.parent.id == "sklearn-iris_0_00000000"
    assert RUN_ID_PATTERN.fullmatch(trial.parent.id)
    registry = Registry(tmp_path / "registry")
    # `runs show` answers "no run with id ...", not "invalid run id"
    with pytest.raises(NotFoundError, match="no run with id 'sklearn-iris_0_00000000'"):
        registry.get_run(trial.parent.id)
