"""Datastores: content-addressed folder storage, and S3 against a real moto server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers import S3Server
from snakeyard.data.datastore import local_folder
from snakeyard.errors import ConfigError, IntegrityError
from snakeyard.registry.registry import Registry


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def blob_files(registry: Registry) -> list[Path]:
    return sorted(
        p for p in (registry.root / "datastore" / ".blobs" / "sha256").rglob("*") if p.is_file()
    )


def test_reupload_of_unchanged_content_stores_nothing(registry: Registry, tmp_path: Path):
    source = write_files(tmp_path / "v1", {"a.bin": b"a" * 1000, "sub/b.bin": b"b" * 2000})
    first = registry.upload_dataset("d", source)
    assert (
        first["new"]
        and first["report"].written_files == 2
        and first["report"].written_bytes == 3000
    )
    stamps = {p: p.stat().st_mtime_ns for p in blob_files(registry)}
    again = registry.upload_dataset("d", source)
    assert not again["new"] and again["version"] == 1
    assert again["report"].written_files == 0 and again["report"].reused_files == 2
    assert {p: p.stat().st_mtime_ns for p in blob_files(registry)} == stamps


def test_a_datastore_path_taken_by_a_file_is_refused_in_one_line(tmp_path: Path):
    (tmp_path / "shared").write_text("not a folder\n")
    source = write_files(tmp_path / "v1", {"a.bin": b"a"})
    for datastore in ("shared", "shared/store"):
        registry = Registry(tmp_path / "registry", str(tmp_path / datastore))
        with pytest.raises(ConfigError, match="shared is a file, not a folder; set `datastore:`"):
            registry.upload_dataset("d", source)
        assert registry.list_datasets() == []
    assert (tmp_path / "shared").read_text() == "not a folder\n"


def test_a_new_version_stores_shared_files_once(registry: Registry, tmp_path: Path):
    shared = b"s" * 5000
    v1 = registry.upload_dataset(
        "d", write_files(tmp_path / "v1", {"shared.bin": shared, "x.bin": b"1"})
    )
    v2 = registry.upload_dataset(
        "d", write_files(tmp_path / "v2", {"shared.bin": shared, "x.bin": b"2"})
    )
    assert (v1["version"], v2["version"]) == (1, 2)
    assert (v2["report"].written_files, v2["report"].reused_files) == (1, 1)
    one, two = Path(v1["location"]) / "shared.bin", Path(v2["location"]) / "shared.bin"
    assert one.read_bytes() == two.read_bytes() == shared
    assert os.stat(one).st_ino == os.stat(two).st_ino  # the same stored bytes
    assert len(blob_files(registry)) == 3
    # another data set with the same file shares it too
    other = registry.upload_dataset("e", write_files(tmp_path / "e", {"copy.bin": shared}))
    assert other["report"].written_files == 0 and len(blob_files(registry)) == 3


def test_stored_files_are_read_only(registry: Registry, tmp_path: Path):
    meta = registry.upload_dataset("d", write_files(tmp_path / "v1", {"a.bin": b"a"}))
    stored = Path(meta["location"]) / "a.bin"
    assert stored.stat().st_mode & 0o222 == 0
    if os.geteuid() != 0:  # root writes through any mode
        with pytest.raises(PermissionError):
            stored.write_bytes(b"changed")


def test_a_file_changed_after_hashing_is_refused(registry: Registry, tmp_path: Path):
    from snakeyard.files import manifest_of

    source = write_files(tmp_path / "v1", {"a.bin": b"original"})
    manifest = manifest_of(source)
    (source / "a.bin").write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match=r"a.bin changed while it was being stored"):
        registry.upload_dataset("d", source, manifest)
    assert registry.datasets.names() == [] and blob_files(registry) == []
    assert list((registry.root / "datastore" / ".tmp").iterdir()) == []


def test_same_files_with_another_format_or_schema_are_a_new_version(
    registry: Registry, tmp_path: Path
):
    source = write_files(tmp_path / "t", {"t.csv": b"a,y\n1,0\n"})
    plain = registry.upload_dataset("t", source)
    schema = {"file": "t.csv", "label_column": "y"}
    tabular = registry.upload_dataset("t", source, data_format="tabular", schema=schema)
    assert tabular["new"] and tabular["version"] == 2 and tabular["location"] == plain["location"]
    assert (
        registry.upload_dataset("t", source, data_format="tabular", schema=schema)["version"] == 2
    )


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("boto3")
    pytest.importorskip("moto")
    with S3Server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        saved = {k: os.environ.get(k) for k in S3Server.CREDENTIALS}
        os.environ.update(S3Server.CREDENTIALS)
        server.client().create_bucket(Bucket="datasets")
        yield server
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_s3_datastore_upload_reupload_and_local_folder(s3: S3Server, tmp_path: Path):
    spec = {"s3": {"endpoint": s3.endpoint, "bucket": "datasets", "prefix": "team/ds"}}
    registry = Registry(tmp_path / "registry", spec)
    source = write_files(tmp_path / "v1", {"a.bin": b"a" * 3000, "dir/b.bin": b"b" * 10})
    meta = registry.upload_dataset("d", source)
    assert (
        meta["location"] == "s3://datasets/team/ds"
        and meta["datastore"]["s3"]["bucket"] == "datasets"
    )
    client = s3.client()

    def keys() -> dict[str, str]:
        listed = client.list_objects_v2(Bucket="datasets").get("Contents", [])
        return {o["Key"]: o["ETag"] for o in listed}

    stored = keys()
    assert sorted(stored) == sorted(f"team/ds/blobs/sha256/{f['sha256']}" for f in meta["files"])
    # a re-upload of the same files, even as new content of another name, sends nothing
    again = Registry(tmp_path / "registry", spec).upload_dataset("other", source)
    assert again["report"].written_files == 0 and keys() == stored

    # a training node: no access to the uploader's folders, only the bucket
    local = local_folder(
        registry.get_dataset("d"), registry.root, tmp_path / "cache", lambda _: None
    )
    assert local == tmp_path / "cache" / "d" / meta["content_hash"]
    assert (local / "a.bin").read_bytes() == b"a" * 3000 and (
        local / "dir/b.bin"
    ).read_bytes() == b"b" * 10
    assert list(registry.verify())[-1][1] == []

    # a damaged object is caught on the way down, and nothing is left in the cache
    key = f"team/ds/blobs/sha256/{meta['files'][0]['sha256']}"
    client.put_object(Bucket="datasets", Key=key, Body=b"x" * 3000)
    with pytest.raises(IntegrityError, match=r"file a.bin from s3://datasets/team/ds has sha256 "):
        local_folder(registry.get_dataset("d"), registry.root, tmp_path / "cache2", lambda _: None)
    assert not (tmp_path / "cache2" / "d" / meta["content_hash"]).exists()
    # verify sees that it is not the object the upload checked, and it is never reused:
    # the same content uploaded again replaces it
    [problem] = list(registry.verify())[0][1]
    assert problem.startswith("dataset d:1: file a.bin: object ") and "(overwritten)" in problem
    again = Registry(tmp_path / "registry", spec).upload_dataset("third", source)
    assert again["report"].written_files == 1
    local_folder(registry.get_dataset("d"), registry.root, tmp_path / "cache3", lambda _: None)
    assert list(registry.verify())[0][1] == []
    client.delete_object(Bucket="datasets", Key=key)
    assert list(registry.verify())[0][1] == [f"dataset d:1: file a.bin is missing ({key})"]
