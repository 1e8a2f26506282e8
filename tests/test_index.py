"""The registry's listing index: fast listings that never contradict the folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snakeyard.cli import main
from snakeyard.errors import MetadataError
from snakeyard.registry.index import INDEX, PACK_AFTER, run_stamp
from snakeyard.registry.registry import Registry


def register(registry: Registry, tmp_path: Path, name: str, i: int, **metrics: float) -> dict:
    source = tmp_path / "src" / f"{name}-{i}.pkl"
    source.parent.mkdir(exist_ok=True)
    source.write_text(f"model {i}")
    return registry.register_model(name, source, metrics=metrics or {"accuracy": i / 100})


def write_run(registry: Registry, experiment: str, n: int, status: str = "Completed", **extra):
    run_id = f"{experiment}_17000000{n:02d}_{n:08x}"
    folder = registry.runs_root / experiment / run_id
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "id": run_id, "experiment": experiment, "status": status, "exit_code": 0,
        "start": f"2026-11-30T10:{n // 60:02d}:{n % 60:02d}Z", "end": None,
        "duration_seconds": 1.0, "host": "h", "metrics": {"accuracy": n / 100, "loss": [3, 2, 1]},
        "arguments": {"C": n}, **extra,
    }  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record))
    return run_id


def listing(capsys, registry: Registry, *words: str) -> list:
    assert main(["--registry", str(registry.root), *words, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_versions_listed_from_a_packed_index_match_the_folders(tmp_path: Path):
    registry = Registry(tmp_path / "registry")
    for i in range(1, PACK_AFTER + 6):
        register(registry, tmp_path, "m", i)
    index = registry.models.root / "m" / INDEX
    listed = registry.model_versions("m")
    assert any(p.name.startswith("pack") for p in index.iterdir()), "a listing packs them"
    assert [v["version"] for v in listed] == list(range(1, PACK_AFTER + 6))
    assert listed[4]["metrics"] == {"accuracy": 0.05} and "files" not in listed[4]
    # the index lost: the same listing, from the folders, and the index written again
    shutil.rmtree(index)
    assert registry.model_versions("m") == listed
    assert index.is_dir()
    assert registry.model_versions("m") == listed, "from the pack just written"


def test_a_pack_of_an_older_snakeyard_is_read_and_the_new_one_named_apart(tmp_path: Path):
    # a pack without the line of shared values (snakeyard before pack.v2) still answers;
    # the packs written now have a name an older snakeyard passes over, so that it never
    # reads summaries without their shared values
    registry = Registry(tmp_path / "registry")
    for i in range(1, PACK_AFTER + 2):
        register(registry, tmp_path, "m", i)
    listed = registry.model_versions("m")
    index = registry.models.root / "m" / INDEX
    [pack] = [p for p in index.iterdir() if p.name.startswith("pack")]
    assert pack.name == f"pack.v2-{PACK_AFTER + 1}"
    shared = json.loads(pack.read_text().splitlines()[1].rstrip(","))["shared"]
    assert shared["name"] == "m" and shared["kind"] == "model"
    rows = [json.loads(line.rstrip(",")) for line in pack.read_text().splitlines()[2:-1]]
    old = [{**row, **shared} for row in rows]
    old[0]["description"] = "as the old pack says"  # shows that the listing read it
    pack.unlink()
    (index / f"pack-{PACK_AFTER + 1}").write_text(json.dumps(old))
    listed[0]["description"] = "as the old pack says"
    assert registry.model_versions("m") == listed


def test_the_folders_win_over_the_index(tmp_path: Path):
    registry = Registry(tmp_path / "registry")
    for i in range(1, 4):
        register(registry, tmp_path, "m", i)
    registry.model_versions("m")  # the index holds all three
    # a version's metadata changed behind the index's back: the listing reads the file
    meta_file = registry.models.root / "m" / "2" / "model.json"
    meta = json.loads(meta_file.read_text())
    meta["description"] = "edited"
    meta_file.write_text(json.dumps(meta))
    # a version folder gone (removed by hand): not listed although the index has it
    shutil.rmtree(registry.models.root / "m" / "3")
    listed = registry.model_versions("m")
    assert [(v["version"], v["description"]) for v in listed] == [(1, ""), (2, "edited")]
    assert registry.list_models()[0]["versions"] == 2


def test_a_model_json_edited_in_place_is_caught_behind_a_pack(tmp_path: Path):
    # the summaries packed, with their shared values on one line: an edit in place (same
    # inode) of one version's model.json still shows, and so does one of a shared value
    registry = Registry(tmp_path / "registry")
    for i in range(1, PACK_AFTER + 3):
        register(registry, tmp_path, "m", i)
    registry.model_versions("m")
    assert registry.model_versions("m")[4]["framework"] is None  # from the pack
    meta_file = registry.models.root / "m" / "5" / "model.json"
    meta = json.loads(meta_file.read_text())
    meta["framework"] = "edited"
    with open(meta_file, "r+") as handle:
        handle.seek(0), handle.truncate(), handle.write(json.dumps(meta))
    listed = registry.model_versions("m")
    assert [v["framework"] for v in listed[3:6]] == [None, "edited", None]


def test_verify_reports_an_index_that_disagrees_and_rebuild_mends_it(tmp_path: Path, capsys):
    registry = Registry(tmp_path / "registry")
    register(registry, tmp_path, "m", 1)
    run_id = write_run(registry, "exp", 1)
    registry.model_versions("m"), registry.run_lines()
    index = registry.models.root / "m" / INDEX
    summary_file = next(index.iterdir())
    summary = json.loads(summary_file.read_text())
    summary["metrics"] = {"accuracy": 1.0}  # a damaged index, its stamp unchanged
    summary_file.write_text(json.dumps(summary))
    run_summary = registry.runs_root / "exp" / INDEX / run_id
    run_summary.write_text(run_summary.read_text().replace("0.01", "0.99"))
    assert main(["--registry", str(registry.root), "verify"]) == 1
    err = capsys.readouterr().err
    assert "the summary of version 1 disagrees with its folder" in err
    assert f"the summary of run {run_id} disagrees with its record" in err
    assert main(["--registry", str(registry.root), "index", "rebuild"]) == 0
    assert "1 model and 1 experiment" in capsys.readouterr().out
    assert main(["--registry", str(registry.root), "verify"]) == 0
    assert registry.model_versions("m")[0]["metrics"] == {"accuracy": 0.01}


def test_models_sorted_by_a_metric(tmp_path: Path, capsys):
    registry = Registry(tmp_path / "registry")
    for i, accuracy in enumerate([0.5, 0.9, 0.7], start=1):
        register(registry, tmp_path, "m", i, accuracy=accuracy)
    register(registry, tmp_path, "other", 1, f1=0.3)
    best = listing(capsys, registry, "models", "versions", "m", "--sort", "accuracy")
    assert [v["version"] for v in best] == [2, 3, 1]
    worst = listing(capsys, registry, "models", "versions", "m", "--sort", "accuracy", "--ascending")
    assert [v["version"] for v in worst] == [1, 3, 2]
    models = listing(capsys, registry, "models", "list", "--sort", "f1")
    assert [m["name"] for m in models] == ["other", "m"]  # m has no f1: after
    # a metric no version logged is no error (docs/cli.md): the usual order
    unsorted = listing(capsys, registry, "models", "list", "--sort", "nope")
    assert [m["name"] for m in unsorted] == ["m", "other"]


def test_a_damaged_line_of_a_version_pack_costs_only_that_version(tmp_path: Path):
    registry = Registry(tmp_path / "registry")
    for i in range(1, PACK_AFTER + 3):
        register(registry, tmp_path, "m", i)
    listed = registry.model_versions("m")  # writes the pack
    [pack] = [p for p in (registry.models.root / "m" / INDEX).iterdir() if p.name.startswith("pack")]
    lines = pack.read_text().splitlines()
    assert lines[0] == "[" and lines[-1] == "]"  # one JSON array, one summary a line
    lines[3] = '{"version": 3, "metrics": {"accuracy": 1.0}, "stam'  # damaged on disk
    pack.write_text("\n".join(lines) + "\n")
    assert registry.model_versions("m") == listed  # version 3 from its folder, the rest kept


def test_a_run_line_of_another_layout_is_read_again_from_the_record(tmp_path: Path, capsys):
    # a summary line from a snakeyard that kept other fields before the JSON (or a
    # damaged one) is not trusted, even with the right inode: the record is read
    registry = Registry(tmp_path / "registry")
    run_id = write_run(registry, "exp", 1)
    stamp = run_stamp(str(registry.runs_root / "exp" / run_id / "run.json"))
    stale = {"id": run_id, "experiment": "exp", "status": "Completed", "metrics": {"accuracy": 9}}
    summary = registry.runs_root / "exp" / INDEX / run_id
    summary.parent.mkdir()
    summary.write_text(f"2026-11-30T10:00:01Z\t{run_id}\tCompleted\t{stamp}\t{json.dumps(stale)}\n")
    assert listing(capsys, registry, "runs", "list")[0]["metrics"] == {"accuracy": 0.01, "loss": 1}
    assert main(["--registry", str(registry.root), "runs", "list"]) == 0
    assert "accuracy=0.01, loss=3 values, last 1" in capsys.readouterr().out  # the table, anew
    assert main(["--registry", str(registry.root), "verify"]) == 0


def test_runs_list_limit_reverse_and_status_from_the_index(tmp_path: Path, capsys):
    registry = Registry(tmp_path / "registry")
    ids = [write_run(registry, "exp", n) for n in range(1, PACK_AFTER + 10)]
    failed = write_run(registry, "other", 99, status="Failed", error="boom\ntraceback")
    every = listing(capsys, registry, "runs", "list")
    assert [r["id"] for r in every] == ids + [failed]  # oldest first, across experiments
    assert every[0]["metrics"] == {"accuracy": 0.01, "loss": 1}  # a list by its last value
    assert any(p.name.startswith("pack") for p in (registry.runs_root / "exp" / INDEX).iterdir())
    newest = listing(capsys, registry, "runs", "list", "--reverse", "--limit", "2")
    assert [r["id"] for r in newest] == [failed, ids[-1]]
    assert listing(capsys, registry, "runs", "list", "--status", "failed")[0]["error"] == "boom"
    best = listing(capsys, registry, "runs", "list", "--experiment", "exp", "--sort", "accuracy",
                   "--limit", "1")  # fmt: skip
    assert [r["id"] for r in best] == [ids[-1]]
    assert main(["--registry", str(registry.root), "runs", "list", "--limit", "0"]) == 1
    assert "invalid --limit '0'" in capsys.readouterr().err
    # a table as well, with every run
    assert main(["--registry", str(registry.root), "runs", "list"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(ids) + 2


def test_a_running_run_is_read_from_its_record(tmp_path: Path, capsys):
    registry = Registry(tmp_path / "registry")
    run_id = write_run(registry, "exp", 1, status="Running")
    assert listing(capsys, registry, "runs", "list")[0]["status"] in ("Running", "Lost")
    write_run(registry, "exp", 1, status="Completed")  # the run ended since
    assert listing(capsys, registry, "runs", "list")[0]["status"] == "Completed"
    assert (registry.runs_root / "exp" / INDEX / run_id).is_file()


WRITER = """
import sys
from pathlib import Path
from snakeyard.registry.registry import Registry
registry, me = Registry(sys.argv[1]), sys.argv[2]
for i in range(15):
    source = Path(sys.argv[1]).parent / f"{me}-{i}.pkl"
    source.write_text(f"{me} {i}")
    registry.register_model("shared", source)
    registry.model_versions("shared")  # listing (and packing) while others write
"""


def test_concurrent_writers_and_listers_lose_no_version(tmp_path: Path):
    root = tmp_path / "registry"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root), f"w{n}"]) for n in range(4)
    ]
    assert [w.wait() for w in writers] == [0, 0, 0, 0]
    listed = Registry(root).model_versions("shared")
    assert [v["version"] for v in listed] == list(range(1, 61))
    assert sorted(v["uid"] for v in listed) == sorted(
        json.loads((root / "models" / "shared" / str(n) / "model.json").read_text())["uid"]
        for n in range(1, 61)
    )


def test_an_index_folder_linked_out_of_the_registry_is_neither_read_nor_written(tmp_path: Path):
    registry = Registry(tmp_path / "registry")
    register(registry, tmp_path, "m", 1)
    write_run(registry, "exp", 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    for index in (registry.models.root / "m" / INDEX, registry.runs_root / "exp" / INDEX):
        shutil.rmtree(index, ignore_errors=True)
        index.symlink_to(outside)
    (outside / "1").write_text(json.dumps({"name": "m", "version": 1, "description": "lie"}))
    register(registry, tmp_path, "m", 2)
    assert [v.get("description") for v in registry.model_versions("m")] == ["", ""]
    assert len(registry.run_lines()) == 1
    assert [p.name for p in outside.iterdir()] == ["1"], "nothing written through the link"


def test_an_ended_run_record_changed_in_place_is_read_again(tmp_path: Path, capsys):
    # the index is warm; then run.json is edited, damaged or truncated in place (same
    # folder, same inode): the listing reads the record, not the summary of before
    registry = Registry(tmp_path / "registry")
    edited, damaged = write_run(registry, "exp", 1), write_run(registry, "exp", 2)
    assert len(listing(capsys, registry, "runs", "list")) == 2
    record = registry.runs_root / "exp" / edited / "run.json"
    with open(record, "r+") as handle:  # rewritten in place, as an editor may
        text = handle.read().replace('"accuracy": 0.01', '"accuracy": 0.5')
        handle.seek(0), handle.truncate(), handle.write(text)
    with open(registry.runs_root / "exp" / damaged / "run.json", "r+") as handle:
        handle.truncate(40)
    assert main(["--registry", str(registry.root), "runs", "list", "--json"]) == 0
    out, err = capsys.readouterr()
    runs = json.loads(out)
    assert [r["id"] for r in runs] == [edited] and runs[0]["metrics"]["accuracy"] == 0.5
    assert f"run {damaged} left out" in err
    assert main(["--registry", str(registry.root), "runs", "list"]) == 0
    table = capsys.readouterr().out
    assert "accuracy=0.5, loss=3 values, last 1" in table and damaged not in table


def test_a_limited_listing_checks_every_run_it_lists(tmp_path: Path, capsys):
    # `--limit` in start order checks the stamps of the runs it lists only; a listed
    # run edited or damaged in place, or removed, is still caught and the next one listed
    registry = Registry(tmp_path / "registry")
    ids = [write_run(registry, "exp", n) for n in range(1, 6)]
    assert len(listing(capsys, registry, "runs", "list")) == 5  # the index is warm
    with open(registry.runs_root / "exp" / ids[4] / "run.json", "r+") as handle:
        text = handle.read().replace('"accuracy": 0.05', '"accuracy": 0.5')
        handle.seek(0), handle.truncate(), handle.write(text)
    with open(registry.runs_root / "exp" / ids[3] / "run.json", "r+") as handle:
        handle.truncate(40)
    shutil.rmtree(registry.runs_root / "exp" / ids[2])
    assert main(["--registry", str(registry.root), "runs", "list", "--reverse", "--limit",
                 "2", "--json"]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    newest = json.loads(out)
    assert [r["id"] for r in newest] == [ids[4], ids[1]] and newest[0]["metrics"]["accuracy"] == 0.5
    assert f"run {ids[3]} left out" in err
    assert main(["--registry", str(registry.root), "runs", "list", "--limit", "1"]) == 0
    assert ids[0] in capsys.readouterr().out


def test_an_index_that_is_no_folder_lists_from_the_folders(tmp_path: Path, capsys):
    registry = Registry(tmp_path / "registry")
    for i in (1, 2):
        register(registry, tmp_path, "m", i)
    run_id = write_run(registry, "exp", 1)
    for index in (registry.models.root / "m" / INDEX, registry.runs_root / "exp" / INDEX):
        shutil.rmtree(index, ignore_errors=True)
        index.write_text("not a folder")
    assert [v["version"] for v in listing(capsys, registry, "models", "versions", "m")] == [1, 2]
    assert [m["name"] for m in listing(capsys, registry, "models", "list")] == ["m"]
    assert [r["id"] for r in listing(capsys, registry, "runs", "list")] == [run_id]
    assert main(["--registry", str(registry.root), "index", "rebuild"]) == 0


def test_a_model_whose_latest_cannot_be_read_is_left_out_and_its_other_versions_listed(
    tmp_path: Path, capsys
):
    registry = Registry(tmp_path / "registry")
    for i in (1, 2, 3):
        register(registry, tmp_path, "m", i)
    register(registry, tmp_path, "other", 1)
    (registry.models.root / "m" / "3" / "model.json").unlink()
    for words, shown in ((["models", "list"], ["other"]), (["models", "versions", "m"], [1, 2])):
        assert main(["--registry", str(registry.root), *words, "--json"]) == 0
        out, err = capsys.readouterr()
        assert [row.get("name") if words[1] == "list" else row["version"]
                for row in json.loads(out)] == shown  # fmt: skip
        assert "model m:3 left out: " in err
    # the API names the damage as the registry's own error, not a bare OSError
    with pytest.raises(MetadataError, match="model.json is missing"):
        registry.get_model("m", 3)


@pytest.mark.parametrize("words", [["runs", "list"], ["models", "list"], ["models", "versions", "m"]])
def test_ascending_without_sort_is_a_usage_error(tmp_path: Path, capsys, words: list[str]):
    registry = Registry(tmp_path / "registry")
    register(registry, tmp_path, "m", 1)
    with pytest.raises(SystemExit) as stopped:
        main(["--registry", str(registry.root), *words, "--ascending"])
    assert stopped.value.code == 2 and "give --sort METRIC too" in capsys.readouterr().err


def packs(index: Path) -> list[Path]:
    return [p for p in index.iterdir() if p.name.startswith("pack")]


@pytest.mark.parametrize("damage", ["cut", "not json", "json-like"])
def test_a_run_pack_line_whose_json_is_damaged_is_read_from_the_record(
    tmp_path: Path, capsys, damage: str
):
    # a pack line whose fields before the JSON are intact but whose JSON is cut or
    # changed on disk: each listing still gives every run as its record says, `--json`
    # stays JSON, and a new pack does not copy the damaged line
    registry = Registry(tmp_path / "registry")
    ids = [write_run(registry, "exp", n) for n in range(1, PACK_AFTER + 3)]
    every = listing(capsys, registry, "runs", "list")  # writes the pack
    index = registry.runs_root / "exp" / INDEX
    [pack] = packs(index)
    lines = pack.read_text().splitlines(keepends=True)
    head, _, body = lines[2].partition("\t{")
    if damage == "cut":  # a pack cut short in the JSON of a line
        pack.write_text("".join(lines[:2]) + head + "\t{" + body[:30])
    else:  # one line's JSON replaced; the other lines kept
        bad = "{bad\n" if damage == "not json" else '{"id": bad, "metrics": {}}\n'
        pack.write_text("".join(lines[:2]) + head + "\t" + bad + "".join(lines[3:]))
    assert listing(capsys, registry, "runs", "list", "--limit", "3") == every[:3]
    assert listing(capsys, registry, "runs", "list") == every
    assert main(["--registry", str(registry.root), "runs", "list", "--sort", "accuracy"]) == 0
    ranked = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[0] for row in ranked] == ids[::-1]
    assert main(["--registry", str(registry.root), "runs", "list"]) == 0
    assert ids[2] in capsys.readouterr().out
    # enough new runs for a listing to write a new pack: no damaged line copied into it
    ids += [write_run(registry, "exp", n) for n in range(PACK_AFTER + 3, 2 * PACK_AFTER + 3)]
    assert [r["id"] for r in listing(capsys, registry, "runs", "list")] == ids
    [pack] = packs(index)
    for line in pack.read_text().splitlines():
        json.loads(line[line.index("\t{") + 1 :])
    assert len(pack.read_text().splitlines()) == len(ids)


def packed_model(registry: Registry, tmp_path: Path) -> Path:
    """Model m with enough versions for a listing to pack their summaries: the pack."""
    for i in range(1, PACK_AFTER + 3):
        register(registry, tmp_path, "m", i)
    registry.model_versions("m")  # writes the pack
    [pack] = packs(registry.models.root / "m" / INDEX)
    return pack


@pytest.mark.parametrize("shared", [
    '{"shared": 5}', '{"shared": {"name": "m"}}', '{"shared": {"created": 5}}',
    '{"shared": {"name": "other", "kind": "model"}}', '{"shared": {"version": 1}}',
])  # fmt: skip
def test_a_damaged_shared_line_of_a_version_pack_reads_the_folders(
    tmp_path: Path, capsys, shared: str
):
    registry = Registry(tmp_path / "registry")
    pack = packed_model(registry, tmp_path)
    lines = pack.read_text().split("\n")
    lines[1] = shared + ","  # the values its summaries share
    damaged = "\n".join(lines)
    versions = listing(capsys, registry, "models", "versions", "m")
    models = listing(capsys, registry, "models", "list")
    for words, expected in ((["models", "versions", "m"], versions),
                            (["models", "list"], models)):  # fmt: skip
        pack.write_text(damaged)  # each command meets the damage (a listing repacks)
        assert listing(capsys, registry, *words) == expected
        pack.write_text(damaged)
        assert main(["--registry", str(registry.root), *words]) == 0
        out, err = capsys.readouterr()
        assert f"{PACK_AFTER + 2}" in out and not err
    pack.write_text(damaged)
    assert main(["--registry", str(registry.root), "verify"]) == 0


def test_a_version_pack_that_is_a_folder_is_ignored(tmp_path: Path, capsys):
    registry = Registry(tmp_path / "registry")
    pack = packed_model(registry, tmp_path)
    versions = listing(capsys, registry, "models", "versions", "m")
    models = listing(capsys, registry, "models", "list")
    pack.unlink()
    pack.mkdir()
    assert listing(capsys, registry, "models", "versions", "m") == versions
    assert listing(capsys, registry, "models", "list") == models
    for words in (["models", "versions", "m"], ["models", "list"], ["verify"]):
        assert main(["--registry", str(registry.root), *words]) == 0
        assert "Is a directory" not in capsys.readouterr().err
