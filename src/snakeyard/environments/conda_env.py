"""Conda specs locked with py-rattler, in conda-lock's format, and Snakemake's pin files.

Used when no conda, mamba or micromamba is installed: py-rattler fetches the channels'
repodata (``file://`` channels work offline), solves the spec once per platform, and
the result is written with conda-lock's own lock file model, so ``conda-lock install``
and :func:`conda_lock.lockfile.parse_conda_lock_file` read it. From a lock file (made
either way) :func:`render_pins` writes ``envs/NAME.<platform>.pin.txt``, the explicit
package lists Snakemake's conda deployment installs instead of solving the spec again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, SnakeyardError
from ..files import fsync_tree, load_yaml, write_text_atomic

# what a machine of each platform offers the solver (__glibc, __osx, ...), so that a
# spec can be locked for platforms other than this machine's
VIRTUAL_PACKAGES = {
    "linux": [("__unix", "0", "0"), ("__linux", "5.10", "0"), ("__glibc", "2.28", "0")],
    "osx": [("__unix", "0", "0"), ("__osx", "11.0", "0")],
    "win": [("__win", "0", "0")],
}
KNOWN_PLATFORMS = (
    "linux-64", "linux-aarch64", "linux-ppc64le", "osx-64", "osx-arm64", "win-64", "win-arm64",
)  # fmt: skip


def conda_specs(path: Path, data: dict[str, Any]) -> list[str]:
    """The conda package specs of a spec file (its ``pip:`` list is not supported here)."""
    specs: list[str] = []
    for item in data["dependencies"]:
        if isinstance(item, dict):
            if item.get("pip"):
                raise ConfigError(
                    f"environment file {path}: a 'pip:' list next to conda packages needs conda "
                    "(conda-lock locks it with pip); without conda use a conda-only or a "
                    "pip-only spec (python plus a 'pip:' list)"
                )
            continue
        specs.append(item.strip())
    return specs


def channels_of(path: Path, data: dict[str, Any], override: list[str] | None) -> list[str]:
    """The channels to solve against: the override, else the spec's, else conda-forge."""
    channels = override or data.get("channels") or ["conda-forge"]
    if not all(isinstance(c, str) and c for c in channels):
        raise ConfigError(f"environment file {path}: 'channels:' must be a list of names or URLs")
    return [str(c) for c in channels]


def lock(
    spec: Path,
    data: dict[str, Any],
    lockfile: Path,
    platforms: tuple[str, ...] | list[str],
    log: Callable[[str], None],
    channels: list[str] | None = None,
) -> str:
    """Solve ``spec`` for each platform with py-rattler; write and return the lock file."""
    import rattler
    from rattler.exceptions import SolverError

    for name in platforms:
        if name not in KNOWN_PLATFORMS:
            raise ConfigError(
                f"unknown platform {name!r} for {spec}; use some of {', '.join(KNOWN_PLATFORMS)}"
            )
    specs = conda_specs(spec, data)
    sources = channels_of(spec, data, channels)
    current = up_to_date(spec, lockfile, platforms, sources)
    if current is not None:
        log(f"{lockfile} is the lock of this spec already; using it as it is")
        return current
    solved: dict[str, list[Any]] = {}
    for name in platforms:
        started = time.monotonic()
        try:
            records = asyncio.run(
                rattler.solve(
                    sources=[rattler.Channel(c) for c in sources],
                    specs=specs,
                    platforms=[name, "noarch"],
                    virtual_packages=_virtual_packages(name),
                )
            )
        except SolverError as error:
            raise SnakeyardError(f"cannot lock {spec} for {name}: {_first_lines(error)}") from None
        except Exception as error:  # fetching repodata: network, missing channel, ...
            raise SnakeyardError(
                f"cannot lock {spec} for {name} from channels {', '.join(sources)}: "
                f"{type(error).__name__}: {_first_lines(error)}"
            ) from None
        solved[name] = records
        log(
            f"solved {spec.name} for {name}: {len(records)} packages "
            f"in {time.monotonic() - started:.1f} s"
        )
    text = lock_text(spec, sources, solved)
    lockfile.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(lockfile, text)
    log(f"wrote {lockfile}")
    return text


def spec_hash(spec_text: str, platform_name: str) -> str:
    """What a lock records per platform to say which spec it was made from."""
    return hashlib.sha256(f"{platform_name}\n{spec_text}".encode()).hexdigest()


def up_to_date(
    spec: Path, lockfile: Path, platforms: tuple[str, ...] | list[str], channels: list[str]
) -> str | None:
    """The text of ``lockfile`` if it was made from this spec, platforms and channels."""
    if not lockfile.is_file():
        return None
    text = lockfile.read_text(encoding="utf-8")
    try:
        metadata = (load_yaml(text) or {}).get("metadata") or {}
    except yaml.YAMLError:
        return None
    spec_text = spec.read_text(encoding="utf-8")
    wanted = {name: spec_hash(spec_text, name) for name in platforms}
    urls = [c.get("url") for c in metadata.get("channels") or [] if isinstance(c, dict)]
    if metadata.get("content_hash") != wanted or urls != channels:
        return None
    return text


def _first_lines(error: BaseException, limit: int = 12) -> str:
    lines = [line.rstrip() for line in str(error).splitlines() if line.strip()]
    return "\n".join(lines[:limit]) or type(error).__name__


def _virtual_packages(platform_name: str) -> list[Any]:
    import rattler

    packages = VIRTUAL_PACKAGES[platform_name.split("-")[0]]
    return [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString(build)
        )
        for name, version, build in packages
    ]


def lock_text(spec: Path, channels: list[str], solved: dict[str, list[Any]]) -> str:
    """A conda-lock file (its schema version 1) for the solved records of each platform."""
    from conda_lock.lockfile import write_conda_lock_file
    from conda_lock.lockfile.v1.models import HashModel, LockMeta
    from conda_lock.lockfile.v2prelim.models import LockedDependency, Lockfile
    from conda_lock.models.channel import Channel

    spec_text = spec.read_text(encoding="utf-8")
    package = []
    for platform_name, records in solved.items():
        for record in records:
            package.append(
                LockedDependency(
                    name=record.name.normalized,
                    version=str(record.version),
                    manager="conda",
                    platform=platform_name,
                    dependencies=_dependencies(record.depends),
                    url=record.url,
                    hash=HashModel(md5=_hex(record.md5), sha256=_hex(record.sha256)),
                    build=str(record.build),
                    categories={"main"},
                )
            )
    content = Lockfile(
        package=package,
        metadata=LockMeta(
            content_hash={name: spec_hash(spec_text, name) for name in solved},
            channels=[Channel.from_string(c) for c in channels],
            platforms=list(solved),
            sources=[spec.name],
        ),
    )
    with tempfile.TemporaryDirectory(prefix="snakeyard-lock-") as scratch:
        path = Path(scratch) / "lock.yml"
        write_conda_lock_file(content, path, metadata_choices=None, include_help_text=False)
        return path.read_text(encoding="utf-8")


def _hex(value: Any) -> str | None:
    if value is None:
        return None
    return value.hex() if isinstance(value, bytes) else str(value)


def _dependencies(depends: list[str]) -> dict[str, str]:
    """``['numpy >=1.20', 'python']`` the way conda-lock writes them.

    That is ``{numpy: '>=1.20', python: '*'}``.
    """
    result = {}
    for item in depends:
        name, _, constraint = item.partition(" ")
        result[name] = constraint.strip() or "*"
    return result


def render_pins(
    spec: Path, lock_text: str, platforms: tuple[str, ...] | list[str]
) -> dict[str, Path]:
    """Write Snakemake's ``envs/NAME.<platform>.pin.txt`` for each platform of a lock."""
    data = load_yaml(lock_text) or {}
    stem = spec.name.removesuffix(".yaml").removesuffix(".yml")
    written = {}
    for platform_name in platforms:
        urls = [
            p["url"] + (f"#{p['hash']['md5']}" if p.get("hash", {}).get("md5") else "")
            for p in data.get("package", [])
            if p.get("platform") == platform_name and p.get("manager") == "conda"
        ]
        if not urls:
            continue
        text = (
            f"# {stem} for {platform_name}, rendered by snakeyard from {stem}.conda-lock.yml\n"
            f"# platform: {platform_name}\n@EXPLICIT\n" + "\n".join(urls) + "\n"
        )
        target = spec.with_name(f"{stem}.{platform_name}.pin.txt")
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, text)
        written[platform_name] = target
    return written


def install(lock_text: str, platform_name: str, prefix: Path, log: Callable[[str], None]) -> None:
    """Install the packages a lock file pins for ``platform_name`` into ``prefix``.

    py-rattler downloads (or, for ``file://`` channels, copies) each package, checks its
    sha256 and links it, as conda would from the pin file.
    """
    import rattler

    data = load_yaml(lock_text) or {}
    records = []
    for entry in data.get("package", []):
        if entry.get("platform") != platform_name or entry.get("manager") != "conda":
            continue
        url = entry["url"]
        file_name = url.rsplit("/", 1)[-1]
        subdir = url.rsplit("/", 2)[-2]
        digest = entry.get("hash") or {}
        record = rattler.PackageRecord(
            name=entry["name"],
            version=str(entry["version"]),
            build=rattler.BuildString(str(entry.get("build") or "0")),
            build_number=0,
            subdir=subdir,
            depends=[
                k if v == "*" else f"{k} {v}" for k, v in (entry.get("dependencies") or {}).items()
            ],
            md5=bytes.fromhex(digest["md5"]) if digest.get("md5") else None,
            sha256=bytes.fromhex(digest["sha256"]) if digest.get("sha256") else None,
        )
        channel = url.rsplit("/", 2)[0]
        records.append(rattler.RepoDataRecord(record, file_name, url, channel))
    if not records:
        raise SnakeyardError(f"the lock has no conda packages for platform {platform_name}")
    log(f"installing {len(records)} locked packages into {prefix}")
    asyncio.run(rattler.install(records, target_prefix=prefix, show_progress=False))


def install_environment(
    lock_text: str, log: Callable[[str], None], cache: Path, platform_name: str
) -> Path:
    """The prefix of the conda environment installed from a lock; installed once per lock.

    Conda packages embed their prefix in files, so the environment cannot be built
    elsewhere and renamed: it is installed in place while holding a lock file
    (``fcntl.flock``, which is reliable on a local disk), and ``snakeyard-env.json``,
    written last, marks it complete. The environment is flushed to stable storage
    before the marker, so a power loss cannot leave a marked one with empty files.
    """
    import fcntl

    digest = hashlib.sha256(lock_text.encode()).hexdigest()
    prefix = cache / f"conda-{digest[:32]}-{platform_name}"
    marker = prefix / "snakeyard-env.json"
    if marker.is_file():
        return prefix
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{prefix.name}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if marker.is_file():
            return prefix
        if prefix.exists():
            shutil.rmtree(prefix)  # a build that was interrupted
        install(lock_text, platform_name, prefix, log)
        fsync_tree(prefix)
        write_text_atomic(marker, json.dumps({"lock_sha256": digest, "platform": platform_name}))
    return prefix


def prefix_packages(prefix: Path) -> dict[str, str]:
    """Name and version of every conda package installed in ``prefix``."""
    packages = {}
    for record in sorted((prefix / "conda-meta").glob("*.json")):
        meta = json.loads(record.read_text(encoding="utf-8"))
        packages[meta["name"]] = str(meta["version"])
    return dict(sorted(packages.items()))
