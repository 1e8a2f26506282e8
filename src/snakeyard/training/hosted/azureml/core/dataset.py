"""``Dataset``: snakeyard's registered data set versions, as the hosted SDK's data sets.

A tabular data set (``format: tabular``) is a :class:`TabularDataset`, any other a
:class:`FileDataset`. A version kept in an object store is copied into this node's
cache when the script first asks for its files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from ._binding import registry
from ._missing import Strict, module_getattr


def _quiet(_line: str) -> None:
    """The cache copy's progress is not the script's output."""


class Dataset(Strict):
    """A registered data set version (``name``, ``version``, ``id`` ``name:version``)."""

    def __init__(self, meta: dict[str, Any], location: str | None = None, input_name: str = ""):
        self.name: str = meta["name"]
        self.version: int = meta["version"]
        self.id = f"{self.name}:{self.version}"
        self.description = meta.get("description", "")
        self.tags: dict[str, str] = dict(meta.get("tags") or {})
        self._meta = meta
        self._location = location
        self.input_name = input_name

    @staticmethod
    def get_by_name(workspace: Any, name: str, version: int | str = "latest", **_: Any) -> Dataset:
        """Version ``version`` (default the latest) of the registered data set ``name``."""
        store = getattr(workspace, "_registry", None) or registry()
        return _typed(store.get_dataset(name, version))

    @staticmethod
    def get_by_id(workspace: Any, id: str, **_: Any) -> Dataset:  # noqa: A002 - the SDK's name
        """The data set version whose ``id`` is ``name:version``."""
        name, _, version = id.rpartition(":")
        if not name or not version.isdigit():
            raise ValueError(f"invalid data set id {id!r}: expected name:version, e.g. iris:3")
        return Dataset.get_by_name(workspace, name, int(version))

    def as_named_input(self, name: str) -> Dataset:
        """This data set, under the name ``run.input_datasets`` knows it by."""
        return type(self)(self._meta, self._location, name)

    def as_mount(self, *_: Any, **__: Any) -> Dataset:
        """This data set (its files are local either way)."""
        return self

    as_download = as_mount

    def _local(self) -> Path:
        """The local copy of the version: a folder, or for a tabular one its CSV file."""
        if self._location is None:
            from snakeyard.training.stage import local_dataset

            receipt = {k: self._meta[k] for k in ("name", "version", "content_hash")}
            self._location = local_dataset(registry(), receipt, _quiet)["location"]
        return Path(self._location)

    def __fspath__(self) -> str:
        """The local path (folder, or a tabular one's CSV file): where a hosted script
        consuming it ``as_mount()``/``as_download()`` gets a path, this works as one."""
        return str(self._local())

    __str__ = __fspath__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version})"


class FileDataset(Dataset):
    """A data set of files."""

    def _folder(self) -> Path:
        local = self._local()
        return local if local.is_dir() else local.parent

    def to_path(self) -> list[str]:
        """The data set's files, as paths below its root starting with ``/``."""
        folder = self._folder()
        files = [path for path in folder.rglob("*") if path.is_file()]
        return sorted("/" + path.relative_to(folder).as_posix() for path in files)

    def download(self, target_path: str | os.PathLike | None = None, overwrite: bool = False,
                 **_: Any) -> list[str]:  # fmt: skip
        """Copy the files into ``target_path`` (default a new temporary folder); return
        their paths. An existing file is an error unless ``overwrite``."""
        import tempfile

        target = Path(target_path) if target_path is not None else Path(tempfile.mkdtemp())
        folder, copied = self._folder(), []
        for relative in self.to_path():
            destination = target / relative.lstrip("/")
            if destination.exists() and not overwrite:
                raise FileExistsError(
                    f"{destination} exists; pass overwrite=True to replace it"
                )
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / relative.lstrip("/"), destination)
            copied.append(str(destination))
        return copied

    def mount(self, mount_point: str | os.PathLike | None = None, **_: Any) -> MountContext:
        """A context whose ``mount_point`` is a local folder holding the files: the
        registry's own folder (read it, do not write), or ``mount_point`` linked to it."""
        folder = self._folder()
        if mount_point is None:
            return MountContext(str(folder))
        return MountContext(str(mount_point), link_to=folder)


class MountContext:
    """What ``FileDataset.mount()`` returns: ``with dataset.mount() as mounted:`` then
    ``mounted.mount_point`` (also usable as a path, ``os.fspath(mounted)``)."""

    def __init__(self, mount_point: str, link_to: Path | None = None):
        self.mount_point = mount_point
        self._link_to = link_to

    def start(self) -> None:
        """Make ``mount_point`` show the files (a symbolic link, when one was asked for)."""
        if self._link_to is not None and not os.path.lexists(self.mount_point):
            os.symlink(self._link_to, self.mount_point, target_is_directory=True)

    def stop(self) -> None:
        """Remove the link ``start`` made; the files stay in the registry."""
        if self._link_to is not None and os.path.islink(self.mount_point):
            os.unlink(self.mount_point)

    def __enter__(self) -> MountContext:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def __fspath__(self) -> str:
        return self.mount_point


class TabularDataset(Dataset):
    """A data set of one table (snakeyard's ``format: tabular``, a CSV file)."""

    def to_pandas_dataframe(self, **_: Any) -> Any:
        """The table as a pandas DataFrame (pandas must be in the training environment)."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                f"TabularDataset.to_pandas_dataframe of {self.id} needs pandas, which this "
                "training environment lacks: add pandas to the environment's file"
            ) from None
        return pandas.read_csv(self._local())

    def to_csv_files(self, **_: Any) -> FileDataset:
        """The table as a file data set of its one CSV file."""
        return FileDataset(self._meta, str(self._local()), self.input_name)


def _typed(meta: dict[str, Any], location: str | None = None, input_name: str = "") -> Dataset:
    kind = TabularDataset if meta.get("format") == "tabular" else FileDataset
    return kind(meta, location, input_name)


def from_receipt(receipt: dict[str, Any], input_name: str) -> Dataset:
    """The data set the runner handed over (``location`` already local)."""
    return _typed(receipt, receipt.get("location"), input_name)


__getattr__ = module_getattr("azureml.core.dataset")
