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
import sys
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


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


# the "python" of this channel is a stand-in that runs the Python running the tests, so
# that a job can train "inside" an environment installed from the channel
PYTHON_STANDIN = f'#!/bin/sh\nexec "{sys.executable}" "$@"\n'.encode()


def build_package(folder: Path, name: str, version: str, depends: list[str], subdir: str) -> Path:
    """Write ``name-version-0.tar.bz2`` into ``folder/subdir`` and return its path."""
    files = {f"share/snakeyard-test/{name}.txt": f"{name} {version}\n".encode()}
    if name == "python" and not subdir.startswith("win"):
        files["bin/python"] = PYTHON_STANDIN
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
                "_path": path,
                "path_type": "hardlink",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size_in_bytes": len(data),
            }
            for path, data in files.items()
        ],
        "paths_version": 1,
    }
    target = folder / subdir / f"{name}-{version}-0.tar.bz2"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:bz2") as tar:
        _add(tar, "info/index.json", json.dumps(index).encode())
        _add(tar, "info/paths.json", json.dumps(paths).encode())
        _add(tar, "info/files", "".join(f"{path}\n" for path in files).encode())
        for path, data in files.items():
            _add(tar, path, data, 0o755 if path.startswith("bin/") else 0o644)
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


if __name__ == "__main__":
    # a separate process, because py-rattler can abort the interpreter at exit (see
    # snakeyard.stages.exit_now); print the channel's URL
    import os

    print(build_channel(Path(sys.argv[1])), flush=True)
    os._exit(0)
