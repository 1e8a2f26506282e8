"""pip-only environments: a lock with exact versions and hashes, and a cached virtualenv.

A pip-only spec is a conda-format file whose dependencies are at most ``python`` (with
an optional version) and a ``pip:`` list. Locking asks pip which wheels it would
install (``pip install --dry-run --report``) and writes them as a requirements file in
which every line is ``name==version --hash=sha256:...``. Materialising builds a virtual
environment from that file with ``pip install --require-hashes --no-deps`` in a cache
folder named after the lock's sha256, so every job that uses the same lock shares one
build. The build happens in a temporary folder that is renamed into place only when it
is complete, so concurrent jobs never see, or corrupt, a half-built environment.

A built environment is a cache entry, trusted without a check from then on, so it is
flushed to stable storage before the rename: a power loss must not leave one whose
marker says "complete" over empty files. A build killed half-way leaves a hidden
``.pip-<hash>@<writer>-<random>.tmp`` folder; the next build in the same cache removes
it once its writer is dead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import ConfigError, SnakeyardError
from ..files import (
    cache_folder,
    fsync_folder,
    fsync_tree,
    sweep_temporaries,
    temporary_name,
    write_text_atomic,
)

METHOD_PIP = "pip-lock"
CACHE_VARIABLE = "SNAKEYARD_ENV_CACHE"
MARKER = "snakeyard-env.json"
# python, python=3.11, python==3.11.9, python 3.11, python>=3.10
PYTHON_SPEC = re.compile(r"python(?:\s*(==|=|>=|<=|~=|\s)\s*([0-9][0-9.*]*))?")
IGNORED = {"pip", "setuptools", "wheel"}  # what a conda spec lists so that pip exists at all


def pip_only(data: dict[str, Any]) -> bool:
    """True when a spec's dependencies are only python (any version) and a pip list."""
    has_pip = False
    for item in data["dependencies"]:
        if isinstance(item, dict):
            has_pip = has_pip or "pip" in item
            if set(item) - {"pip"}:
                return False
        elif not (PYTHON_SPEC.fullmatch(item.strip()) or item.strip() in IGNORED):
            return False
    return has_pip


def python_version_wanted(data: dict[str, Any]) -> str | None:
    """The ``X.Y`` a spec asks for with ``python=X.Y`` (or ``==``), if any."""
    for item in data["dependencies"]:
        if isinstance(item, str):
            match = PYTHON_SPEC.fullmatch(item.strip())
            if match and match.group(2) and match.group(1).strip() in ("", "=", "=="):
                return ".".join(match.group(2).split(".")[:2]).rstrip(".*")
    return None


class PipList(NamedTuple):
    """A spec's ``pip:`` list read as pip reads it: requirements, index options, and the
    requirement files its ``-r`` lines name (whose content the lock depends on too)."""

    requirements: list[str]
    options: list[tuple[str, str]]  # ("--index-url", URL), ("--extra-index-url", URL), ...
    files: list[Path]


# pip's options that a lock can keep: where the wheels come from
INDEX_OPTIONS = {"-i": "--index-url", "--index-url": "--index-url",
                 "--extra-index-url": "--extra-index-url"}  # fmt: skip
REQUIREMENT_FILE_OPTIONS = ("-r", "--requirement")
SUPPORTED = "requirements, -r FILE, --index-url URL and --extra-index-url URL"


def pip_requirements(path: Path, data: dict[str, Any]) -> list[str]:
    """The ``pip:`` requirement strings of a pip-only spec."""
    return pip_list(path, data).requirements


def pip_list(path: Path, data: dict[str, Any]) -> PipList:
    """Read a spec's ``pip:`` list, following ``-r`` files (relative to the file that
    names them); ConfigError in one line for what cannot be locked (``-e``, other
    options, a missing file)."""
    found = PipList([], [], [])
    for item in data["dependencies"]:
        if isinstance(item, dict):
            entries = item["pip"]
            if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                raise ConfigError(
                    f"environment file {path}: 'pip:' must be a list of requirement strings"
                )
            for entry in entries:
                _pip_line(entry, path, found, (path.resolve(),))
    if not found.requirements:
        raise ConfigError(f"environment file {path}: the 'pip:' list is empty")
    return found


def _pip_line(line: str, source: Path, found: PipList, chain: tuple[Path, ...]) -> None:
    """Add one line of a ``pip:`` list or requirement file (``source``) to ``found``."""
    line = re.sub(r"(^|\s)#.*", "", line).strip()  # pip's comments
    if not line:
        return
    if not line.startswith("-"):
        if re.search(r"\s--?[A-Za-z]", line):
            raise ConfigError(
                f"{source}: {line!r}: options on a requirement line (--hash, ...) cannot be "
                "locked again; give the requirement alone (the lock adds the hashes)"
            )
        found.requirements.append(line)
        return
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise ConfigError(f"{source}: pip line {line!r} cannot be read ({error})") from None
    option, _, value = words[0].partition("=")
    if option.startswith("-r") and option not in REQUIREMENT_FILE_OPTIONS:
        option, value = "-r", option[2:]  # -rfile.txt
    value = value or " ".join(words[1:])
    if option in ("-e", "--editable"):
        raise ConfigError(
            f"{source}: {line!r} cannot be locked: an editable install is a working folder, "
            f"not a released wheel with a sha256; build and list a wheel, or install the "
            f"folder from the training script (supported in 'pip:': {SUPPORTED})"
        )
    if option not in INDEX_OPTIONS and option not in REQUIREMENT_FILE_OPTIONS:
        raise ConfigError(
            f"{source}: pip option {line!r} is not supported in a 'pip:' list (supported: "
            f"{SUPPORTED})"
        )
    if not value:
        raise ConfigError(f"{source}: pip option {line!r} needs a value")
    if option in INDEX_OPTIONS:
        found.options.append((INDEX_OPTIONS[option], value))
        return
    requirements = (source.parent / value).resolve()
    if requirements in chain:
        raise ConfigError(f"{source}: {line!r} includes {requirements} again (a loop)")
    if not requirements.is_file():
        raise ConfigError(
            f"{source}: {line!r}: requirement file {requirements} does not exist (a -r path "
            f"is relative to the file that names it, {source.parent})"
        )
    found.files.append(requirements)
    for inner in requirements.read_text(encoding="utf-8-sig").splitlines():
        _pip_line(inner, requirements, found, (*chain, requirements))


def spec_digest(spec: Path) -> str:
    """The sha256 of an environment file and of the requirement files its ``pip:`` list
    names with ``-r``: a change to any of them is a new spec, which is locked again.

    For a spec without ``-r`` lines, the sha256 of the file alone (as locks always had).
    """
    from .specs import read_spec

    data = spec.read_bytes()
    try:
        parsed = read_spec(spec)[1]
        files = pip_list(spec, parsed).files if pip_only(parsed) else []
    except ConfigError:
        files = []  # the lock stage names what is wrong; the digest is the file's
    if not files:
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256(data)
    for path in files:
        digest.update(b"\0" + str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def find_python(version: str | None, path: Path) -> str:
    """The interpreter that builds the environment: this one, or ``pythonX.Y`` on PATH."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version is None or version == here:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is None:
        raise ConfigError(
            f"environment file {path} asks for python={version}, but this machine runs "
            f"Python {here} and has no python{version} on PATH; pip-only environments are "
            "built from an installed interpreter"
        )
    return found


def interpreter_version(python: str) -> str:
    """``X.Y.Z`` of an interpreter."""
    if python == sys.executable:
        return ".".join(map(str, sys.version_info[:3]))
    done = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def lock(
    spec: Path, data: dict[str, Any], lockfile: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    """Resolve a pip-only spec to exact wheels with hashes; write and return the lock.

    A lock file already written for the same spec content (its ``# spec sha256`` line)
    is kept as it is, so a committed lock is reused rather than resolved again.
    """
    wanted = pip_list(spec, data)
    python = find_python(python_version_wanted(data), spec)
    # covers the -r files too: a changed requirements.txt is a changed spec
    spec_line = f"# spec sha256 {spec_digest(spec)}"
    if lockfile.is_file() and spec_line in lockfile.read_text(encoding="utf-8").splitlines():
        text = lockfile.read_text(encoding="utf-8")
        packages = dict(
            line.split(" ", 1)[0].split("==", 1) for line in text.splitlines() if "==" in line
        )
        log(f"{lockfile} is the lock of this spec already; using it as it is")
        return {
            "method": METHOD_PIP,
            "lock_text": text,
            "packages": {"python": interpreter_version(python), **packages},
            "python": python,
        }
    with tempfile.TemporaryDirectory(prefix="snakeyard-pip-") as scratch:
        report = Path(scratch) / "report.json"
        command = [
            python, "-m", "pip", "install", "--dry-run", "--ignore-installed",
            "--only-binary", ":all:", "--disable-pip-version-check", "--quiet",
            "--report", str(report), *(word for pair in wanted.options for word in pair),
            *wanted.requirements,
        ]  # fmt: skip
        log("resolving with pip: " + " ".join(command))
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SnakeyardError(
                f"pip could not resolve {spec}: {_pip_error(done.stderr or done.stdout)}"
            )
        installs = json.loads(report.read_text(encoding="utf-8"))["install"]
    packages: dict[str, str] = {}
    lines = [
        f"# pip lock of {spec.name}, written by snakeyard: install with",
        "#   pip install --require-hashes --no-deps -r THIS_FILE",
        f"# python {interpreter_version(python)}, platform {sys.platform}",
        spec_line,
        # pip reads these from the lock when it builds the environment
        *(f"{option} {value}" for option, value in wanted.options),
    ]
    for item in sorted(installs, key=lambda i: _normal(i["metadata"]["name"])):
        name, version = _normal(item["metadata"]["name"]), item["metadata"]["version"]
        info = item["download_info"]
        digest = info.get("archive_info", {}).get("hashes", {}).get("sha256")
        if not digest:
            raise SnakeyardError(
                f"cannot lock {spec}: the index gave no sha256 for {name} {version} ({info['url']})"
            )
        packages[name] = version
        lines.append(f"{name}=={version} --hash=sha256:{digest}")
    text = "\n".join(lines) + "\n"
    lockfile.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(lockfile, text)
    packages = {"python": interpreter_version(python), **packages}
    log(f"locked {len(packages) - 1} pip packages into {lockfile}")
    return {"method": METHOD_PIP, "lock_text": text, "packages": packages, "python": python}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return " ".join(errors or lines[-2:]) or "no output"


def cache_root() -> Path:
    """Where environments are built: ``$SNAKEYARD_ENV_CACHE``, else the user's cache."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return cache_folder(CACHE_VARIABLE, Path(base) / "snakeyard" / "envs")


def venv_python(prefix: Path) -> Path:
    """The interpreter of a virtual environment."""
    return prefix / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def build_environment(
    lock_text: str, python: str, log: Callable[[str], None], cache: Path | None = None
) -> Path:
    """The interpreter of the environment built from a pip lock; built once per lock."""
    digest = hashlib.sha256(lock_text.encode()).hexdigest()
    root = cache or cache_root()
    prefix = root / f"pip-{digest[:32]}"
    if (prefix / MARKER).is_file():
        log(f"environment {prefix} is already built (pip lock {digest[:12]})")
        return venv_python(prefix)
    root.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(root, suffix=".tmp")
    staging = root / f".{temporary_name(prefix.name)}.tmp"
    log(f"building environment {prefix} from pip lock {digest[:12]}")
    try:
        subprocess.run(
            [python, "-m", "venv", "--without-pip", str(staging)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        lockfile = staging / "pip-lock.txt"
        lockfile.write_text(lock_text, encoding="utf-8")
        command = [
            sys.executable, "-m", "pip", "--python", str(venv_python(staging)), "install",
            "--require-hashes", "--no-deps", "--only-binary", ":all:", "--no-input",
            "--disable-pip-version-check", "--quiet", "-r", str(lockfile),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SnakeyardError(
                f"could not build the environment of pip lock {digest[:12]}: "
                f"{_pip_error(done.stderr or done.stdout)}"
            )
        _retarget_scripts(staging, prefix)
        packages = json.loads(
            subprocess.run(
                [str(venv_python(staging)), "-c", PACKAGES_SCRIPT],
                check=True, capture_output=True, text=True, env=_without_pythonpath(),
            ).stdout
        )  # fmt: skip
        (staging / MARKER).write_text(
            json.dumps({"lock_sha256": digest, "packages": packages}, indent=2) + "\n",
            encoding="utf-8",
        )
        fsync_tree(staging)
        try:
            os.rename(staging, prefix)
        except OSError:
            if not (prefix / MARKER).is_file():
                raise
            log(f"another job built {prefix} first; using it")
            shutil.rmtree(staging, ignore_errors=True)
        fsync_folder(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(f"environment {prefix} is ready ({len(packages)} packages)")
    return venv_python(prefix)


def _retarget_scripts(staging: Path, prefix: Path) -> None:
    """Point the shebangs of the environment's scripts at the folder it is renamed to."""
    old, new = str(staging).encode(), str(prefix).encode()
    for script in (staging / "bin").iterdir() if (staging / "bin").is_dir() else []:
        if script.is_file() and not script.is_symlink():
            content = script.read_bytes()
            if old in content:
                script.write_bytes(content.replace(old, new))


# the package lister, run by the other interpreter: standard library only
PACKAGES_SCRIPT = (Path(__file__).parent / "package_list.py").read_text(encoding="utf-8")


def packages_of(python: str) -> dict[str, str]:
    """The exact packages an interpreter runs with (read from the build when it is ours)."""
    marker = Path(python).parent.parent / MARKER
    if marker.is_file():
        return json.loads(marker.read_text(encoding="utf-8"))["packages"]
    done = subprocess.run(
        [python, "-c", PACKAGES_SCRIPT], capture_output=True, text=True, env=_without_pythonpath()
    )
    if done.returncode != 0:
        raise SnakeyardError(f"cannot list the packages of {python}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def _without_pythonpath() -> dict[str, str]:
    """This process's environment minus PYTHONPATH, so an interpreter sees only its own packages."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
