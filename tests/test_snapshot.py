"""Which source files a run's snapshot holds."""

from __future__ import annotations

from pathlib import Path

from snakeyard.training.snapshot import snapshot_files


def make(root: Path, *paths: str) -> None:
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(path)


def names(root: Path) -> list[str]:
    return [p.as_posix() for p in snapshot_files(root)]


def test_builtin_ignores(tmp_path: Path):
    make(tmp_path, "train.py", ".git/HEAD", "__pycache__/x.pyc", "lib/a.pyc", "outputs/old.pkl",
         "logs/old.txt", "lib/outputs/kept.txt")  # fmt: skip
    assert names(tmp_path) == ["lib/outputs/kept.txt", "train.py"]


def test_ignore_file_patterns(tmp_path: Path):
    make(tmp_path, "train.py", "secrets.env", "data/big.csv", "data/small.csv", "conf/a.env",
         "notes/data/keep.txt", "models/m.joblib")  # fmt: skip
    (tmp_path / ".snakeyardignore").write_text(
        "# secrets and large files stay out\n*.env\n/data/*.csv\n!/data/small.csv\nmodels/\n"
    )
    assert names(tmp_path) == [
        ".snakeyardignore", "data/small.csv", "notes/data/keep.txt", "train.py",
    ]  # fmt: skip
