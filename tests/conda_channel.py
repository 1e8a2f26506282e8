"""A local ``file://`` conda channel of tiny hand-made packages, indexed with py-rattler.

Each package is a real ``.tar.bz2`` conda package (``info/index.json``,
``info/paths.json`` and one small file), so locking and installing from the channel
goes through the same code as a public channel, with no network and no conda.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import json
import tarfile
import time
from pathlib import Path

PLATFORMS = ("linux-64", "osx-arm64", "osx-64", "win-64")

# name, version, depends, noarch: what envs/sklearn.yaml asks for, plus an older python
PACKAGES = [
    ("python", "3.11.9", [], False),
    ("python", "3.12.4", [], False),
    ("numpy", "1.26.4", ["python >=3.11,<3.13"], False),
    ("scipy", "1.13.1", ["numpy >=1.23", "python >=3.11,<3.13"], False),
    ("threadpoolctl", "3.5.0", ["python >=3.8"], True),
    ("joblib", "1.4.2", ["python >=3.8"], True),
    (
        "scikit-learn",
        "1.5.2",
        ["joblib >=1.2", "numpy >=1.19", "python >=3.11,<3.13", "scipy >=1.6", "threadpoolctl"],
        False,
    ),
]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def build_package(folder: Path, name: str, version: str, depends: list[str], subdir: str) -> Path:
    """Write ``name-version-0.tar.bz2`` into ``folder/subdir`` and return its path."""
    payload = f"{name} {version}\n".encode()
    payload_path = f"share/snakeyard-test/{name}.txt"
    index = {
        "name": name,
        "version": version,
        "build": "0",
        "build_number": 0,
        "depends": depends,
        "subdir": subdir,
        "license": "MIT",
        "timestamp": int(time.time() * 1000),
    }
    if subdir == "noarch":
        index["noarch"] = "generic"
    else:
        index["platform"], index["arch"] = subdir.split("-")
    paths = {
        "paths": [
            {
                "_path": payload_path,
                "path_type": "hardlink",
                "sha256": hashlib.sha256(payload).hexdigest(),
                "size_in_bytes": len(payload),
            }
        ],
        "paths_version": 1,
    }
    target = folder / subdir / f"{name}-{version}-0.tar.bz2"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:bz2") as tar:
        _add(tar, "info/index.json", json.dumps(index).encode())
        _add(tar, "info/paths.json", json.dumps(paths).encode())
        _add(tar, "info/files", f"{payload_path}\n".encode())
        _add(tar, payload_path, payload)
    return target


def build_channel(folder: Path, platforms: tuple[str, ...] = PLATFORMS) -> str:
    """Build and index the channel in ``folder``; return its ``file://`` URL."""
    from rattler.index import index_fs

    (folder / "noarch").mkdir(parents=True, exist_ok=True)
    for name, version, depends, noarch in PACKAGES:
        for subdir in ["noarch"] if noarch else platforms:
            build_package(folder, name, version, depends, subdir)
    done = index_fs(folder, write_zst=False, write_shards=False)
    if inspect.isawaitable(done):
        asyncio.run(done)
    return folder.resolve().as_uri()
