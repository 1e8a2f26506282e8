"""Environment specs (conda YAML) and how snakeyard locks them.

A conda spec is locked with conda-lock when conda, mamba or micromamba is on ``PATH``,
else solved with py-rattler (:mod:`snakeyard.environments.conda_env`) into a file in conda-lock's
format; either way the explicit pin files Snakemake's conda deployment reads are
rendered from the lock. A pip-only spec (python plus a ``pip:`` list) gets a pip lock
with hashes and a cached virtual environment (:mod:`snakeyard.environments.pip_env`).
``environment: current`` records the interpreter that runs the workflow instead. The
result is registered as an environment version.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SnakeyardError
from ..files import load_yaml, read_listed

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
    import yaml  # for its error class; training jobs seldom get here

    text = path.read_text(encoding="utf-8")
    try:
        data = load_yaml(text)
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
        if isinstance(item, dict):
            entries = item.get("pip")
            if set(item) != {"pip"} or not isinstance(entries, list) or not all(
                isinstance(entry, str) for entry in entries
            ):
                key = next(iter(item), "pip")
                raise ConfigError(
                    f"environment file {path}, line {_line_of(text, f'{key}:')}: dependency "
                    f"{number} must be a package spec string or 'pip:' followed by a list of "
                    f"requirement strings, not {item!r}"
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


def lock_with_conda_lock(
    spec: Path,
    lockfile: Path,
    frontend: str,
    log: Callable[[str], None],
    platforms: tuple[str, ...] | list[str] = (),
    channels: list[str] | None = None,
) -> str:
    """Lock ``spec`` with conda-lock and return the lock file's text."""
    command = [
        sys.executable, "-m", "conda_lock", "lock",
        "--file", str(spec),
        *[word for name in (platforms or [conda_platform()]) for word in ("--platform", name)],
        *[word for channel in (channels or []) for word in ("--channel", channel)],
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
    data = load_yaml(lock_text) or {}
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


CURRENT = "current"
DEFAULT_PLATFORMS = ("linux-64", "osx-arm64", "osx-64", "win-64")


def lock_path(spec: Path, suffix: str) -> Path:
    """Where the lock of ``envs/NAME.yaml`` goes: ``envs/NAME<suffix>``, next to it."""
    stem = spec.name.removesuffix(".yaml").removesuffix(".yml")
    return spec.with_name(stem + suffix)


def pin(
    spec: Path,
    log: Callable[[str], None],
    platforms: tuple[str, ...] | list[str] = DEFAULT_PLATFORMS,
    channels: list[str] | None = None,
) -> dict[str, Any]:
    """Lock the environment of ``spec``; the fields to register it with.

    ``channels``, when given, replace the spec's ``channels:`` (a mirror, a local
    channel).

    A pip-only spec gets a pip lock with hashes (``envs/NAME.pip-lock.txt``); a conda
    spec gets a conda-lock file (``envs/NAME.conda-lock.yml``) for ``platforms`` and
    the explicit pin files Snakemake reads (``envs/NAME.<platform>.pin.txt``).
    """
    from . import conda_env, pip_env

    text, data = read_spec(spec)
    if pip_env.pip_only(data):
        pinned = pip_env.lock(spec, data, lock_path(spec, ".pip-lock.txt"), log)
        return {"spec_text": text, "lock_name": "pip-lock.txt", **pinned}
    frontend = find_conda()
    lockfile = lock_path(spec, ".conda-lock.yml")
    if frontend:
        lock_text = lock_with_conda_lock(spec, lockfile, frontend, log, platforms, channels)
    else:
        log("no conda, mamba or micromamba on PATH: solving with py-rattler")
        lock_text = conda_env.lock(spec, data, lockfile, platforms, log, channels)
    for platform_name, pin_file in conda_env.render_pins(spec, lock_text, platforms).items():
        log(f"wrote {pin_file} ({platform_name})")
    return {
        "spec_text": text,
        "method": METHOD_LOCKED,
        "lock_text": lock_text,
        "packages": locked_packages(lock_text),
        "platforms": list(platforms),
    }


def record_current(log: Callable[[str], None]) -> dict[str, Any]:
    """``environment: current``: the packages of the interpreter that runs the workflow."""
    from .package_list import interpreter_packages  # importlib.metadata: slow to import

    packages = interpreter_packages()
    log(
        f"environment 'current': recording the {len(packages)} packages of {sys.executable}, "
        "the interpreter that runs Snakemake and trains these experiments"
    )
    return {
        "spec_text": f"# environment: current, the interpreter {sys.executable}\n",
        "method": METHOD_RECORDED,
        "lock_text": None,
        "packages": packages,
        "python": sys.executable,
    }


def activate(
    meta: dict[str, Any], log: Callable[[str], None], conda_active: bool = False
) -> tuple[str, dict[str, str]]:
    """The interpreter a registered environment version trains with, and its packages.

    ``current`` is the workflow's own interpreter; a pip lock is built (once) into a
    cached virtual environment; a conda lock is the environment Snakemake activated
    (``conda_active``, with ``--software-deployment-method conda``) or else one
    installed (once) from the lock with py-rattler.
    """
    label = f"environment {meta['name']}:{meta['version']}"
    if meta["method"] == METHOD_RECORDED:
        from .package_list import interpreter_packages

        return sys.executable, interpreter_packages()
    from . import conda_env, pip_env  # a training job in `current` needs neither

    # the lock names what gets installed: only the listed file, inside the version's
    # folder, with the sha256 recorded at registration
    lock_name = meta.get("lock_file") or "conda-lock.yml"
    lock_text = read_listed(Path(meta["path"]), meta["files"], lock_name, label).decode("utf-8")
    if meta["method"] == pip_env.METHOD_PIP:
        base = meta.get("python")
        if not base or not Path(base).exists():
            wanted = ".".join(meta["packages"]["python"].split(".")[:2])
            base = pip_env.find_python(wanted, Path(meta["spec_file"]))
        python = str(pip_env.build_environment(lock_text, base, log))
        return python, pip_env.packages_of(python)
    if conda_active:
        python = shutil.which("python")
        if python is None:
            raise SnakeyardError(f"{label}: the activated conda environment has no python")
        return python, pip_env.packages_of(python)
    prefix = conda_env.install_environment(lock_text, log, pip_env.cache_root(), conda_platform())
    python = prefix / ("python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        raise SnakeyardError(
            f"{label}: the environment installed from its lock in {prefix} has no python; "
            "add python to the spec's dependencies"
        )
    return str(python), conda_env.prefix_packages(prefix)
