"""pip-only environments and environment settings, without Snakemake."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, default_config
from snakeyard.config import resolve, validate
from snakeyard.environments import pip_env as venvs
from snakeyard.environments.specs import read_spec
from snakeyard.errors import SnakeyardError

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def spec(tmp_path: Path, text: str) -> tuple[Path, dict]:
    path = tmp_path / "env.yaml"
    path.write_text(text)
    return path, read_spec(path)[1]


@pytest.mark.parametrize(
    ("text", "pip_only"),
    [
        ("dependencies:\n  - python=3.11\n  - pip:\n    - joblib\n", True),
        ("dependencies:\n  - pip\n  - pip:\n    - joblib==1.4.2\n", True),
        ("dependencies:\n  - python=3.11\n  - numpy\n  - pip:\n    - joblib\n", False),
        ("dependencies:\n  - python=3.11\n", False),
    ],
)
def test_which_specs_are_pip_only(tmp_path: Path, text: str, pip_only: bool):
    assert venvs.pip_only(spec(tmp_path, text)[1]) is pip_only


def test_a_version_that_does_not_exist_fails_the_lock_with_pips_words(tmp_path: Path):
    path, data = spec(tmp_path, "dependencies:\n  - pip:\n    - joblib==0.0.0.1\n")
    with pytest.raises(SnakeyardError, match=r"pip could not resolve .*env.yaml: .*joblib==0.0.0.1"):
        venvs.lock(path, data, tmp_path / "env.pip-lock.txt", lambda _: None)
    assert not (tmp_path / "env.pip-lock.txt").exists()


def test_an_empty_pip_list_is_named(tmp_path: Path):
    path, data = spec(tmp_path, "dependencies:\n  - python\n  - pip: []\n")
    with pytest.raises(SnakeyardError, match=r"env.yaml: the 'pip:' list is empty"):
        venvs.lock(path, data, tmp_path / "lock.txt", lambda _: None)


def wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel holding one module."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for file, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{file},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join(record + [f"{dist}/RECORD,,"]) + "\n"
    with zipfile.ZipFile(path, "w") as archive:
        for file, text in files.items():
            archive.writestr(file, text)
    return path


CONCURRENT = """
import sys
from pathlib import Path
from snakeyard.environments import pip_env as venvs
print(venvs.build_environment(Path(sys.argv[1]).read_text(), sys.executable, lambda _: None,
                        Path(sys.argv[2])))
"""


def test_concurrent_jobs_build_one_environment_and_leave_nothing_half_built(tmp_path: Path):
    built = wheel(tmp_path, "tinypkg", "1.0")
    digest = hashlib.sha256(built.read_bytes()).hexdigest()
    lock = tmp_path / "lock.txt"
    lock.write_text(f"tinypkg @ {built.as_uri()} --hash=sha256:{digest}\n")
    cache = tmp_path / "cache"
    jobs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(lock), str(cache)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for _ in range(3)
    ]
    outputs = [job.communicate(timeout=300) for job in jobs]
    assert all(job.returncode == 0 for job in jobs), outputs
    pythons = {out.strip() for out, _ in outputs}
    assert len(pythons) == 1
    assert [p.name for p in cache.iterdir()] == [Path(pythons.pop()).parent.parent.name]
    python = next(cache.iterdir()) / "bin" / "python"
    imported = subprocess.run(
        [str(python), "-c", "import tinypkg; print(tinypkg.VERSION)"], capture_output=True, text=True
    )
    assert imported.stdout.strip() == "1.0"
    assert venvs.packages_of(str(python))["tinypkg"] == "1.0"

    # a lock whose hash does not match its wheel builds nothing
    lock.write_text(f"tinypkg @ {built.as_uri()} --hash=sha256:{'0' * 64}\n")
    with pytest.raises(SnakeyardError, match="could not build the environment of pip lock"):
        venvs.build_environment(lock.read_text(), sys.executable, lambda _: None, cache)
    assert len(list(cache.iterdir())) == 1


def test_environment_current_and_its_reserved_name():
    config = default_config()
    assert config["experiments"]["sklearn-iris"]["environment"] == "current"
    resolve(validate(config, SCHEMA), ROOT, ROOT)

    config["environments"]["current"] = {"file": "envs/sklearn.yaml"}
    with pytest.raises(SnakeyardError, match="'current' is reserved"):
        resolve(validate(config, SCHEMA), ROOT, ROOT)

    config = default_config()
    config["experiments"]["sklearn-iris"]["environment"] = "sklaern"
    with pytest.raises(SnakeyardError, match=r"'sklaern' is not defined under environments "
                       r"\(defined: sklearn, current\)"):  # fmt: skip
        resolve(validate(config, SCHEMA), ROOT, ROOT)

    config = default_config()
    config["environments"]["sklearn"]["platforms"] = ["linux-32"]
    with pytest.raises(SnakeyardError, match=r"environments.sklearn.platforms.0: 'linux-32' is not one of"):
        validate(config, SCHEMA)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("dependencies:\n  - python\n  - pip: joblib\n", 3),
        ("dependencies:\n  - python\n  - pip:\n    - {joblib: 1}\n", 3),
        ("dependencies:\n  - python\n  - conda: [numpy]\n", 3),
    ],
)
def test_a_malformed_pip_list_names_the_file_and_line(tmp_path: Path, text: str, line: int):
    path = tmp_path / "env.yaml"
    path.write_text(text)
    with pytest.raises(SnakeyardError, match=rf"environment file {path}, line {line}: dependency 2 "):
        read_spec(path)
