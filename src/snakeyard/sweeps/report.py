"""Pictures of a sweep for the Snakemake report: metric against parameters, confusion matrix.

A training script logs a confusion matrix as one metric whose value is a mapping with
``class_labels`` (n names) and ``matrix`` (n rows of n counts, true class by row,
predicted class by column), as ``experiments/sklearn-iris/train.py`` does.

The pictures are drawn with matplotlib, an optional dependency (``snakeyard[report]``)
imported only when one is drawn, so that nothing a training job imports needs it. They
are written as SVG with their text kept as ``<text>`` and their parts in groups named by
matplotlib gids (``<g id="panel-kernel">``), which the tests look for.
"""

from __future__ import annotations

import html
import io
import math
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SnakeyardError
from ..files import write_text_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MATPLOTLIB_MISSING = (
    "the sweep report needs matplotlib: pip install 'snakeyard[report]' (or pip install matplotlib)"
)
STYLE = {
    "svg.fonttype": "none",  # text as <text>, not glyph outlines: smaller, findable
    "svg.hashsalt": "snakeyard",  # the same ids, so the same file, for the same picture
    "font.family": "DejaVu Sans",
    "axes.edgecolor": "#444444",
    "text.color": "#222222",
    "axes.labelcolor": "#222222",
}
TITLE_SIZE = 12.0
LABEL_SIZE = 11.0
TICK_SIZE = 10.0  # matplotlib's default
GRID_COLOUR = "#e4e4e4"
TRIAL_MARKER = {"marker": "o", "markersize": 7, "color": "#1f77b4", "alpha": 0.75}
BEST_MARKER = {"marker": "*", "markersize": 17, "color": "#d62728"}
PANEL_SIZE = (4.6, 3.5)  # inches, one scatter panel with its labels
HEADER = 0.9  # inches for the title above the panels and the legend below
PANELS_PER_ROW = 3
# a parameter with at most this many distinct values is drawn as categories
CATEGORIES = 10
# the longest category or class label drawn in full, in characters
LABEL_CHARACTERS = 18


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
    return svg_document(metric_by_parameter_figure(summary))


def metric_by_parameter_figure(summary: dict[str, Any]) -> Figure:
    """The figure of :func:`metric_by_parameter`: up to three panels a row, each usable
    trial a blue circle (group ``trial-marker-<parameter>-<trial>``), the best a red star
    (``best-trial-<parameter>-<trial>``), in a panel ``panel-<parameter>``."""
    metric, goal = summary["primary_metric"], summary["goal"]
    rows = [row for row in summary["rows"] if row["rank"] != ""]
    columns = summary.get("columns") or list(summary["rows"][0])
    parameters = [column[len("param:") :] for column in columns if column.startswith("param:")]
    if not parameters:
        return message_figure(
            f"The sweep of {summary['experiment']} has no swept parameter to plot."
        )
    if not rows:
        return message_figure(f"The sweep of {summary['experiment']} has no usable trial.")
    left = len(summary["rows"]) - len(rows)
    note = f", {left} left out (failed or no {metric})" if left else ""
    title = (
        f"{summary['experiment']}: {metric} ({goal}) by parameter, "
        f"{len(rows)} trials{note}; best trial {summary['best']['trial']}"
    )
    scores = [float(row[metric]) for row in rows]
    best = next(i for i, row in enumerate(rows) if row["rank"] == 1)
    trials = [_clean(row.get("trial") or f"row{i + 1}") for i, row in enumerate(rows)]

    matplotlib = _matplotlib()
    Line2D = matplotlib.lines.Line2D
    per_row = min(PANELS_PER_ROW, len(parameters))
    panel_rows = math.ceil(len(parameters) / per_row)
    with _style():
        figure = matplotlib.figure.Figure(
            figsize=(per_row * PANEL_SIZE[0], panel_rows * PANEL_SIZE[1] + HEADER),
            layout="constrained",
        )
        characters = int(per_row * PANEL_SIZE[0] * 72 / (TITLE_SIZE * 0.6))
        figure.suptitle(_wrap(title, characters), fontsize=TITLE_SIZE, gid="title",
                        parse_math=False)  # fmt: skip
        figure.legend(
            handles=[
                Line2D([], [], **TRIAL_MARKER, linestyle="none"),
                Line2D([], [], **BEST_MARKER, linestyle="none"),
            ],
            labels=["trial", "best"],
            loc="outside lower center",
            ncols=2,
            frameon=False,
        ).set_gid("legend")
        for k, name in enumerate(parameters):
            ax = figure.add_subplot(panel_rows, per_row, k + 1)
            _panel(ax, name, metric, [row[f"param:{name}"] for row in rows], scores, trials, best)
    return figure


def _panel(
    ax: Any,
    name: str,
    metric: str,
    values: list[Any],
    scores: list[float],
    trials: list[str],
    best: int,
) -> None:
    """One parameter's panel: its values along x (categories, a linear or a log axis),
    the metric up the side."""
    gid = _clean(name)
    ax.set_gid(f"panel-{gid}")
    xs = _parameter_axis(ax, gid, values)
    ax.grid(True, color=GRID_COLOUR, linewidth=0.8)
    ax.set_axisbelow(True)
    for i, (x, y) in enumerate(zip(xs, scores, strict=True)):
        if i != best and math.isfinite(x) and math.isfinite(y):
            ax.plot([x], [y], **TRIAL_MARKER, linestyle="none",
                    gid=f"trial-marker-{gid}-{trials[i]}")  # fmt: skip
    # the best trial last and on top, so that no circle hides it
    ax.plot([xs[best]], [scores[best]], **BEST_MARKER, linestyle="none", zorder=3,
            gid=f"best-trial-{gid}-{trials[best]}")  # fmt: skip
    ax.set_xlabel(_shorten(name, 40), fontsize=LABEL_SIZE, gid=f"x-label-{gid}",
                  parse_math=False)  # fmt: skip
    ax.set_ylabel(_shorten(metric, 40), fontsize=LABEL_SIZE, gid=f"y-label-{gid}",
                  parse_math=False)  # fmt: skip


def _parameter_axis(ax: Any, gid: str, values: list[Any]) -> list[float]:
    """Set up the x axis that suits a parameter's values; return each value's place.

    Categories for a few distinct values (at most :data:`CATEGORIES`) or for anything but
    finite numbers, a log axis for positive numbers across two decades or more, a linear
    axis otherwise.
    """
    numeric = all(_is_number(v) for v in values)
    if not numeric or len(set(values)) <= CATEGORIES:
        return _category_axis(ax, gid, values, numeric)
    numbers = [float(v) for v in values]
    low, high = min(numbers), max(numbers)
    if low > 0 and high / low >= 100:
        ax.set_xscale("log")
    return numbers


def _category_axis(ax: Any, gid: str, values: list[Any], numeric: bool) -> list[float]:
    """One column per distinct value, in order (numbers by size, else by text); trials
    that share a value spread a little across its column, so that they do not hide each
    other. The labels are ``x-tick-<parameter>-<k>``."""
    by_label = {str(v): v for v in values}
    labels = sorted(by_label, key=lambda label: (numeric and float(by_label[label]), label))
    index = {label: i for i, label in enumerate(labels)}
    seen: dict[str, int] = {}
    positions = []
    for label in map(str, values):
        count = seen.get(label, 0)
        seen[label] = count + 1
        positions.append(index[label] + ((count % 7) - 3) * 0.05)
    shown = [_shorten(label, LABEL_CHARACTERS) for label in labels]
    ticks = ax.set_xticks(range(len(labels)), shown, parse_math=False)
    for k, tick in enumerate(ticks):
        tick.label1.set_gid(f"x-tick-{gid}-{k}")
    ax.set_xlim(-0.5, len(labels) - 0.5)
    # side by side while the widest label fits its column, else at an angle
    column = PANEL_SIZE[0] * 72 * 0.75 / len(labels)
    if max(len(label) for label in shown) * TICK_SIZE * 0.62 > column - 6:
        for tick in ticks:
            tick.label1.set(rotation=45, horizontalalignment="right", rotation_mode="anchor")
    return positions


def confusion_matrix_figure(title: str, labels: list[str], matrix: list[list[float]]) -> Figure:
    """A confusion matrix as scikit-learn's :class:`~sklearn.metrics.ConfusionMatrixDisplay`
    draws it, from the counts: true class by row, predicted class by column, each count in
    its cell (groups ``count-<row>-<column>``), class labels on both axes (``x-tick-<k>``,
    ``y-tick-<k>``), a colour bar."""
    matplotlib = _matplotlib()
    import numpy as np
    from sklearn.metrics import ConfusionMatrixDisplay

    n = len(labels)
    counts = np.array(matrix, dtype=float)
    whole = bool(np.all(counts == np.round(counts)))
    if whole:
        counts = counts.astype(np.int64)
    shown = [_shorten(str(label), LABEL_CHARACTERS) for label in labels]
    widest = max(len(label) for label in shown) * TICK_SIZE * 0.62 / 72  # inches
    cell = min(1.1, max(0.45, 4.2 / n))  # inches
    rotate = widest > cell - 0.1 or (n > 4 and widest > cell / 2)
    texts = [format(value, "d" if whole else ".3g") for value in counts.flat]
    longest = max(len(text) for text in texts)
    count_size = min(14.0, cell * 72 * 0.3, (cell * 72 - 6) / (0.62 * longest))
    # room for the labels, the colour bar and the title around the n by n cells
    width = n * cell + widest + 1.6
    below = (widest * math.sqrt(0.5) if rotate else 0.2) + 0.5
    height = n * cell + below + 0.25 * (title.count("\n") + 1) + 0.3
    with _style():
        figure = matplotlib.figure.Figure(figsize=(width, height), layout="constrained")
        figure.suptitle(_clean(title), fontsize=TITLE_SIZE, gid="title", parse_math=False)
        ax = figure.add_subplot()
        ax.set_gid("confusion-matrix")
        display = ConfusionMatrixDisplay(confusion_matrix=counts, display_labels=shown)
        display.plot(
            ax=ax,
            cmap="Blues",
            values_format="d" if whole else ".3g",
            xticks_rotation=45 if rotate else "horizontal",
            text_kw={"fontsize": count_size},
        )
        for (row, column), text in np.ndenumerate(display.text_):
            text.set_gid(f"count-{row}-{column}")
        for axis, prefix in ((ax.xaxis, "x-tick"), (ax.yaxis, "y-tick")):
            for k, tick in enumerate(axis.get_major_ticks()):
                tick.label1.set_gid(f"{prefix}-{k}")
                tick.label1.set_parse_math(False)
                if rotate and axis is ax.xaxis:
                    tick.label1.set(horizontalalignment="right", rotation_mode="anchor")
        ax.set_xlabel("predicted class", fontsize=LABEL_SIZE, gid="x-label")
        ax.set_ylabel("true class", fontsize=LABEL_SIZE, gid="y-label")
        display.im_.colorbar.ax.set_gid("colour-bar")
    return figure


def message_figure(text: str) -> Figure:
    """A small figure that only says ``text`` (line breaks kept, long lines wrapped), in a
    group ``message``."""
    matplotlib = _matplotlib()
    lines = _wrap(text, 80)
    height = max(1.8, (lines.count("\n") + 1) * 0.25 + 1.0)
    with _style():
        figure = matplotlib.figure.Figure(figsize=(7.0, height))
        figure.text(0.5, 0.5, lines, fontsize=LABEL_SIZE, horizontalalignment="center",
                    verticalalignment="center", gid="message", parse_math=False)  # fmt: skip
    return figure


def svg_document(figure: Figure) -> str:
    """``figure`` as a standalone SVG document: text kept as text, the same bytes for the
    same figure."""
    buffer = io.StringIO()
    with _style():
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _matplotlib() -> Any:
    """The matplotlib package (with ``figure`` and ``lines`` loaded), imported only when a
    picture is drawn; :class:`SnakeyardError` saying how to install it when it is missing."""
    try:
        import matplotlib
        import matplotlib.figure
        import matplotlib.lines
    except ImportError as error:
        missing = isinstance(error, ModuleNotFoundError) and error.name == "matplotlib"
        raise SnakeyardError(MATPLOTLIB_MISSING + ("" if missing else f" ({error})")) from error
    return matplotlib


def _style() -> Any:
    return _matplotlib().rc_context(STYLE)


# characters XML 1.0 does not allow, even escaped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: Any) -> str:
    """``text`` without the characters an SVG file cannot hold."""
    return _NOT_XML.sub("", str(text))


def _shorten(text: str, characters: int) -> str:
    """``text`` cut with an ellipsis if it is longer than ``characters``."""
    text = _clean(text)
    return text if len(text) <= characters else text[: characters - 1] + "…"


def _wrap(text: str, characters: int) -> str:
    """``text`` broken into lines of about ``characters``: at its own line breaks, then
    after ``;`` where that is enough, else between words."""
    lines: list[str] = []
    for paragraph in _clean(text).split("\n"):
        line = ""
        for clause in paragraph.split("; "):
            longer = f"{line}; {clause}" if line else clause
            if not line or len(longer) <= characters:
                line = longer
            else:
                lines.append(line + ";")
                line = clause
        lines += textwrap.wrap(line, characters, break_long_words=False,
                               break_on_hyphens=False) or [""]  # fmt: skip
    return "\n".join(lines)


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
    table = html_table(rows, classes, summary.get("columns")) + parent_table(summary)
    return PAGE.format(title=html.escape(title), intro=html.escape(intro),
                       table=table)  # fmt: skip


def parent_table(summary: dict[str, Any]) -> str:
    """What the trials logged to their parent run (``run.parent``), if anything."""
    parent = summary.get("parent_run")
    if not parent:
        return ""
    rows = [{"kind": "metric", "name": k, "value": v} for k, v in parent["metrics"].items()]
    rows += [{"kind": "tag", "name": k, "value": v} for k, v in parent["tags"].items()]
    said = html.escape(f"Logged by the trials to the sweep's parent run {parent['id']}:")
    return f"\n<p>{said}</p>\n" + html_table(rows)


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
    _matplotlib()  # before any file is written: without it, no report at all
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
        figure = message_figure(
            f"Run {run['id']} of model {reference} logged no confusion matrix\n"
            '(a metric {"class_labels": [...], "matrix": [[...], ...]})'
        )
        write_text_atomic(confusion, svg_document(figure))
        log(f"run {run['id']} logged no confusion matrix; {confusion} says so")
    else:
        title = f"{name} of model {reference}\nrun {run['id']}"
        write_text_atomic(confusion, svg_document(confusion_matrix_figure(title, labels, matrix)))
        log(f"confusion matrix of model {reference} ({len(labels)} classes): {confusion}")
    write_text_atomic(metrics, model_page(run, model))
    log(f"metrics of model {reference}: {metrics}")
