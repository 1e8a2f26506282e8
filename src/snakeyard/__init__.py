"""snakeyard: train and register scikit-learn models, declaratively, with Snakemake.

Importing this package is cheap and needs only the standard library, so a training
script can ``import snakeyard`` in any environment to reach :class:`Run`. The registry
API (:func:`load_model`, :class:`Registry`) is imported on first use.
"""

from __future__ import annotations

from typing import Any

from .errors import (
    ConfigError,
    IntegrityError,
    InvalidNameError,
    NotFoundError,
    SnakeyardError,
)
from .training.run_api import Run

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "IntegrityError",
    "InvalidNameError",
    "NotFoundError",
    "Registry",
    "Run",
    "SnakeyardError",
    "get_dataset",
    "get_model",
    "get_run",
    "list_runs",
    "load_model",
]

_LAZY = {"Registry", "load_model", "get_model", "get_run", "list_runs", "get_dataset"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from .registry import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'snakeyard' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public API, lazy names included, for dir() and tab completion (imports nothing)
    return sorted({*__all__, "__version__"})
