"""Environment specs (conda YAML) and how snakeyard pins them.

With conda, mamba or micromamba on ``PATH`` a spec is locked with conda-lock. Without
one (as on CI), the spec is recorded together with the exact package versions of the
interpreter that runs training, and the log says so. Either way the result is
registered as an environment version.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, SnakeyardError

CONDA_FRONTENDS = ("micromamba", "mamba", "conda")
# tell conda-lock which kind of front end --conda names, so it never tries to fetch another
FRONTEND_FLAGS = {
    "micromamba": ["--micromamba"],
    "mamba": ["--mamba", "--no-micromamba"],
    "conda": ["--no-mamba", "--no-micromamba"],
}
METHOD_LOCKED = "conda-lock"
METHOD_RECORDED = "recorded-interpreter"


def read_spec(path: Path) -> tuple[str, dict[str, Any]]:
    """Read and check a conda environment file; return its text and parsed content."""
    if not path.is_file():
        raise ConfigError(f"environment file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"environment file {path}{where}: {error.problem or error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        raise ConfigError(
            f"environment file {path}, line 1: expected a mapping with a 'dependencies:' list "
            "(conda environment format)"
        )
    for number, item in enumerate(data["dependencies"], start=1):
        if not isinstance(item, (str, dict)):
            raise ConfigError(
                f"environment file {path}, line {_line_of(text, str(item))}: dependency "
                f"{number} ({item!r}) must be a package spec string or a 'pip:' list"
            )
    return text, data


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 1


def find_conda() -> str | None:
    """The first conda front end on ``PATH``, or None."""
    for name in CONDA_FRONTENDS:
        found = shutil.which(name)
        if found:
            return found
    return None


def interpreter_packages() -> dict[str, str]:
    """Exact versions of the distributions installed for this interpreter."""
    packages = {"python": platform.python_version()}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages.setdefault(re.sub(r"[-_.]+", "-", name).lower(), dist.version)
    return dict(sorted(packages.items()))


def conda_lock(spec: Path, lockfile: Path, frontend: str, log: Callable[[str], None]) -> str:
    """Lock ``spec`` for this platform with conda-lock and return the lock file's text."""
    command = [
        sys.executable, "-m", "conda_lock", "lock",
        "--file", str(spec),
        "--platform", conda_platform(),
        "--lockfile", str(lockfile),
        "--conda", frontend,
        *FRONTEND_FLAGS[Path(frontend).name],
    ]  # fmt: skip
    log("running " + " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True)
    log(done.stdout + done.stderr)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SnakeyardError(f"conda-lock could not lock {spec}: {tail[0]}")
    return lockfile.read_text(encoding="utf-8")


def locked_packages(lock_text: str) -> dict[str, str]:
    """Package versions for this platform from a conda-lock file."""
    data = yaml.safe_load(lock_text) or {}
    here = conda_platform()
    return dict(
        sorted(
            (p["name"], str(p["version"]))
            for p in data.get("package", [])
            if p.get("platform") == here
        )
    )


def conda_platform() -> str:
    """This machine's conda platform name, for example ``linux-64``."""
    system = {"Linux": "linux", "Darwin": "osx", "Windows": "win"}.get(platform.system(), "linux")
    machine = platform.machine().lower()
    arch = {"x86_64": "64", "amd64": "64", "aarch64": "aarch64", "arm64": "arm64"}.get(
        machine, "64"
    )
    return f"{system}-{arch}"


def pin(spec: Path, lockfile: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Lock or record the environment of ``spec``; the fields to register it with."""
    text, _ = read_spec(spec)
    frontend = find_conda()
    if frontend:
        lock_text = conda_lock(spec, lockfile, frontend, log)
        return {
            "spec_text": text,
            "method": METHOD_LOCKED,
            "lock_text": lock_text,
            "packages": locked_packages(lock_text),
        }
    packages = interpreter_packages()
    log(
        "no conda, mamba or micromamba on PATH: not locking "
        f"{spec}; recording the spec and the {len(packages)} packages of "
        f"{sys.executable} (the interpreter that runs training) instead"
    )
    return {
        "spec_text": text,
        "method": METHOD_RECORDED,
        "lock_text": None,
        "packages": packages,
        "python": sys.executable,
    }
