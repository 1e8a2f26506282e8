"""The package itself: version, licence, and what ``import snakeyard`` shows and costs."""

from __future__ import annotations

import rlcompleter
import subprocess
import sys
import tomllib
from pathlib import Path

import snakeyard

ROOT = Path(__file__).resolve().parents[1]


def test_dir_lists_the_public_api_lazy_names_included():
    names = dir(snakeyard)
    assert set(snakeyard.__all__) <= set(names)
    assert {"Registry", "load_model", "get_model", "get_run", "list_runs", "get_dataset"} <= set(
        names
    )
    assert "__version__" in names and names == sorted(names)
    for name in snakeyard.__all__:
        assert getattr(snakeyard, name) is not None


def test_tab_completion_offers_the_lazy_functions():
    completer = rlcompleter.Completer({"snakeyard": snakeyard})
    assert completer.complete("snakeyard.load_", 0) == "snakeyard.load_model("
    assert completer.complete("snakeyard.load_", 1) is None
    offered = set()
    state = 0
    while (match := completer.complete("snakeyard.get_", state)) is not None:
        offered.add(match)
        state += 1
    assert offered == {
        "snakeyard.get_dataset(",
        "snakeyard.get_model(",
        "snakeyard.get_run(",
    }


def test_import_and_dir_stay_cheap():
    """A training script imports snakeyard: only the standard library, no registry."""
    heavy = ["snakeyard.registry", "numpy", "yaml", "joblib", "sklearn", "snakemake"]
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys, snakeyard; dir(snakeyard); "
         f"print([m for m in {heavy!r} if m in sys.modules])"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "[]"


def test_version_has_one_source():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "snakeyard.__version__"}


def test_licence_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == {"text": "MIT"}
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License\n")
    assert "Copyright (c) 2026 the snakeyard authors" in licence
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in licence
