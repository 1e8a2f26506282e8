"""Datastores: where the files of data set versions live, stored by content.

Two kinds, chosen by the ``datastore`` configuration key:

- a **folder** (default ``<registry>/datastore``, or a path on a shared filesystem):
  every distinct file content is stored once, read-only, as a blob named by its
  sha256 under ``.blobs/``; a data set version's folder ``<name>/<content hash>/``
  holds hard links to those blobs, so training scripts see ordinary files and a new
  version that shares files with an old one costs no space for the shared files;
- an **S3-compatible object store** (``{s3: {bucket, endpoint, prefix, region}}``,
  credentials from the environment as boto3 reads them): blobs are objects under
  ``<prefix>/blobs/sha256/``; a training job materialises the version into a local
  cache folder first (:func:`local_folder`), so nodes need no shared filesystem.

Both write atomically: a blob or a version folder appears whole or not at all. A
folder datastore also writes durably: blobs and version folders are flushed to stable
storage before they get their names, so a power loss cannot leave an empty blob.
Temporaries live in the datastore's ``.tmp/`` and are swept once their writer is dead.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, IntegrityError, SnakeyardError
from ..files import (
    CHUNK,
    NO_LINK,
    cache_folder,
    check_entries,
    check_manifest,
    entry_problems,
    fsync_file,
    fsync_folder,
    fsync_tree,
    human_bytes,
    inside,
    keep_narrow,
    make_folders,
    naming,
    sha256_file,
    sweep_temporaries,
    temporary_name,
    unlisted_files,
)
from ..records import DatasetVersion, FileEntry
from ..registry.versions import STAGING

BLOBS = ".blobs"
CACHE_VARIABLE = "SNAKEYARD_DATA_CACHE"
WORKERS = max(2, min(4, os.cpu_count() or 1))
S3_SINGLE_PUT_LIMIT = 5 << 30


@dataclass
class StoreReport:
    """What storing one data set version cost: files and bytes written, files reused."""

    written_files: int = 0
    written_bytes: int = 0
    reused_files: int = 0
    linked: bool = True
    notes: list[str] = field(default_factory=list)

    def put_all(self, put: Callable[[FileEntry], int], manifest: list[FileEntry]) -> None:
        """Store every manifest entry with ``put`` (bytes written, 0 when the blob was
        already there) on a few threads, counting what was written and what reused."""
        with ThreadPoolExecutor(WORKERS) as pool:
            for written in pool.map(put, manifest):
                if written:
                    self.written_files += 1
                    self.written_bytes += written
                else:
                    self.reused_files += 1

    def summary(self) -> str:
        text = (
            f"{self.written_files} new file(s) stored ({human_bytes(self.written_bytes)}), "
            f"{self.reused_files} already in the datastore"
        )
        text += "" if self.linked else "; hard links unsupported here, files copied"
        return text + "".join(f"; {note}" for note in self.notes)


def publish_folder(staging: Path, target: Path) -> None:
    """Rename a finished ``staging`` folder to ``target``; if another writer published the
    same content there first, drop ours. Either way the name is flushed before return."""
    try:
        os.rename(staging, target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(staging)
    fsync_folder(target.parent)


def copy_and_hash(source: Path, target: Path) -> str:
    """Copy one file and return the sha256 of the copy, read back as it was stored.

    The kernel copies the bytes (``shutil.copyfile`` uses sendfile on Linux), so they
    never pass through Python, which leaves the CPU to hashing; the copy is still in
    the page cache when it is hashed. Hashing what was stored rather than what was
    read also catches a source that changes during the copy. The copy is flushed to
    stable storage before the sha256 vouches for it.
    """
    with naming(target):
        shutil.copyfile(source, target)
    keep_narrow(source, target)  # a temporary still: nobody reads it before it is published
    with open(target, "rb") as stored:
        digest = hashlib.file_digest(stored, "sha256").hexdigest()
    fsync_file(target)
    return digest


def _source_base(source: Path) -> Path:
    return source.parent if source.is_file() else source


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass  # another user's folder: gc's grace then counts from its last change


# ------------------------------------------------------------------------ folder
class FolderDatastore:
    """A datastore in a folder: content-addressed blobs, version folders of hard links."""

    kind = "folder"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.blobs = self.root / BLOBS / "sha256"
        self.staging = self.root / STAGING

    def describe(self) -> dict[str, Any] | None:
        return None  # a folder's location is recorded as a path

    def blob_path(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256

    def location(self, name: str, digest: str) -> Path:
        return self.root / name / digest

    def has_version(self, name: str, digest: str, manifest: list[FileEntry]) -> bool:
        return self.location(name, digest).is_dir()

    def store(
        self, name: str, source: Path, manifest: list[FileEntry], digest: str
    ) -> tuple[str, StoreReport]:
        """Store the files of ``manifest`` (below ``source``); return the version's folder.

        A blob or a version folder already there is used only once its bytes hash to
        what is recorded. A damaged blob is stored again from ``source``; the damaged
        files of an existing version folder are replaced in place, each with one rename,
        so that every data set version using that folder is whole again.
        """
        report = StoreReport()
        location = self.location(name, digest)
        label = f"data set {name}"
        damaged: list[FileEntry] | None = None
        if location.is_dir():
            damaged = [e for e in manifest if check_manifest(location, [e], label)]
            if not damaged:
                report.reused_files = len(manifest)
                # a fresh change time tells `snakeyard gc` that a version is being made
                # of this folder now, though no version lists it yet
                _touch(location)
                return str(location), report
            report.notes.append(f"{len(damaged)} damaged file(s) of {location} replaced")
        self._make_folders(self.staging, location.parent)
        self.sweep(name)
        staging = self.staging / temporary_name(f"{name}.{digest[:12]}")
        blob_staging = self.staging / temporary_name("blobs")
        staging.mkdir()
        blob_staging.mkdir()
        base = _source_base(source)

        def put(entry: FileEntry) -> int:
            return self._put_blob(base / entry["path"], entry, blob_staging, report.notes)

        try:
            report.put_all(put, manifest)
            # the blobs' names are durable before any version folder links to them
            for folder in sorted({self.blob_path(e["sha256"]).parent for e in manifest}):
                fsync_folder(folder)
            for entry in manifest:
                report.linked &= self._place(entry, staging / entry["path"])
            fsync_tree(staging, files=False)  # links to flushed blobs, or flushed copies
            if damaged is None:
                publish_folder(staging, location)
            else:
                for entry in damaged:
                    # rename replaces the damaged name itself, be it a link that led out
                    head, _, leaf = entry["path"].rpartition("/")
                    folder = inside(location, head, label) if head else location
                    folder.mkdir(parents=True, exist_ok=True)
                    os.replace(staging / entry["path"], folder / leaf)
                    fsync_folder(folder)
                shutil.rmtree(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(blob_staging, ignore_errors=True)
        return str(location), report

    def _make_folders(self, *folders: Path) -> None:
        """Create the datastore's folders, or say in one line why the path cannot hold them."""
        try:
            for folder in folders:
                make_folders(folder)
        except (FileExistsError, NotADirectoryError) as error:
            raise ConfigError(
                f"datastore {self.root}: {error.filename} is a file, not a folder; set "
                "`datastore:` to a folder path (created when missing) or to "
                "{s3: {bucket: NAME, ...}}"
            ) from error

    def sweep(self, name: str) -> None:
        """Remove the temporaries that dead writers left in the datastore.

        Those of ``.tmp/``, whatever they were for; and by age, those of ``name`` and of
        the blobs in the ``.tmp/`` folders that snakeyard 0.1 wrote.
        """
        sweep_temporaries(self.staging)
        sweep_temporaries(self.root / name / STAGING)
        sweep_temporaries(self.root / BLOBS / STAGING)

    def _put_blob(self, path: Path, entry: FileEntry, staging: Path, notes: list[str]) -> int:
        """Store one file as a blob unless an intact one is there; return the bytes written.

        An existing blob is hashed, not just sized: a flipped bit must not be handed on
        to a new version. A damaged one is replaced (versions already linked to it keep
        the damaged bytes; ``snakeyard verify`` names them, and uploading their content
        again repairs them). The blob's bytes are flushed; its folder is flushed by the
        caller, once for all.
        """
        blob = self.blob_path(entry["sha256"])
        if blob.is_file():
            if blob.stat().st_size == entry["bytes"] and sha256_file(blob) == entry["sha256"]:
                return 0
            notes.append(f"damaged blob {blob} stored again")
        tmp = staging / uuid.uuid4().hex
        try:
            actual = copy_and_hash(path, tmp)
            if actual != entry["sha256"]:
                raise IntegrityError(
                    f"{path} changed while it was being stored: sha256 {actual}, "
                    f"expected {entry['sha256']}"
                )
            os.chmod(tmp, 0o444)  # blobs are shared by versions: nobody may edit one
            make_folders(blob.parent)
            os.replace(tmp, blob)  # a concurrent writer's blob has the same bytes
        finally:
            tmp.unlink(missing_ok=True)
        return entry["bytes"]

    def _place(self, entry: FileEntry, target: Path) -> bool:
        """Put a blob into a version folder: a hard link, else a checked copy."""
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = self.blob_path(entry["sha256"])
        try:
            os.link(blob, target)
            return True
        except OSError as error:
            if error.errno not in NO_LINK:
                raise
        if copy_and_hash(blob, target) != entry["sha256"]:
            raise IntegrityError(f"blob {blob} does not hold sha256 {entry['sha256']}")
        return False

    def problems(self, meta: DatasetVersion, label: str) -> list[str]:
        """Files of a version's folder that are damaged, missing, leave it, or are not
        listed."""
        folder = Path(meta["location"])
        return check_manifest(folder, meta["files"], label) + unlisted_files(
            folder, meta["files"], label
        )


# ---------------------------------------------------------------------------- S3
class S3Datastore:
    """A datastore in an S3-compatible bucket: one object per distinct file content."""

    kind = "s3"

    def __init__(
        self,
        bucket: str,
        endpoint: str | None = None,
        prefix: str = "",
        region: str | None = None,
    ):
        self.bucket = bucket
        self.endpoint = endpoint or None
        self.prefix = prefix.strip("/")
        self.region = region or None
        self._client = None

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> S3Datastore:
        return cls(
            spec["bucket"], spec.get("endpoint"), spec.get("prefix") or "", spec.get("region")
        )

    def describe(self) -> dict[str, Any]:
        return {
            "s3": {
                "bucket": self.bucket,
                "endpoint": self.endpoint,
                "prefix": self.prefix,
                "region": self.region,
            }
        }

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise ConfigError(
                    "the S3 datastore needs boto3: pip install boto3 (or 'snakeyard[s3]')"
                ) from None
            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint,
                region_name=self.region,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}),
            )
        return self._client

    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def key(self, sha256: str) -> str:
        return "/".join(filter(None, [self.prefix, "blobs", "sha256", sha256]))

    def _call(self, what: str, function: Callable[..., Any], **kwargs: Any) -> Any:
        """One S3 request; a failure is one line naming the bucket and the request."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "?")
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise SnakeyardError(
                f"S3 datastore {self.url()} at {self.endpoint or 'AWS'}: {what} failed ({error})"
            ) from None
        except BotoCoreError as error:
            raise SnakeyardError(
                f"S3 datastore {self.url()} at {self.endpoint or 'AWS'}: {what} failed ({error})"
            ) from None

    def _stored(self, sha256: str) -> tuple[int, str | None] | None:
        """Size and recorded sha256 (the ``sha256`` metadata the upload set) of a blob."""
        head = self._call(
            f"HEAD {self.key(sha256)}", self.client.head_object, Bucket=self.bucket,
            Key=self.key(sha256),
        )  # fmt: skip
        if head is None:
            return None
        return head["ContentLength"], (head.get("Metadata") or {}).get("sha256")

    def _holds(self, entry: FileEntry) -> bool:
        """Whether the blob of ``entry`` is there, as this datastore uploaded it.

        Reading every blob back would cost a download; the size and the sha256 that
        :meth:`_put_blob` records after checking the bytes sent catch a missing,
        truncated or overwritten object. Bytes changed behind an intact record are
        caught when a node downloads them (:func:`local_folder` hashes what it gets).
        """
        return self._stored(entry["sha256"]) == (entry["bytes"], entry["sha256"])

    def has_version(self, name: str, digest: str, manifest: list[FileEntry]) -> bool:
        return all(self._holds(e) for e in manifest)

    def store(
        self, name: str, source: Path, manifest: list[FileEntry], digest: str
    ) -> tuple[str, StoreReport]:
        """Upload the blobs the bucket lacks; return the datastore's ``s3://`` URL."""
        report = StoreReport(linked=True)
        base = _source_base(source)

        def put(entry: FileEntry) -> int:
            if self._holds(entry):
                return 0
            self._put_blob(base / entry["path"], entry)
            return entry["bytes"]

        report.put_all(put, manifest)
        return self.url(), report

    def _put_blob(self, path: Path, entry: FileEntry) -> None:
        """Upload to a temporary key, check the bytes sent, then copy to the blob's key."""
        if entry["bytes"] > S3_SINGLE_PUT_LIMIT:
            raise SnakeyardError(
                f"{path}: {human_bytes(entry['bytes'])} is more than the S3 datastore's "
                "single-upload limit of 5 GiB; split the file"
            )
        tmp_key = "/".join(filter(None, [self.prefix, "tmp", uuid.uuid4().hex]))
        with open(path, "rb") as handle:
            body = HashingReader(handle)
            self._call(
                f"PUT {tmp_key}", self.client.put_object, Bucket=self.bucket, Key=tmp_key,
                Body=body, ContentLength=entry["bytes"],
            )  # fmt: skip
        try:
            sent = body.hexdigest()
            if sent != entry["sha256"]:
                raise IntegrityError(
                    f"{path} changed while it was being uploaded: sha256 {sent}, "
                    f"expected {entry['sha256']}"
                )
            self._call(
                f"COPY to {self.key(entry['sha256'])}", self.client.copy_object,
                Bucket=self.bucket, Key=self.key(entry["sha256"]),
                CopySource={"Bucket": self.bucket, "Key": tmp_key},
                Metadata={"sha256": entry["sha256"]}, MetadataDirective="REPLACE",
            )  # fmt: skip
        finally:
            self._call(
                f"DELETE {tmp_key}", self.client.delete_object, Bucket=self.bucket, Key=tmp_key
            )

    def download_blob(self, sha256: str, target: Path) -> str:
        """Fetch one blob into ``target``; return the sha256 of the bytes received."""
        response = self._call(
            f"GET {self.key(sha256)}", self.client.get_object, Bucket=self.bucket,
            Key=self.key(sha256),
        )  # fmt: skip
        if response is None:
            raise IntegrityError(f"blob {self.key(sha256)} is missing from {self.url()}")
        digest = hashlib.sha256()
        with open(target, "wb") as writer:
            for chunk in response["Body"].iter_chunks(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        return digest.hexdigest()

    def problems(self, meta: DatasetVersion, label: str) -> list[str]:
        entries, found = entry_problems(meta["files"], label)
        for entry in entries:
            stored = self._stored(entry["sha256"])
            if stored is None:
                found.append(
                    f"{label}: file {entry['path']} is missing ({self.key(entry['sha256'])})"
                )
            elif stored[0] != entry["bytes"]:
                found.append(
                    f"{label}: file {entry['path']} has {stored[0]} bytes in the bucket, "
                    f"recorded {entry['bytes']}"
                )
            elif stored[1] != entry["sha256"]:
                found.append(
                    f"{label}: file {entry['path']}: object {self.key(entry['sha256'])} "
                    f"records sha256 {stored[1]}, not {entry['sha256']} (overwritten)"
                )
        return found


class HashingReader(io.RawIOBase):
    """A file wrapper that hashes what is read from it; a rewind to 0 starts over.

    botocore may read a body twice (once for its own checksum, once to send it) and
    rewinds for retries; the digest is that of the last pass from the start.
    """

    def __init__(self, handle: Any):
        self.handle = handle
        self.digest = hashlib.sha256()
        self.position = 0
        self.hashed = 0  # bytes of the current pass that went into the digest

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = self.handle.seek(offset, whence)
        if self.position == 0:
            self.digest, self.hashed = hashlib.sha256(), 0
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        if self.position == self.hashed:
            self.digest.update(data)
            self.hashed += len(data)
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


# ---------------------------------------------------------------------- choosing
Datastore = FolderDatastore | S3Datastore


def open_datastore(
    spec: str | os.PathLike | dict[str, Any] | None, registry_root: Path
) -> Datastore:
    """The datastore a configuration value names: a folder path, ``{s3: {...}}``, or None."""
    if isinstance(spec, str) and spec.lstrip().startswith("{"):
        spec = json.loads(spec)  # the form a stage receives it on its command line
    if isinstance(spec, dict):
        if set(spec) != {"s3"} or not isinstance(spec["s3"], dict) or not spec["s3"].get("bucket"):
            raise ConfigError(
                f"invalid datastore {spec!r}: use a folder path, or {{s3: {{bucket: NAME, "
                "endpoint: URL, prefix: PATH, region: NAME}}}"
            )
        return S3Datastore.from_spec(spec["s3"])
    return FolderDatastore(Path(spec) if spec else registry_root / "datastore")


def datastore_of(meta: DatasetVersion, registry_root: Path) -> Datastore | None:
    """The S3 datastore a data set version was stored in, or None for a folder."""
    spec = meta.get("datastore")
    return open_datastore(spec, registry_root) if spec else None


def cache_root() -> Path:
    """Where S3 data sets are materialised: ``$SNAKEYARD_DATA_CACHE``, else a temp folder."""
    return cache_folder(CACHE_VARIABLE, Path(tempfile.gettempdir()) / "snakeyard-data")


def local_folder(
    meta: DatasetVersion,
    registry_root: Path,
    cache: Path | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """A local folder holding a data set version's files, checked against their sha256.

    Versions in a folder datastore are used where they are. Versions in S3 are
    downloaded once per node into ``<cache>/<name>/<content hash>/``, built in
    ``<cache>/.tmp/``, flushed to stable storage and published with one rename.
    """
    store = datastore_of(meta, registry_root)
    if store is None:
        return Path(meta["location"])
    cache = cache or cache_root()
    target = cache / meta["name"] / meta["content_hash"]
    if target.is_dir():
        return target
    label = f"data set {meta['name']}:{meta['version']}"
    target.parent.mkdir(parents=True, exist_ok=True)
    (cache / STAGING).mkdir(exist_ok=True)
    sweep_temporaries(cache / STAGING)
    staging = cache / STAGING / temporary_name(f"{meta['name']}.{meta['content_hash'][:12]}")
    staging.mkdir()
    try:
        # every path is checked before anything is written: they come from metadata
        paths = [inside(staging, e["path"], label) for e in check_entries(meta["files"], label)]
        for entry, path in zip(meta["files"], paths, strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            actual = store.download_blob(entry["sha256"], path)
            if actual != entry["sha256"]:
                raise IntegrityError(
                    f"data set {meta['name']}:{meta['version']}: file {entry['path']} from "
                    f"{store.url()} has sha256 {actual}, recorded {entry['sha256']}"
                )
        # a cache entry is trusted without a check: it must not be empty after a crash
        fsync_tree(staging)
        publish_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    size = human_bytes(sum(e["bytes"] for e in meta["files"]))
    log(f"data set {meta['name']}:{meta['version']}: {size} from {store.url()} into {target}")
    return target
