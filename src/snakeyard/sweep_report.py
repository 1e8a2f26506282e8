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

from .files import write_text_atomic

BEST_COLOUR = "#d62728"
TRIAL_COLOUR = "#1f77b4"
# a parameter with at most this many distinct values is drawn as categories
CATEGORIES = 10


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    """Write a figure as PNG, atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    figure.savefig(partial, format="png", dpi=110)
    partial.replace(path)


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
        ):
            return name, [str(label) for label in labels], matrix
    raise LookupError("no metric holds a confusion matrix")


def plot_metric_by_parameter(summary: dict[str, Any], path: Path) -> None:
    """One panel per swept parameter: the primary metric of every usable trial, best in red."""
    plt = _pyplot()
    metric, goal = summary["primary_metric"], summary["goal"]
    rows = [row for row in summary["rows"] if row["rank"] != ""]
    columns = summary.get("columns") or list(rows[0])
    parameters = [column[len("param:") :] for column in columns if column.startswith("param:")]
    columns = min(3, len(parameters))
    lines = math.ceil(len(parameters) / columns)
    figure, axes = plt.subplots(
        lines, columns, figsize=(4.2 * columns, 3.6 * lines), squeeze=False
    )
    for ax in axes.flat[len(parameters) :]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, parameters, strict=False):
        values = [row[f"param:{name}"] for row in rows]
        scores = [row[metric] for row in rows]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        distinct = sorted(set(values), key=lambda v: (numeric and float(v), str(v)))
        if numeric and len(distinct) > CATEGORIES:
            xs = [float(v) for v in values]
            low, high = min(xs), max(xs)
            if low > 0 and high / low >= 100:
                ax.set_xscale("log")
        else:
            # few values: one column each, trials that share one spread across it
            categories = [str(v) for v in distinct]
            seen: dict[str, int] = {}
            xs = []
            for value in map(str, values):
                count = seen.get(value, 0)
                seen[value] = count + 1
                xs.append(categories.index(value) + ((count % 7) - 3) * 0.05)
            ax.set_xticks(range(len(categories)), categories)
            ax.set_xlim(-0.5, len(categories) - 0.5)
        ax.scatter(xs[1:], scores[1:], color=TRIAL_COLOUR, alpha=0.75, label="trial")
        ax.scatter(xs[:1], scores[:1], color=BEST_COLOUR, marker="*", s=180, label="best")
        ax.set_xlabel(name)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(loc="best", fontsize="small")
    left = len(summary["rows"]) - len(rows)
    note = f", {left} left out (failed or no {metric})" if left else ""
    figure.suptitle(
        f"{summary['experiment']}: {metric} ({goal}) by parameter, "
        f"{len(rows)} trials{note}; best trial {summary['best']['trial']}",
        fontsize="medium",
    )
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)


def plot_confusion_matrix(
    title: str, labels: list[str], matrix: list[list[float]], path: Path
) -> None:
    """The counts as a heat map with each count written in its cell."""
    plt = _pyplot()
    size = max(4.0, 0.6 * len(labels) + 2.5)
    figure, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    highest = max((max(row) for row in matrix), default=0) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            colour = "white" if count > highest / 2 else "black"
            ax.text(j, i, f"{count:g}", ha="center", va="center", color=colour)
    ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 4 else 0)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize="medium")
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)


def plot_message(message: str, path: Path) -> None:
    """A picture that says why there is no picture."""
    plt = _pyplot()
    figure = plt.figure(figsize=(6, 1.6))
    figure.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    _save(figure, path)
    plt.close(figure)


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
    """Write the sweep's table and plot, the registered model's confusion matrix and metrics."""
    write_text_atomic(table, sweep_page(summary))
    log(f"table of {summary['trials']} trials: {table}")
    plot_metric_by_parameter(summary, plot)
    log(f"plot of {summary['primary_metric']} by parameter: {plot}")
    reference = f"{model['name']}:{model['version']}"
    try:
        name, labels, matrix = find_confusion_matrix(run.get("metrics", {}))
    except LookupError:
        plot_message(
            f"Run {run['id']} of model {reference} logged no confusion matrix\n"
            '(a metric {"class_labels": [...], "matrix": [[...], ...]})',
            confusion,
        )
        log(f"run {run['id']} logged no confusion matrix; {confusion} says so")
    else:
        title = f"{name} of model {reference}\nrun {run['id']}"
        plot_confusion_matrix(title, labels, matrix, confusion)
        log(f"confusion matrix of model {reference} ({len(labels)} classes): {confusion}")
    write_text_atomic(metrics, model_page(run, model))
    log(f"metrics of model {reference}: {metrics}")
