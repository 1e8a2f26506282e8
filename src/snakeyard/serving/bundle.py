"""Deployment bundles: a folder that serves one model version on any machine with
snakeyard and the ``serve`` extra, without the registry.

Layout of ``results/deployments/<name>/bundle/``::

    model.json          # the model version's metadata: files with sha256, signature
    signature.json      # the signature alone (null for versions without one)
    artifacts/...       # the version's files, copied and checked
    environment/        # the lock file of the model's environment, and requirements.txt
    entry/<script>      # the entry script, when the deployment has one
    deployment.json     # name, model reference and version, host, port, workers
    serve.sh            # the command that serves it: snakeyard serve --bundle <here>

The bundle is built in a temporary folder next to it and published with one rename.
``snakeyard serve --bundle DIR`` checks every sha256 of ``model.json`` before loading.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import SnakeyardError
from ..files import (
    content_hash,
    copy_manifest,
    fsync_folder,
    fsync_tree,
    manifest_of,
    read_json,
    temporary_name,
    write_json_atomic,
)
from ..records import ModelVersion
from .loading import BUNDLE_ARTIFACTS, BUNDLE_MODEL

DEPLOYMENT_FILE = "deployment.json"
SERVE_SCRIPT = "serve.sh"
# packages a bundle without a recorded environment is served with, as this machine has them
SERVING_PACKAGES = ("scikit-learn", "numpy", "scipy", "joblib", "fastapi", "uvicorn", "snakeyard")


def write_bundle(
    registry: Any, meta: ModelVersion, spec: dict[str, Any], ref: str, dest: Path
) -> dict[str, Any]:
    """Write the bundle of the checked model version ``meta`` to the new folder ``dest``;
    return its deployment record (without name and version)."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)  # Snakemake removes outputs first; a bundle is never edited
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{temporary_name(dest.name)}.tmp"
    label = f"model {meta['name']}:{meta['version']}"
    try:
        source = Path(meta["path"]) / "artifacts"
        copy_manifest(source, tmp / BUNDLE_ARTIFACTS, meta["files"], label)
        stored = {k: v for k, v in meta.items() if k not in ("path", "artifact_path", "new")}
        write_json_atomic(tmp / BUNDLE_MODEL, stored, durable=False)
        write_json_atomic(tmp / "signature.json", meta.get("signature"), durable=False)
        _write_environment(registry, meta, tmp / "environment")
        entry = None
        if spec.get("entry_script"):
            source = Path(spec["entry_script"])
            entry = f"entry/{source.name}"
            (tmp / "entry").mkdir()
            shutil.copy2(source, tmp / entry)
        deployment = {
            "reference": ref,
            "model": {k: meta[k] for k in ("name", "version", "content_hash")},
            "host": spec["host"],
            "port": spec["port"],
            "workers": spec["workers"],
            "entry_script": entry,
        }
        write_json_atomic(tmp / DEPLOYMENT_FILE, deployment, durable=False)
        _write_serve_script(tmp / SERVE_SCRIPT, deployment)
        fsync_tree(tmp)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_folder(dest.parent)
    files = manifest_of(dest)
    return {**deployment, "files": files, "content_hash": content_hash(files),
            "bundle": str(dest.resolve())}  # fmt: skip


def _write_environment(registry: Any, meta: ModelVersion, folder: Path) -> None:
    """The model's environment: its lock file, and its packages as requirements.txt;
    this interpreter's serving packages when the model records no environment."""
    folder.mkdir()
    ref = meta.get("environment")
    if ref:
        environment = registry.get_environment(ref["name"], ref["version"])
        packages = environment["packages"]
        if environment.get("lock_file"):
            lock = Path(environment["path"]) / environment["lock_file"]
            shutil.copy2(lock, folder / Path(environment["lock_file"]).name)
        origin = f"environment {ref['name']}:{ref['version']}"
    else:
        from ..environments.package_list import interpreter_packages

        found = interpreter_packages()
        packages = {name: found[name] for name in SERVING_PACKAGES if name in found}
        origin = f"no environment recorded: the serving packages of {sys.executable}"
    lines = [f"# {origin}"] + [
        f"{name}=={version}" for name, version in sorted(packages.items()) if name != "python"
    ]
    (folder / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_serve_script(path: Path, deployment: dict[str, Any]) -> None:
    command = [
        "python", "-m", "snakeyard", "serve", "--bundle", '"$HERE"',
        "--host", shlex.quote(deployment["host"]), "--port", str(deployment["port"]),
        "--workers", str(deployment["workers"]),
    ]  # fmt: skip
    path.write_text(
        "#!/bin/sh\n"
        f"# serves model {deployment['model']['name']}:{deployment['model']['version']}; "
        "extra options (--port 8080) override these\n"
        'HERE="$(cd "$(dirname "$0")" && pwd)"\n'
        f'exec {" ".join(command)} "$@"\n',
        encoding="utf-8",
    )
    path.chmod(0o755)


def bundle_entry_script(folder: Path) -> str | None:
    """The entry script a bundle was deployed with, as a path, or None."""
    deployment = folder / DEPLOYMENT_FILE
    if not deployment.is_file():
        return None
    entry = read_json(deployment).get("entry_script")
    if entry is None:
        return None
    if not isinstance(entry, str) or Path(entry).is_absolute() or ".." in Path(entry).parts:
        raise SnakeyardError(f"{deployment}: entry_script {entry!r} must be a path in the bundle")
    return str(folder / entry)

