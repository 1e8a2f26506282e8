"""Pictures of a sweep for the Snakemake report: metric against parameters, confusion matrix.

A training script logs a confusion matrix as one metric whose value is a mapping with
``class_labels`` (n names) and ``matrix`` (n rows of n counts, true class by row,
predicted class by column), as ``experiments/sklearn-iris/train.py`` does.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..files import write_text_atomic
from . import svg


def find_confusion_matrix(metrics: dict[str, Any]) -> tuple[str, list[str], list[list[float]]]:
    """The first metric that holds a confusion matrix: (its name, class labels, counts)."""
    for name, value in metrics.items():
        if isinstance(value, list) and value and isinstance(value[-1], dict):
            value = value[-1]
        if not isinstance(value, dict):
            continue
        labels, matrix = value.get("class_labels"), value.get("matrix")
        if (
            isinstance(labels, list)
            and isinstance(matrix, list)
            and len(matrix) == len(labels) > 0
            and all(isinstance(row, list) and len(row) == len(labels) for row in matrix)
            and all(_is_number(count) for row in matrix for count in row)
        ):
            return name, [str(label) for label in labels], matrix
    raise LookupError("no metric holds a confusion matrix")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metric_by_parameter(summary: dict[str, Any]) -> str:
    """SVG: one panel per swept parameter, the primary metric of every usable trial, best
    as a red star."""
    metric, goal = summary["primary_metric"], summary["goal"]
    rows = [row for row in summary["rows"] if row["rank"] != ""]
    columns = summary.get("columns") or list(rows[0])
    parameters = [column[len("param:") :] for column in columns if column.startswith("param:")]
    if not parameters:
        return svg.message(f"The sweep of {summary['experiment']} has no swept parameter to plot.")
    left = len(summary["rows"]) - len(rows)
    note = f", {left} left out (failed or no {metric})" if left else ""
    title = (
        f"{summary['experiment']}: {metric} ({goal}) by parameter, "
        f"{len(rows)} trials{note}; best trial {summary['best']['trial']}"
    )
    return svg.scatter_panels(
        title,
        metric,
        {name: [row[f"param:{name}"] for row in rows] for name in parameters},
        [row[metric] for row in rows],
        best=next(i for i, row in enumerate(rows) if row["rank"] == 1),
    )


def model_metrics_rows(run: dict[str, Any], model: dict[str, Any]) -> list[dict[str, Any]]:
    """The registered model's identity and its run's scalar metrics, as table rows."""
    trial = run.get("trial") or {}
    rows = [
        {"field": "model", "value": f"{model['name']}:{model['version']}"},
        {"field": "run", "value": run["id"]},
        {"field": "trial", "value": trial.get("id", "")},
    ]
    rows += [
        {"field": f"param:{name}", "value": value}
        for name, value in trial.get("parameters", {}).items()
    ]
    for name, value in run.get("metrics", {}).items():
        if isinstance(value, list) and value and not isinstance(value[-1], (dict, list)):
            value = value[-1]
        if isinstance(value, (str, int, float, bool)):
            rows.append({"field": name, "value": value})
    return rows


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; font-size: 14px; margin: 1em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
th {{ background: #f0f0f0; }}
td.number {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.best td {{ background: #fde8e8; font-weight: bold; }}
tr.left-out td {{ color: #888; }}
</style></head>
<body><h3>{title}</h3>
<p>{intro}</p>
{table}
</body></html>
"""


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "<td></td>"
    if isinstance(value, float):
        return f'<td class="number">{value:.6g}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="number">{value}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def html_table(
    rows: list[dict[str, Any]], classes: list[str] | None = None, columns: list[str] | None = None
) -> str:
    """Rows as an HTML table; ``classes`` gives each row's CSS class."""
    if not rows:
        return "<p>(no rows)</p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(_cell(row[c]) for c in columns) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "</tbody></table>"


def sweep_page(summary: dict[str, Any]) -> str:
    """The sweep's table as a web page: best trial highlighted, left-out trials greyed."""
    rows = summary["rows"]
    classes = ["best" if row["rank"] == 1 else "left-out" if row["rank"] == "" else ""
               for row in rows]  # fmt: skip
    left = len(summary["left_out"])
    intro = (
        f"{summary['trials']} trials ranked by {summary['primary_metric']} "
        f"({summary['goal']}; ties go to the smaller trial id); best: trial "
        f"{summary['best']['trial']}, run {summary['best']['run_id']}"
        + (f"; {left} left out (failed, or no {summary['primary_metric']})" if left else "")
    )
    title = f"Sweep of {summary['experiment']}"
    return PAGE.format(title=html.escape(title), intro=html.escape(intro),
                       table=html_table(rows, classes, summary.get("columns")))  # fmt: skip


def model_page(run: dict[str, Any], model: dict[str, Any]) -> str:
    """The registered model's metrics as a web page."""
    reference = f"{model['name']}:{model['version']}"
    intro = f"Model {reference}, from run {run['id']} of experiment {run['experiment']}."
    return PAGE.format(title=html.escape(f"Model {reference}"), intro=html.escape(intro),
                       table=html_table(model_metrics_rows(run, model)))  # fmt: skip


def draw_report(
    summary: dict[str, Any],
    run: dict[str, Any],
    model: dict[str, Any],
    *,
    table: Path,
    plot: Path,
    confusion: Path,
    metrics: Path,
    log: Callable[[str], None] = print,
) -> None:
    """Write the sweep's table and plot, the registered model's confusion matrix and metrics
    (pages as HTML, pictures as SVG)."""
    for path in (table, plot, confusion, metrics):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(table, sweep_page(summary))
    log(f"table of {summary['trials']} trials: {table}")
    write_text_atomic(plot, metric_by_parameter(summary))
    log(f"plot of {summary['primary_metric']} by parameter: {plot}")
    reference = f"{model['name']}:{model['version']}"
    try:
        name, labels, matrix = find_confusion_matrix(run.get("metrics", {}))
    except LookupError:
        picture = svg.message(
            f"Run {run['id']} of model {reference} logged no confusion matrix\n"
            '(a metric {"class_labels": [...], "matrix": [[...], ...]})'
        )
        write_text_atomic(confusion, picture)
        log(f"run {run['id']} logged no confusion matrix; {confusion} says so")
    else:
        title = f"{name} of model {reference}\nrun {run['id']}"
        picture = svg.heat_map(
            title, labels, matrix, x_label="predicted class", y_label="true class"
        )
        write_text_atomic(confusion, picture)
        log(f"confusion matrix of model {reference} ({len(labels)} classes): {confusion}")
    write_text_atomic(metrics, model_page(run, model))
    log(f"metrics of model {reference}: {metrics}")
