"""The sweep stages: ``sweep`` ranks the trials and names the best run; ``sweep_report``
draws the report; ``sweep_wave`` proposes the next wave of a Bayesian sweep's trials.

Called by :mod:`snakeyard.stages` for ``workflow/rules/sweeps.smk``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import read_json, write_json_atomic, write_text_atomic

if TYPE_CHECKING:  # the stage's log, made by snakeyard.stages (which imports this module)
    from ..stages import StageLog


def sweep(
    *,
    experiment: str,
    trials: list[Path],
    metric: str,
    goal: str,
    table: Path,
    summary: Path,
    out: Path,
    log: StageLog,
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
    result, rows, best = choose_best(experiment, records, metric, goal.lower(), log.say)
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
    model: Path | None,
    table: Path,
    plot: Path,
    log: StageLog,
) -> None:
    """Say which trial won and which model version was registered from it (``model``,
    None for a sweep with ``model: null``); draw the
    sweep's part of the report: the trial table and the primary metric by parameter
    (file formats in docs/sweeps.md). The rest of the report (the registered model's
    metrics, pictures and lineage) is every experiment's, drawn by the experiment_report
    stage."""
    from .report import draw_report, winner_line

    swept = read_json(summary)
    log.say(winner_line(swept, None if model is None else read_json(model)))
    draw_report(swept, table=table, plot=plot, log=log)


def sweep_wave(
    *,
    experiment: str,
    wave: int,
    count: int,
    settings: dict,
    study: Path,
    trials: list[Path],
    out: Path,
    log: Callable[[str], None],
) -> None:
    """Plan wave ``wave`` of a Bayesian sweep: tell the study how the trials of the waves
    before (their run records, ``trials``) ended, ask it for ``count`` trials, and write
    them to ``out`` (JSON: ``wave``, ``study``, ``trials`` [{id, number, parameters}],
    ``exhausted``, ``expired``). No trial is proposed once the sweep's time budget
    (``settings["max_duration_minutes"]``) has run out."""
    import time

    from .budget import deadline, expired_reason
    from .study import plan_wave, study_name

    minutes = settings.get("max_duration_minutes")
    end = deadline(study, minutes)
    expired = end is not None and time.time() >= end
    if expired:
        log(f"sweep of {experiment}: wave {wave} not planned: {expired_reason(minutes)}")
        name = study_name({**settings, "sampling": "bayesian"})
        planned = {"wave": wave, "study": name, "trials": [], "exhausted": False}
    else:
        records = [read_json(path) for path in trials]
        planned = plan_wave(study, settings, wave, count, records, log)
    write_json_atomic(out, {**planned, "expired": expired})

