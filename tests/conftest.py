"""Shared fixtures: temporary registries and real Snakemake runs in temporary folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from snakeyard.registry.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
SNAKEFILE = ROOT / "Snakefile"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry")


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1 MiB tmpfs: a disk that fills up for real (mounting it needs root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=True)


def default_config() -> dict:
    """The repository's default experiment configuration, freshly parsed."""
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


class Project:
    """A working directory with its own config/config.yaml, run with the real snakemake."""

    def __init__(self, path: Path):
        self.path = path
        self.registry = Registry(path / "registry")
        self.write_config(default_config())

    def write_config(self, config: dict) -> None:
        (self.path / "config").mkdir(exist_ok=True)
        (self.path / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    def config(self) -> dict:
        return yaml.safe_load((self.path / "config" / "config.yaml").read_text())

    def snakemake(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        command = ["snakemake", "-s", str(SNAKEFILE), "--cores", "2", *args]
        environment = {**os.environ, **(env or {})}
        done = subprocess.run(
            command, cwd=self.path, capture_output=True, text=True, env=environment
        )
        if check and done.returncode != 0:
            raise AssertionError(f"snakemake failed:\n{done.stdout}\n{done.stderr}")
        return done

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        command = [
            sys.executable,
            "-m",
            "snakeyard",
            "--registry",
            str(self.path / "registry"),
            *args,
        ]
        return subprocess.run(command, cwd=self.path, capture_output=True, text=True)

    def add_experiment(self, name: str, script_text: str, **overrides) -> dict:
        """Add an experiment whose source directory holds ``train.py`` with ``script_text``."""
        source = self.path / "sources" / name
        source.mkdir(parents=True)
        (source / "train.py").write_text(script_text)
        config = self.config()
        experiment = {
            "source_directory": str(source),
            "script": "train.py",
            "dataset": "iris",
            "environment": "current",
        }
        experiment.update(overrides)
        config["experiments"][name] = experiment
        self.write_config(config)
        return experiment


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def jobs_run(output: str, rule: str) -> int:
    """How many jobs of ``rule`` a snakemake log shows as started."""
    return sum(
        1 for line in output.splitlines() if line.strip() in (f"rule {rule}:", f"localrule {rule}:")
    )


# a registry or run chosen in the developer's shell must not leak into the tests
for _variable in ("SNAKEYARD_REGISTRY", "SNAKEYARD_RUN_DIR", "SNAKEYARD_RUN_ID"):
    os.environ.pop(_variable, None)


SLURM_PROFILE = ROOT / "profiles" / "slurm"
# the profile's settings, plus quicker status checks for jobs that last seconds
SLURM_ARGS = ("--profile", str(SLURM_PROFILE), "--slurm-init-seconds-before-status-checks", "2")


def slurm_missing() -> str | None:
    """Why no Slurm can take jobs here, or None when one answers with a usable node."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "no Slurm here (no sbatch/sinfo on PATH); start one with tests/cluster/slurm-up.sh"
    done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    states = done.stdout.split()
    if done.returncode != 0 or not {"idle", "mixed", "allocated"} & set(states):
        said = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no node"]
        return f"Slurm does not answer with a usable node ({said[0]}); run tests/cluster/slurm-up.sh"
    return None


@pytest.fixture(scope="session")
def slurm() -> None:
    """Skip without Slurm; under CI=true fail instead, so the cluster proof cannot vanish."""
    reason = slurm_missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; .ci/run starts Slurm, so CI must not skip this proof")
    pytest.skip(reason)
