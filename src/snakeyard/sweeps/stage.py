"""The sweep stages: ``sweep`` ranks the trials and names the best run; ``sweep_report``
draws the report.

Called by :mod:`snakeyard.stages` for ``workflow/rules/sweeps.smk``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..files import read_json, write_json_atomic, write_text_atomic


def sweep(
    *,
    experiment: str,
    trials: list[Path],
    metric: str,
    goal: str,
    table: Path,
    summary: Path,
    out: Path,
    log: Callable[[str], None],
    registry: str | None = None,
) -> None:
    """Rank the trials' run records (``trials``) by ``metric`` in the direction of
    ``goal``; write the trial table (TSV) to ``table``, the summary (JSON) to
    ``summary`` and the best run's record to ``out``. With ``registry``, record the
    sweep's parent run there when the trials logged to ``run.parent``, named in the
    summary as ``parent_run``.

    Raises :class:`~snakeyard.errors.SnakeyardError` when no trial is usable."""
    from .ranking import choose_best, tsv

    records = [read_json(path) for path in trials]
    # the hosted spelling (MAXIMIZE) of a configuration read before it was normalised
    result, rows, best = choose_best(experiment, records, metric, goal.lower(), log)
    if registry is not None:
        from ..registry.registry import Registry
        from .parent import record_parent_run

        parent = record_parent_run(Registry(registry), experiment, records, best, log)
        if parent is not None:
            result["parent_run"] = {
                "id": parent["id"], "metrics": parent["metrics"], "tags": parent["tags"],
            }  # fmt: skip
    write_text_atomic(table, tsv(rows))
    write_json_atomic(summary, result)
    write_json_atomic(out, best)


def sweep_report(
    *,
    summary: Path,
    run: Path,
    model: Path,
    table: Path,
    plot: Path,
    confusion: Path,
    metrics: Path,
    log: Callable[[str], None],
) -> None:
    """Draw the report of a sweep: the trial table, the primary metric by parameter, the
    registered model's confusion matrix and metrics (file formats in docs/sweeps.md)."""
    from .report import draw_report

    draw_report(
        read_json(summary), read_json(run), read_json(model),
        table=table, plot=plot, confusion=confusion, metrics=metrics, log=log,
    )  # fmt: skip
