"""The ranking of a sweep's trials by the primary metric, the best run, and the trial table.

A trial is usable when its run completed and logged the primary metric as a number; the
best is the first of the usable trials ordered by the metric in the sweep's goal, ties
broken by the run's start time and id (see docs/sweeps.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import SnakeyardError
from ..records import RunRecord
from .plan import GOALS

NON_FINITE = ("NaN", "Infinity", "-Infinity")  # how records write them (files.strict_json)


def final_value(record: RunRecord, metric: str) -> Any:
    """The run's last logged value of ``metric`` (None when it logged none)."""
    value = record.get("metrics", {}).get(metric)
    if isinstance(value, list):
        value = value[-1] if value else None
    return value


def metric_value(record: RunRecord, metric: str) -> float | None:
    """The run's final value of ``metric`` as a finite number, or None if it has none.

    NaN and infinities (written ``"NaN"``, ``"Infinity"``) are no number to rank by: an
    infinite loss or score is a diverged run, never the best one.
    """
    value = final_value(record, metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _no_number(record: RunRecord, metric: str) -> str:
    """Why a completed run has no usable ``metric``: none logged, or not a finite one."""
    value = final_value(record, metric)
    if isinstance(value, float) or value in NON_FINITE:
        return f"logged {metric!r} as {value}, not a finite number"
    return f"logged no number under {metric!r}"


def tie_break(run: RunRecord) -> tuple[str, str]:
    """Among runs with equal metrics: trial id first, then the run id (which starts with
    the start time). Unlike plan or finishing order, it never changes when the sweep grows
    or runs again."""
    return ((run.get("trial") or {}).get("id") or "", run.get("id") or "")


def sort_by_metric(
    runs: list[RunRecord], metric: str, descending: bool = True, completed_only: bool = True
) -> list[RunRecord]:
    """Runs with a number under ``metric`` first, best first, ties by :func:`tie_break`;
    the others after them, in the order given.

    ``completed_only`` leaves runs that did not complete among the others. Model versions
    (which have no status, and sort by the metrics their run logged) pass False; equal
    ones keep the order given.
    """

    def usable(run: RunRecord) -> bool:
        completed = run.get("status") == "Completed" or not completed_only
        return completed and metric_value(run, metric) is not None

    sign = -1 if descending else 1
    scored = sorted(
        (r for r in runs if usable(r)), key=lambda r: (sign * metric_value(r, metric), tie_break(r))
    )
    return scored + [r for r in runs if not usable(r)]


@dataclass
class Ranking:
    """A sweep's trials: the usable ones best first, and those left out with why."""

    ranked: list[RunRecord]
    left_out: list[tuple[RunRecord, str]]

    @property
    def best(self) -> RunRecord:
        return self.ranked[0]


def rank(records: list[RunRecord], metric: str, goal: str) -> Ranking:
    """Order trial run records by ``metric`` towards ``goal``.

    Ties go to the smaller trial id (:func:`tie_break`). Failed and Canceled runs, and
    runs that logged no finite number under ``metric``, are left out, in the order of
    ``records``.
    """
    if goal not in GOALS:
        raise SnakeyardError(f"invalid goal {goal!r}: use {' or '.join(GOALS)}")
    usable, left_out = [], []
    for record in records:
        if record.get("status") != "Completed":
            reason = record.get("error") or record.get("canceled")
            left_out.append((record, reason or f"status {record.get('status')}"))
        elif metric_value(record, metric) is None:
            left_out.append((record, _no_number(record, metric)))
        else:
            usable.append(record)
    return Ranking(sort_by_metric(usable, metric, descending=goal == "maximize"), left_out)


def table_rows(ranking: Ranking, metric: str) -> list[dict[str, Any]]:
    """One row per trial for ``sweep.tsv``: ranked trials first, then those left out."""
    records = ranking.ranked + [record for record, _ in ranking.left_out]
    reasons = {id(record): reason for record, reason in ranking.left_out}
    parameters = _union(r.get("trial", {}).get("parameters", {}) for r in records)
    metrics = _union(
        {k: v for k, v in r.get("metrics", {}).items() if _scalar(v) and k != metric}
        for r in records
    )
    rows = []
    for rank_number, record in enumerate(records, start=1):
        trial = record.get("trial", {})
        usable = id(record) not in reasons
        row = {
            "rank": rank_number if usable else "",
            "trial": trial.get("id", ""),
            "status": record.get("status") if usable or record.get("status") != "Completed"
            else "NoMetric",
            metric: metric_value(record, metric),
        }
        row.update({f"param:{p}": trial.get("parameters", {}).get(p) for p in parameters})
        row.update({m: _last(record.get("metrics", {}).get(m)) for m in metrics})
        row.update({
            "duration_seconds": record.get("duration_seconds"),
            "run_id": record.get("id"),
            "note": reasons.get(id(record), ""),
        })  # fmt: skip
        rows.append(row)
    return rows


def _union(mappings: Any) -> list[str]:
    names: dict[str, None] = {}
    for mapping in mappings:
        names.update(dict.fromkeys(mapping))
    return list(names)


def _scalar(value: Any) -> bool:
    value = _last(value)
    return isinstance(value, (str, int, float, bool))


def _last(value: Any) -> Any:
    return value[-1] if isinstance(value, list) and value else value


def tsv(rows: list[dict[str, Any]]) -> str:
    """Rows as tab-separated text with a header; empty cells for missing values."""
    if not rows:
        return ""
    columns = list(rows[0])

    def cell(value: Any) -> str:
        if value is None:
            return ""
        return re.sub(r"[\t\r\n]+", " ", str(value))

    lines = ["\t".join(columns)] + ["\t".join(cell(row[c]) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def choose_best(
    experiment: str,
    records: list[RunRecord],
    metric: str,
    goal: str,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, Any], list[dict[str, Any]], RunRecord]:
    """Rank a sweep's trial records; return its summary, its table rows and the best record.

    Trials left out, and the best, are said through ``log``, one line each beginning with
    the experiment (the sweep stage passes :meth:`snakeyard.stages.StageLog.say`: its log
    and Snakemake's console). When none is usable,
    raises :class:`SnakeyardError` naming why, so that nothing gets registered.
    """
    ranking = rank(records, metric, goal)
    rows = table_rows(ranking, metric)
    for record, reason in ranking.left_out:
        trial = record.get("trial", {}).get("id")
        line = f"trial {trial} (run {record.get('id')}) left out: {reason}"
        log(f"{experiment}: {line}")
    if not ranking.ranked:
        record, reason = ranking.left_out[0]
        raise SnakeyardError(
            f"sweep of experiment {experiment!r}: none of its {len(records)} trials can be "
            f"chosen (failed, canceled, or no number logged under {metric!r}), so nothing is "
            f"registered; "
            f"first one: trial {record.get('trial', {}).get('id')}: {reason}"
        )
    best = ranking.best
    value = metric_value(best, metric)
    summary = {
        "experiment": experiment,
        "primary_metric": metric,
        "goal": goal,
        "trials": len(records),
        "completed": len(ranking.ranked),
        "left_out": [
            {"trial": r.get("trial", {}).get("id"), "run_id": r.get("id"), "reason": reason}
            for r, reason in ranking.left_out
        ],
        "best": {
            "trial": best.get("trial", {}).get("id"),
            "run_id": best["id"],
            "value": value,
            "parameters": best.get("trial", {}).get("parameters", {}),
        },
        # the order of sweep.tsv's columns (JSON objects keep none)
        "columns": list(rows[0]) if rows else [],
        "rows": rows,
    }
    left = f"; {len(ranking.left_out)} left out" if ranking.left_out else ""
    parameters = ", ".join(f"{k}={v}" for k, v in summary["best"]["parameters"].items())
    line = (
        f"best of {len(records)} trials by {metric} ({goal}): trial {summary['best']['trial']} "
        f"({parameters or 'no parameters'}; run {best['id']}) with {metric}={value:g}{left}"
    )
    log(f"{experiment}: {line}")
    return summary, rows, best
