"""Pictures of a sweep for the Snakemake report: the trial table, the metric against each
parameter.

What every experiment's report holds (its run's metrics, pictures and registered model)
is drawn by :mod:`snakeyard.reports`, whose drawing helpers these pictures share: the
same style, SVG with text kept as ``<text>`` and parts in groups named by matplotlib
gids (``<g id="panel-kernel">``), which the tests look for.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..files import write_text_atomic
from ..reports.drawing import (
    GRID_COLOUR,
    LABEL_CHARACTERS,
    LABEL_SIZE,
    PAGE,
    TICK_SIZE,
    TITLE_SIZE,
    clean,
    html_table,
    is_finite_number,
    load_matplotlib,
    message_figure,
    shorten,
    style,
    svg_document,
    wrap,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TRIAL_MARKER = {"marker": "o", "markersize": 7, "color": "#1f77b4", "alpha": 0.75}
BEST_MARKER = {"marker": "*", "markersize": 17, "color": "#d62728"}
PANEL_SIZE = (4.6, 3.5)  # inches, one scatter panel with its labels
HEADER = 0.9  # inches for the title above the panels and the legend below
PANELS_PER_ROW = 3
# a parameter with at most this many distinct values is drawn as categories
CATEGORIES = 10


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
    trials = [clean(row.get("trial") or f"row{i + 1}") for i, row in enumerate(rows)]

    matplotlib = load_matplotlib()
    Line2D = matplotlib.lines.Line2D
    per_row = min(PANELS_PER_ROW, len(parameters))
    panel_rows = math.ceil(len(parameters) / per_row)
    with style():
        figure = matplotlib.figure.Figure(
            figsize=(per_row * PANEL_SIZE[0], panel_rows * PANEL_SIZE[1] + HEADER),
            layout="constrained",
        )
        characters = int(per_row * PANEL_SIZE[0] * 72 / (TITLE_SIZE * 0.6))
        figure.suptitle(wrap(title, characters), fontsize=TITLE_SIZE, gid="title",
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
    gid = clean(name)
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
    ax.set_xlabel(shorten(name, 40), fontsize=LABEL_SIZE, gid=f"x-label-{gid}",
                  parse_math=False)  # fmt: skip
    ax.set_ylabel(shorten(metric, 40), fontsize=LABEL_SIZE, gid=f"y-label-{gid}",
                  parse_math=False)  # fmt: skip


def _parameter_axis(ax: Any, gid: str, values: list[Any]) -> list[float]:
    """Set up the x axis that suits a parameter's values; return each value's place.

    Categories for a few distinct values (at most :data:`CATEGORIES`) or for anything but
    finite numbers, a log axis for positive numbers across two decades or more, a linear
    axis otherwise.
    """
    numeric = all(is_finite_number(v) for v in values)
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
    shown = [shorten(label, LABEL_CHARACTERS) for label in labels]
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


def winner_line(summary: dict[str, Any], model: dict[str, Any] | None) -> str:
    """What a sweep came to, in one line: the trial that won, its parameter values and
    metric, and the model version registered from it (None: the sweep registers none)."""
    best = summary["best"]
    parameters = ", ".join(f"{k}={v}" for k, v in best["parameters"].items())
    if model is None:
        registered = "no model registered (model: null)"
    else:
        state = "registered as" if model.get("new", True) else "already registered as"
        registered = f"{state} model {model['name']}:{model['version']}"
    return (
        f"sweep of {summary['experiment']}: trial {best['trial']} won "
        f"({parameters or 'no parameters'}) with {summary['primary_metric']}="
        f"{best['value']:g} of {summary['trials']} trials (run {best['run_id']}); {registered}"
    )


def draw_report(
    summary: dict[str, Any],
    *,
    table: Path,
    plot: Path,
    log: Callable[[str], None] = print,
) -> None:
    """Write the sweep's table (HTML) and its metric by parameter (SVG)."""
    load_matplotlib()  # before any file is written: without it, no report at all
    for path in (table, plot):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(table, sweep_page(summary))
    log(f"table of {summary['trials']} trials: {table}")
    write_text_atomic(plot, metric_by_parameter(summary))
    log(f"plot of {summary['primary_metric']} by parameter: {plot}")
