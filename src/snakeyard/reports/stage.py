"""The report stage: ``experiment_report`` draws every experiment's part of the
Snakemake report.

Called by :mod:`snakeyard.stages` for ``workflow/rules/reports.smk``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..files import read_json


def experiment_report(
    *,
    run: Path,
    model: Path | None,
    metrics: Path,
    curves: Path,
    confusion: Path,
    images: Path,
    log: Callable[[str], None],
) -> None:
    """Draw the report of the experiment whose run record is ``run`` and registered model
    receipt ``model`` (None when it registers none): the model with its lineage and
    metrics, the curves of its list metrics, its confusion matrix and its images (file
    formats in docs/report.md)."""
    from .experiment import draw_experiment_report

    draw_experiment_report(
        read_json(run), None if model is None else read_json(model),
        metrics=metrics, curves=curves, confusion=confusion, images=images, log=log,
    )  # fmt: skip
