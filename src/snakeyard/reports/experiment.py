"""The report of one experiment (a sweep or not): what its registered model's run logged
and where the model comes from; for an experiment that registers no model
(``model: null``), what its run logged and where the run comes from.

Four files for ``snakemake --report``: the registered model (if any) with its lineage and
every metric (HTML), a line chart of each list metric (SVG), the confusion matrix when one was
logged (SVG), and every image logged with ``log_image`` (one HTML page holding them, so
that a run without images still has its page, and the one-file HTML report can hold it).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..files import write_text_atomic
from ..training.metric_values import number, series, summary
from .drawing import (
    GRID_COLOUR,
    LABEL_SIZE,
    PAGE,
    TITLE_SIZE,
    confusion_matrix_figure,
    find_confusion_matrix,
    html_table,
    load_matplotlib,
    message_figure,
    shorten,
    style,
    svg_document,
    wrap,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CURVE_SIZE = (5.2, 3.4)  # inches, one list metric's panel with its labels
CURVES_PER_ROW = 2
CURVE_LINE = {"color": "#1f77b4", "linewidth": 1.6}
# beyond this many steps a curve is drawn as a line only, without a marker per step
MARKED_STEPS = 50
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
        ".gif": "image/gif"}  # fmt: skip


NO_MODEL = "none registered (model: null)"


def lineage_rows(run: dict[str, Any], model: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Where the registered model comes from, as table rows: the model version (or that
    none was registered), its run (and sweep trial), the data set, environment, code
    snapshot and git commit."""
    trial = run.get("trial") or {}
    dataset, environment = run.get("dataset") or {}, run.get("environment") or {}
    rows = [
        {"field": "model", "value": NO_MODEL if model is None else reference_of(model)},
        {"field": "run", "value": run["id"]},
    ]
    if trial:
        rows.append({"field": "trial", "value": trial.get("id", "")})
    # as text, like every value of this table: a parameter is a setting, not a measure
    rows += [
        {"field": f"param:{name}", "value": summary(value)}
        for name, value in trial.get("parameters", {}).items()
    ]
    rows += [
        {"field": "status", "value": run.get("status")},
        {"field": "duration", "value": f"{run.get('duration_seconds')} s"},
        {"field": "dataset", "value": _version(dataset, "content_hash") or "(no data set)"},
        {"field": "environment", "value": _version(environment, "method")},
        {"field": "code snapshot",
         "value": f"{run.get('snapshot_hash')} ({run.get('snapshot_files')} "
                  f"{'file' if run.get('snapshot_files') == 1 else 'files'})"},
        {"field": "git commit", "value": run.get("git_commit") or "(not in a git repository)"},
        {"field": "command", "value": " ".join(run.get("command") or [])},
        {"field": "host", "value": run.get("host")},
    ]  # fmt: skip
    return rows


def reference_of(model: dict[str, Any]) -> str:
    """``name:version`` of a registered model's receipt."""
    return f"{model['name']}:{model['version']}"


def _version(ref: dict[str, Any], detail: str) -> str:
    if not ref:
        return ""
    extra = f" ({ref[detail]})" if ref.get(detail) else ""
    return f"{ref.get('name')}:{ref.get('version')}{extra}"


def metric_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per metric: a number or short text as it is, anything else summarised
    (a list by its last value, a table by its shape), never its whole text."""
    rows = []
    for name, value in metrics.items():
        plain = isinstance(value, (int, float, str)) and not isinstance(value, bool)
        shown = value if plain and not (isinstance(value, str) and len(value) > 200) else None
        rows.append({"metric": name, "value": summary(value) if shown is None else shown})
    return rows


def model_page(run: dict[str, Any], model: dict[str, Any] | None) -> str:
    """The registered model (or the run, when none was registered), its lineage and its
    run's metrics, as a web page."""
    if model is None:
        title = f"Run {run['id']}"
        intro = (
            f"Run {run['id']} of experiment {run['experiment']}: no model was registered "
            "(the experiment has model: null). Where the run comes from, then every metric "
            "it logged."
        )
    else:
        title = f"Model {reference_of(model)}"
        intro = (
            f"Model {reference_of(model)}, registered from run {run['id']} of experiment "
            f"{run['experiment']}: where it comes from, then every metric its run logged."
        )
    metrics = metric_rows(run.get("metrics") or {})
    tables = (
        html_table(lineage_rows(run, model))
        + "\n<h4>Metrics</h4>\n"
        + (html_table(metrics) if metrics else "<p>The run logged no metric.</p>")
    )
    return PAGE.format(title=html.escape(title), intro=html.escape(intro), table=tables)


def images_page(run: dict[str, Any]) -> str:
    """Every image the run logged with ``log_image``, named, in the page itself."""
    folder = Path(run["folder"])
    images = run.get("images") or {}
    parts = []
    for name, entry in images.items():
        path = folder / entry["path"]
        mime = MIME.get(path.suffix.lower(), "application/octet-stream")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        caption = f"<b>{html.escape(name)}</b> ({html.escape(entry['path'])})"
        parts.append(
            f'<figure><img alt="{html.escape(name)}" src="data:{mime};base64,{data}" '
            f'style="max-width: 100%"><figcaption>{caption}</figcaption></figure>'
        )
    intro = (
        f"{len(images)} image(s) logged with log_image by run {run['id']}."
        if images
        else f"Run {run['id']} logged no image (run.log_image(name, path=... or plot=...))."
    )
    title = f"Images of {run['experiment']}"
    return PAGE.format(title=html.escape(title), intro=html.escape(intro),
                       table="\n".join(parts))  # fmt: skip


def curves_figure(run: dict[str, Any]) -> Figure:
    """A line chart of each list metric (one value per step), in panels ``curve-<k>``;
    a picture saying so when the run logged none."""
    curves = [(name, values) for name, value in (run.get("metrics") or {}).items()
              if (values := series(value)) is not None]  # fmt: skip
    if not curves:
        return message_figure(
            f"Run {run['id']} of {run['experiment']} logged no list metric\n"
            "(a metric logged once per step, e.g. run.log('loss', value) in a loop)"
        )
    matplotlib = load_matplotlib()
    per_row = min(CURVES_PER_ROW, len(curves))
    rows = math.ceil(len(curves) / per_row)
    with style():
        figure = matplotlib.figure.Figure(
            figsize=(per_row * CURVE_SIZE[0], rows * CURVE_SIZE[1] + 0.5), layout="constrained"
        )
        characters = int(per_row * CURVE_SIZE[0] * 72 / (TITLE_SIZE * 0.6))
        title = f"{run['experiment']}: list metrics of run {run['id']}"
        figure.suptitle(wrap(title, characters), fontsize=TITLE_SIZE, gid="title",
                        parse_math=False)  # fmt: skip
        for k, (name, values) in enumerate(curves):
            ax = figure.add_subplot(rows, per_row, k + 1)
            ax.set_gid(f"curve-{k}")
            steps = range(1, len(values) + 1)
            marker = "o" if len(values) <= MARKED_STEPS else None
            finite = [v for v in values if math.isfinite(v)]
            ax.plot(steps, values, **CURVE_LINE, marker=marker, markersize=4)
            ax.grid(True, color=GRID_COLOUR, linewidth=0.8)
            ax.set_axisbelow(True)
            ax.set_xlabel("step", fontsize=LABEL_SIZE, gid=f"x-label-{k}")
            ax.set_ylabel(shorten(name, 40), fontsize=LABEL_SIZE, gid=f"y-label-{k}",
                          parse_math=False)  # fmt: skip
            last = f"last {number(values[-1])}" if finite else "no finite value"
            ax.set_title(shorten(f"{name}: {len(values)} steps, {last}", 60),
                         fontsize=LABEL_SIZE, gid=f"curve-title-{k}", parse_math=False)  # fmt: skip
            if len(values) <= 20:
                ax.set_xticks(list(steps))
    return figure


def confusion_figure(run: dict[str, Any], model: dict[str, Any] | None) -> tuple[Figure, str]:
    """The confusion matrix the run logged, or a picture saying it logged none; and a
    line for the log."""
    # what the matrix is of: the registered model, or the run when none was registered
    of = f"run {run['id']}" if model is None else f"model {reference_of(model)}"
    try:
        name, labels, matrix = find_confusion_matrix(run.get("metrics") or {})
    except LookupError:
        subject = f"Run {run['id']}" + ("" if model is None else f" of {of}")
        figure = message_figure(
            f"{subject} logged no confusion matrix\n"
            '(a metric {"class_labels": [...], "matrix": [[...], ...]})'
        )
        return figure, f"run {run['id']} logged no confusion matrix; the picture says so"
    title = f"{name} of {of}" + ("" if model is None else f"\nrun {run['id']}")
    figure = confusion_matrix_figure(title, labels, matrix)
    return figure, f"confusion matrix of {of} ({len(labels)} classes)"


def draw_experiment_report(
    run: dict[str, Any],
    model: dict[str, Any] | None,
    *,
    metrics: Path,
    curves: Path,
    confusion: Path,
    images: Path,
    log: Callable[[str], None] = print,
) -> None:
    """Write the experiment's part of the report: the model page (HTML), the list
    metrics' curves and the confusion matrix (SVG), the images page (HTML). ``model`` is
    the registered model's receipt, None for an experiment that registers none."""
    load_matplotlib()  # before any file is written: without it, no report at all
    for path in (metrics, curves, confusion, images):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(metrics, model_page(run, model))
    what = f"model {reference_of(model)}" if model is not None else f"run {run['id']} (no model)"
    log(f"{what}, its lineage and metrics: {metrics}")
    write_text_atomic(curves, svg_document(curves_figure(run)))
    log(f"curves of the list metrics: {curves}")
    figure, said = confusion_figure(run, model)
    write_text_atomic(confusion, svg_document(figure))
    log(f"{said}: {confusion}")
    write_text_atomic(images, images_page(run))
    log(f"{len(run.get('images') or {})} image(s): {images}")
