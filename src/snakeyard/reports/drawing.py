"""Drawing shared by the reports: matplotlib's style and import, SVG documents, the
confusion matrix, HTML tables and pages.

The pictures are drawn with matplotlib, an optional dependency (``snakeyard[report]``)
imported only when one is drawn, so that nothing a training job imports needs it. They
are written as SVG with their text kept as ``<text>`` and their parts in groups named by
matplotlib gids (``<g id="count-0-1">``), which the tests look for.

A training script logs a confusion matrix as one metric whose value is a mapping with
``class_labels`` (n names) and ``matrix`` (n rows of n counts, true class by row,
predicted class by column), as ``experiments/sklearn-iris/train.py`` does.
"""

from __future__ import annotations

import html
import io
import math
import re
import textwrap
from typing import TYPE_CHECKING, Any

from ..errors import SnakeyardError
from ..training.metric_values import confusion_matrix, is_number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MATPLOTLIB_MISSING = (
    "the report needs matplotlib: pip install 'snakeyard[report]' (or pip install matplotlib)"
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
# the longest category or class label drawn in full, in characters
LABEL_CHARACTERS = 18


def find_confusion_matrix(metrics: dict[str, Any]) -> tuple[str, list[str], list[list[float]]]:
    """The first metric that holds a confusion matrix: (its name, class labels, counts)."""
    for name, value in metrics.items():
        found = confusion_matrix(value)
        if found is not None:
            return name, *found
    raise LookupError("no metric holds a confusion matrix")


def is_finite_number(value: Any) -> bool:
    """True for an int or float (not a bool) that is finite."""
    return is_number(value) and math.isfinite(value)


def confusion_matrix_figure(title: str, labels: list[str], matrix: list[list[float]]) -> Figure:
    """A confusion matrix as scikit-learn's :class:`~sklearn.metrics.ConfusionMatrixDisplay`
    draws it, from the counts: true class by row, predicted class by column, each count in
    its cell (groups ``count-<row>-<column>``), class labels on both axes (``x-tick-<k>``,
    ``y-tick-<k>``), a colour bar."""
    matplotlib = load_matplotlib()
    import numpy as np
    from sklearn.metrics import ConfusionMatrixDisplay

    n = len(labels)
    counts = np.array(matrix, dtype=float)
    whole = bool(np.all(counts == np.round(counts)))
    if whole:
        counts = counts.astype(np.int64)
    shown = [shorten(str(label), LABEL_CHARACTERS) for label in labels]
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
    with style():
        figure = matplotlib.figure.Figure(figsize=(width, height), layout="constrained")
        figure.suptitle(clean(title), fontsize=TITLE_SIZE, gid="title", parse_math=False)
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
    matplotlib = load_matplotlib()
    lines = wrap(text, 80)
    height = max(1.8, (lines.count("\n") + 1) * 0.25 + 1.0)
    with style():
        figure = matplotlib.figure.Figure(figsize=(7.0, height))
        figure.text(0.5, 0.5, lines, fontsize=LABEL_SIZE, horizontalalignment="center",
                    verticalalignment="center", gid="message", parse_math=False)  # fmt: skip
    return figure


def svg_document(figure: Figure) -> str:
    """``figure`` as a standalone SVG document: text kept as text, the same bytes for the
    same figure."""
    buffer = io.StringIO()
    with style():
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def load_matplotlib() -> Any:
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


def style() -> Any:
    """matplotlib settings of every report picture, for a ``with`` block."""
    return load_matplotlib().rc_context(STYLE)


# characters XML 1.0 does not allow, even escaped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: Any) -> str:
    """``text`` without the characters an SVG file cannot hold."""
    return _NOT_XML.sub("", str(text))


def shorten(text: str, characters: int) -> str:
    """``text`` cut with an ellipsis if it is longer than ``characters``."""
    text = clean(text)
    return text if len(text) <= characters else text[: characters - 1] + "…"


def wrap(text: str, characters: int) -> str:
    """``text`` broken into lines of about ``characters``: at its own line breaks, then
    after ``;`` where that is enough, else between words."""
    lines: list[str] = []
    for paragraph in clean(text).split("\n"):
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


def cell(value: Any) -> str:
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
        body.append(f"<tr{css}>" + "".join(cell(row[c]) for c in columns) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "</tbody></table>"
