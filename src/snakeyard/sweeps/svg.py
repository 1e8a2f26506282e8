"""Charts as standalone SVG text, drawn with the standard library only.

Three pictures, each returned as one SVG document (a string): scatter panels of one
value against several others (:func:`scatter_panels`), a heat map of a square table
of numbers (:func:`heat_map`) and a line of text (:func:`message`). No font metrics
are at hand, so text widths are estimates on the wide side (DejaVu Sans), and the
layout leaves room for them.
"""

from __future__ import annotations

import math
import re
from typing import Any

FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
TEXT_COLOUR = "#222222"
AXIS_COLOUR = "#444444"
GRID_COLOUR = "#e4e4e4"
TRIAL_COLOUR = "#1f77b4"
BEST_COLOUR = "#d62728"
# ColorBrewer's "Blues", light to dark: the ramp of heat maps
BLUES = ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6",
         "#4292c6", "#2171b5", "#08519c", "#08306b"]  # fmt: skip

TITLE_SIZE = 14
LABEL_SIZE = 13
TICK_SIZE = 12
PAD = 14  # around the whole picture
TICK_LENGTH = 4
# a parameter with at most this many distinct values is drawn as categories
CATEGORIES = 10
# the longest category or class label drawn in full, in characters
LABEL_CHARACTERS = 18

PANEL_WIDTH = 440  # one scatter panel with its labels and margins
PANEL_HEIGHT = 340
PANELS_PER_ROW = 3
TRIAL_RADIUS = 4.5
STAR_RADIUS = 10.0


# ------------------------------------------------------------------------------- text
# characters XML 1.0 does not allow, even escaped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NARROW = frozenset("ijlI.,:;'|!` ")
_SEMI_NARROW = frozenset('frt()[]{}-/\\"*1')
_WIDE = frozenset("mwMW@%")


def escape(text: Any) -> str:
    """``text`` as XML character data or attribute value: ``& < > "`` escaped, and the
    control characters XML cannot hold at all left out."""
    text = _NOT_XML.sub("", str(text))
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def text_width(text: str, size: float) -> float:
    """About how wide ``text`` is at font ``size``, in pixels (rather too wide than too
    narrow)."""
    ems = 0.0
    for character in text:
        if character in _NARROW:
            ems += 0.33
        elif character in _SEMI_NARROW:
            ems += 0.45
        elif character in _WIDE:
            ems += 0.95
        elif character.isupper():
            ems += 0.72
        else:
            ems += 0.64
    return ems * size


def wrap(text: str, size: float, width: float) -> list[str]:
    """``text`` broken into lines that fit ``width``: at its own newlines, then after
    ``;`` where that is enough, else at spaces."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for clause in paragraph.split("; "):
            longer = f"{line}; {clause}" if line else clause
            if not line or text_width(longer, size) <= width:
                line = longer
            else:
                lines.append(line + ";")
                line = clause
        lines += _wrap_words(line, size, width)
    return lines


def _wrap_words(text: str, size: float, width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        longer = f"{line} {word}" if line else word
        if line and text_width(longer, size) > width:
            lines.append(line)
            line = word
        else:
            line = longer
    return [*lines, line]


def shorten(text: str, size: float, width: float, characters: int = 200) -> str:
    """``text``, cut with an ellipsis if it is longer than ``characters`` or ``width``."""
    if len(text) > characters:
        text = text[: characters - 1] + "…"
    while len(text) > 1 and text_width(text, size) > width:
        text = text[:-2] + "…"
    return text


def _number(value: float) -> str:
    """A coordinate, short: one decimal at most."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


# ------------------------------------------------------------------------------ ticks
NICE_STEPS = (1.0, 2.0, 2.5, 5.0)
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def nice_ticks(low: float, high: float, most: int = 7) -> list[float]:
    """Round values between ``low`` and ``high``: evenly spaced by 1, 2, 2.5 or 5 times a
    power of ten, the finest such step that gives at most ``most`` of them."""
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"nice_ticks needs finite low < high, got {low!r} and {high!r}")
    most = max(most, 2)
    power = 10.0 ** math.floor(math.log10((high - low) / most))
    while True:
        for factor in NICE_STEPS:
            step = factor * power
            first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
            if last - first + 1 <= most:
                # digits enough for the step, so 0.1 * 3 is 0.3 and not 0.30000000000000004
                digits = max(0, 1 - math.floor(math.log10(step)))
                return [round(k * step, digits) + 0.0 for k in range(first, last + 1)]
        power *= 10


def tick_labels(ticks: list[float]) -> list[str]:
    """The ticks as text, all with the fewest decimals that show each one exactly."""
    spread = max((abs(t) for t in ticks), default=0.0)
    if spread >= 1e6 or 0 < spread < 1e-4:
        return [scientific(t) for t in ticks]
    for decimals in range(7):
        if all(abs(round(t, decimals) - t) < 1e-9 * max(1.0, spread) for t in ticks):
            break
    return [f"{t:.{decimals}f}" for t in ticks]


def power_of_ten(exponent: int) -> str:
    """``10`` with ``exponent`` written as a superscript: 10⁻³."""
    return "10" + str(exponent).translate(SUPERSCRIPTS)


def scientific(value: float) -> str:
    """A very large or small number the way the log axes write them: 2.5×10⁶, 10⁻⁵."""
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    mantissa = float(f"{value / 10.0**exponent:.3g}")
    if abs(mantissa) >= 10:  # 9.9996 rounded up
        mantissa, exponent = mantissa / 10, exponent + 1
    sign = "-" if mantissa < 0 else ""
    if abs(mantissa) == 1:
        return sign + power_of_ten(exponent)
    return f"{mantissa:g}×{power_of_ten(exponent)}"


# ------------------------------------------------------------------------------- axes
class Axis:
    """Where values go along one axis, in axis units (log10 of the value on a log scale).

    ``scale`` is ``"categories"``, ``"linear"`` or ``"log"``; ``positions`` holds one place
    per value; ``ticks`` the labelled places; ``minor`` unlabelled tick marks;
    ``rotate`` says that the tick labels are too wide to stand side by side.
    """

    # a plain class, not a dataclass: importing dataclasses costs the stage more than
    # drawing does
    def __init__(
        self,
        scale: str,
        low: float,
        high: float,
        positions: list[float],
        ticks: list[tuple[float, str]],
        minor: list[float] | None = None,
        rotate: bool = False,
    ):
        self.scale, self.low, self.high = scale, low, high
        self.positions, self.ticks = positions, ticks
        self.minor = minor or []
        self.rotate = rotate

    def place(self, value: float, start: float, length: float) -> float:
        """The pixel of ``value`` (axis units) on an axis from ``start`` over ``length``."""
        return start + (value - self.low) / (self.high - self.low) * length

    def label_extent(self) -> float:
        """How far the tick labels reach out from the axis line (below it for x)."""
        if not self.ticks:
            return 0.0
        if not self.rotate:
            return TICK_SIZE * 1.2
        widest = max(text_width(label, TICK_SIZE) for _, label in self.ticks)
        return (widest + TICK_SIZE) * math.sqrt(0.5)

    def overhang(self, length: float) -> float:
        """How far the tick labels reach back beyond the axis start, for an axis of
        ``length`` pixels (rotated labels reach back from their tick)."""
        reach = 0.0
        for value, label in self.ticks:
            width = text_width(label, TICK_SIZE)
            if self.rotate:
                back = (width + TICK_SIZE) * math.sqrt(0.5) - TICK_SIZE * 0.35
            else:
                back = width / 2
            reach = max(reach, back - self.place(value, 0, length))
        return reach


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _padded(low: float, high: float, share: float = 0.05) -> tuple[float, float]:
    """``low``..``high`` widened on each side by ``share`` of the span (or around a
    single value), so that markers at the ends stay inside."""
    if high == low:
        half = abs(low) * 0.1 or 1.0
        return low - half, high + half
    margin = (high - low) * share
    return low - margin, high + margin


def _fits(ticks: list[tuple[float, str]], low: float, high: float, length: float) -> bool:
    """Whether side-by-side tick labels leave a gap between neighbours."""
    scale = length / (high - low)
    for (a, first), (b, second) in zip(ticks, ticks[1:], strict=False):
        needed = (text_width(first, TICK_SIZE) + text_width(second, TICK_SIZE)) / 2 + 8
        if (b - a) * scale < needed:
            return False
    return True


def category_axis(values: list[Any], length: float) -> Axis:
    """One column per distinct value; trials that share a value spread a little across
    it, so that they do not hide each other."""
    numeric = all(_is_number(v) for v in values)
    by_label = {str(v): v for v in values}
    labels = sorted(by_label, key=lambda label: (numeric and float(by_label[label]), label))
    index = {label: i for i, label in enumerate(labels)}
    seen: dict[str, int] = {}
    positions = []
    for label in map(str, values):
        count = seen.get(label, 0)
        seen[label] = count + 1
        positions.append(index[label] + ((count % 7) - 3) * 0.05)
    shown = [shorten(label, TICK_SIZE, 1e9, LABEL_CHARACTERS) for label in labels]
    ticks = [(float(i), label) for i, label in enumerate(shown)]
    slot = length / len(labels)
    rotate = any(text_width(label, TICK_SIZE) > slot - 8 for label in shown)
    return Axis("categories", -0.5, len(labels) - 0.5, positions, ticks, rotate=rotate)


def linear_axis(values: list[float], length: float, most: int = 8) -> Axis:
    """A linear scale over the values, with as many round ticks as fit side by side."""
    low, high = _padded(min(values), max(values))
    for count in range(most, 1, -1):
        marks = nice_ticks(low, high, count)
        ticks = list(zip(marks, tick_labels(marks), strict=True))
        if _fits(ticks, low, high, length):
            break
    return Axis("linear", low, high, list(values), ticks)


def log_axis(values: list[float], length: float, most: int = 8) -> Axis:
    """A log scale over positive values, ticks at powers of ten."""
    logs = [math.log10(v) for v in values]
    low, high = _padded(min(logs), max(logs))
    decades = range(math.ceil(low), math.floor(high) + 1)
    for every in (1, 2, 3, 4, 5, 10, 20, 50):
        ticks = [(float(e), power_of_ten(e)) for e in decades if e % every == 0]
        if len(ticks) <= most and _fits(ticks, low, high, length):
            break
    minor = []
    if every == 1:
        for decade in range(math.floor(low), math.ceil(high)):
            minor += [decade + math.log10(m) for m in range(2, 10)]
        minor = [m for m in minor if low <= m <= high]
    return Axis("log", low, high, logs, ticks, minor)


def parameter_axis(values: list[Any], length: float = 360.0) -> Axis:
    """The axis that suits a parameter's values: categories for a few distinct values or
    for non-numbers, a log scale for positive numbers across two decades or more,
    a linear scale otherwise. ``length`` is the axis in pixels."""
    if not all(_is_number(v) for v in values) or len(set(values)) <= CATEGORIES:
        return category_axis(values, length)
    numbers = [float(v) for v in values]
    low, high = min(numbers), max(numbers)
    if low > 0 and high / low >= 100:
        return log_axis(numbers, length)
    return linear_axis(numbers, length)


# ----------------------------------------------------------------------------- canvas
class Canvas:
    """SVG elements in drawing order; :meth:`document` wraps them into a picture."""

    def __init__(self, width: float, height: float, title: str):
        self.width, self.height, self.title = math.ceil(width), math.ceil(height), title
        self.parts: list[str] = []

    def add(self, element: str) -> None:
        self.parts.append(element)

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: float = TICK_SIZE,
        anchor: str = "middle",
        colour: str = TEXT_COLOUR,
        rotate: float = 0,
        css: str = "",
    ) -> None:
        """Text whose baseline starts, centres or ends (``anchor``) at ``x, y``."""
        extra = f' class="{css}"' if css else ""
        extra += f' text-anchor="{anchor}"'
        if size != TICK_SIZE:
            extra += f' font-size="{_number(size)}"'
        if colour != TEXT_COLOUR:
            extra += f' fill="{colour}"'
        if rotate:
            extra += f' transform="rotate({_number(rotate)} {_number(x)} {_number(y)})"'
        self.add(f'<text x="{_number(x)}" y="{_number(y)}"{extra}>{escape(content)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str = AXIS_COLOUR) -> None:
        self.add(
            f'<line x1="{_number(x1)}" y1="{_number(y1)}" x2="{_number(x2)}" '
            f'y2="{_number(y2)}" stroke="{colour}"/>'
        )

    def rect(
        self, x: float, y: float, width: float, height: float, fill: str, extra: str = ""
    ) -> None:
        self.add(
            f'<rect x="{_number(x)}" y="{_number(y)}" width="{_number(width)}" '
            f'height="{_number(height)}" fill="{fill}"{extra}/>'
        )

    def circle(self, x: float, y: float, css: str) -> None:
        self.add(
            f'<circle class="{css}" cx="{_number(x)}" cy="{_number(y)}" r="{TRIAL_RADIUS}" '
            f'fill="{TRIAL_COLOUR}" fill-opacity="0.75"/>'
        )

    def star(self, x: float, y: float, css: str) -> None:
        """A five-pointed star centred on ``x, y``, point up."""
        corners = []
        for i in range(10):
            radius = STAR_RADIUS if i % 2 == 0 else STAR_RADIUS * 0.4
            angle = math.radians(-90 + 36 * i)
            corners.append(
                f"{_number(x + radius * math.cos(angle))},{_number(y + radius * math.sin(angle))}"
            )
        self.add(f'<polygon class="{css}" points="{" ".join(corners)}" fill="{BEST_COLOUR}"/>')

    def title_lines(self, lines: list[str], top: float) -> float:
        """Centred title lines from ``top``; returns where the space below them starts."""
        for line in lines:
            top += TITLE_SIZE * 1.35
            self.text(self.width / 2, top - TITLE_SIZE * 0.3, line, size=TITLE_SIZE, css="title")
        return top

    def document(self) -> str:
        """The standalone SVG document: size, white background, then the elements."""
        width, height = self.width, self.height
        return "\n".join(
            [
                '<?xml version="1.0" encoding="UTF-8"?>',
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'viewBox="0 0 {width} {height}" font-family="{FONT}" '
                f'font-size="{TICK_SIZE}" fill="{TEXT_COLOUR}">',
                f"<title>{escape(self.title)}</title>",
                f'<rect width="{width}" height="{height}" fill="white"/>',
                *self.parts,
                "</svg>",
                "",
            ]
        )


# ---------------------------------------------------------------------- scatter panels
def scatter_panels(
    title: str, y_label: str, columns: dict[str, list[Any]], y: list[float], best: int = 0
) -> str:
    """One scatter panel per column, up to three in a row: the column's values along x,
    ``y`` (the same for every panel) up the side; point ``best`` is a red star, the
    others blue circles. Returns the SVG document."""
    if not columns:
        raise ValueError("scatter_panels needs at least one column of x values")
    for name, values in columns.items():
        if len(values) != len(y):
            raise ValueError(f"column {name!r} has {len(values)} values for {len(y)} y values")
    per_row = min(PANELS_PER_ROW, len(columns))
    rows = math.ceil(len(columns) / per_row)
    width = 2 * PAD + per_row * PANEL_WIDTH
    lines = wrap(title, TITLE_SIZE, width - 2 * PAD)

    finite = [v for v in y if math.isfinite(v)] or [0.0]
    low, high = _padded(min(finite), max(finite))
    marks = nice_ticks(low, high, 8)
    y_axis = Axis("linear", low, high, list(y), list(zip(marks, tick_labels(marks), strict=True)))
    tick_room = max(text_width(label, TICK_SIZE) for _, label in y_axis.ticks)
    left = y_room = LABEL_SIZE * 1.3 + 8 + tick_room + 4 + TICK_LENGTH
    right = 18
    plot_width = PANEL_WIDTH - left - right
    x_axes = {name: parameter_axis(values, plot_width) for name, values in columns.items()}
    # long rotated category labels reach back under the y axis: make room for them
    overhang = max(axis.overhang(plot_width) for axis in x_axes.values())
    if overhang > left - 4:
        left = overhang + 4
        plot_width = PANEL_WIDTH - left - right
        x_axes = {name: parameter_axis(values, plot_width) for name, values in columns.items()}
    below = TICK_LENGTH + 4 + max(a.label_extent() for a in x_axes.values()) + 8 + LABEL_SIZE
    plot_height = PANEL_HEIGHT - 10 - below - 12

    header = PAD + len(lines) * TITLE_SIZE * 1.35 + 26
    canvas = Canvas(width, header + rows * PANEL_HEIGHT + PAD, title)
    top = canvas.title_lines(lines, PAD)
    _legend(canvas, top + 14)
    for i, (name, x_axis) in enumerate(x_axes.items()):
        x0 = PAD + (i % per_row) * PANEL_WIDTH + left
        y0 = header + (i // per_row) * PANEL_HEIGHT + 10
        canvas.add('<g class="panel">')
        _panel(canvas, x0, y0, plot_width, plot_height, x_axis, y_axis, best)
        canvas.text(
            x0 + plot_width / 2,
            y0 + plot_height + below,
            shorten(name, LABEL_SIZE, plot_width),
            size=LABEL_SIZE,
            css="x-label",
        )
        middle = y0 + plot_height / 2
        canvas.text(
            x0 - y_room + LABEL_SIZE,
            middle,
            shorten(y_label, LABEL_SIZE, plot_height),
            size=LABEL_SIZE,
            rotate=-90,
            css="y-label",
        )
        canvas.add("</g>")
    return canvas.document()


def _legend(canvas: Canvas, middle: float) -> None:
    """The two markers and what they mean, centred on one line."""
    trial, best = text_width("trial", TICK_SIZE), text_width("best", TICK_SIZE)
    start = canvas.width / 2 - (trial + best + 2 * 18 + 24) / 2
    canvas.add('<g class="legend">')
    canvas.circle(start + 6, middle, "legend-trial")
    canvas.text(start + 18, middle + TICK_SIZE * 0.35, "trial", anchor="start")
    start += 18 + trial + 24
    canvas.star(start + 6, middle, "legend-best")
    canvas.text(start + 18, middle + TICK_SIZE * 0.35, "best", anchor="start")
    canvas.add("</g>")


def _panel(
    canvas: Canvas,
    x0: float,
    y0: float,
    width: float,
    height: float,
    x_axis: Axis,
    y_axis: Axis,
    best: int,
) -> None:
    """One panel's grid, frame, ticks and markers in the box from ``x0, y0``."""
    bottom = y0 + height
    for value, _ in x_axis.ticks:
        x = x_axis.place(value, x0, width)
        canvas.line(x, y0, x, bottom, GRID_COLOUR)
    for value, _ in y_axis.ticks:
        y = y_axis.place(value, bottom, -height)
        canvas.line(x0, y, x0 + width, y, GRID_COLOUR)
    canvas.rect(x0, y0, width, height, "none", f' stroke="{AXIS_COLOUR}"')
    for value, label in x_axis.ticks:
        x = x_axis.place(value, x0, width)
        canvas.line(x, bottom, x, bottom + TICK_LENGTH)
        if x_axis.rotate:
            y = bottom + TICK_LENGTH + 4
            canvas.text(x + TICK_SIZE * 0.35, y, label, anchor="end", rotate=-45, css="x-tick")
        else:
            canvas.text(x, bottom + TICK_LENGTH + TICK_SIZE + 2, label, css="x-tick")
    for value in x_axis.minor:
        x = x_axis.place(value, x0, width)
        canvas.line(x, bottom, x, bottom + TICK_LENGTH / 2)
    for value, label in y_axis.ticks:
        y = y_axis.place(value, bottom, -height)
        canvas.line(x0 - TICK_LENGTH, y, x0, y)
        canvas.text(x0 - TICK_LENGTH - 4, y + TICK_SIZE * 0.35, label, anchor="end", css="y-tick")
    points = [
        (x_axis.place(x, x0, width), y_axis.place(y, bottom, -height), i)
        for i, (x, y) in enumerate(zip(x_axis.positions, y_axis.positions, strict=True))
        if math.isfinite(x) and math.isfinite(y)
    ]
    for x, y, i in points:
        if i != best:
            canvas.circle(x, y, "trial")
    for x, y, i in points:
        if i == best:  # last, so that it is on top
            canvas.star(x, y, "best")


# --------------------------------------------------------------------------- heat map
def ramp(share: float) -> str:
    """The colour of ``share`` (0 to 1) along the Blues ramp, as ``#rrggbb``."""
    share = min(max(share, 0.0), 1.0) * (len(BLUES) - 1)
    index = min(int(share), len(BLUES) - 2)
    within = share - index
    low, high = BLUES[index], BLUES[index + 1]
    channels = (
        round(int(low[k : k + 2], 16) * (1 - within) + int(high[k : k + 2], 16) * within)
        for k in (1, 3, 5)
    )
    return "#" + "".join(f"{c:02x}" for c in channels)


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def heat_map(
    title: str, labels: list[str], matrix: list[list[float]], *, x_label: str, y_label: str
) -> str:
    """A square table of numbers as coloured cells with each number written in its cell,
    ``labels`` along both axes (rows down the side, columns along the bottom) and a
    colour scale beside it. ``title`` may hold line breaks. Returns the SVG document."""
    n = len(labels)
    if n == 0 or len(matrix) != n or any(len(row) != n for row in matrix):
        raise ValueError(f"heat_map needs {n} rows of {n} numbers, one per label")
    cell = min(110.0, max(42.0, 400.0 / n))
    side = n * cell
    shown = [shorten(str(label), TICK_SIZE, 1e9, LABEL_CHARACTERS) for label in labels]
    widest = max(text_width(label, TICK_SIZE) for label in shown)
    # side by side when they fit with room to spare (digits do), else at an angle
    rotate = widest > cell - 8 or (n > 4 and widest > cell / 2)
    values = [float(v) for row in matrix for v in row]
    low, high = min(0.0, min(values)), max(values)
    if high <= low:
        high = low + 1
    counts = [[_count(v) for v in row] for row in matrix]
    longest = max(text_width(text, 1) for row in counts for text in row)
    count_size = min(14.0, cell * 0.3, (cell - 8) / longest)

    left = PAD + LABEL_SIZE * 1.3 + 8 + widest + 6 + TICK_LENGTH
    if rotate:  # the first column's label reaches left from the middle of its cell
        left = max(left, PAD + (widest + TICK_SIZE) * math.sqrt(0.5) - cell / 2)
    bar_ticks = nice_ticks(low, high, 6)
    bar_labels = tick_labels(bar_ticks)
    bar_left = left + side + 22
    width = (
        bar_left + 16 + TICK_LENGTH + 4 + max(text_width(t, TICK_SIZE) for t in bar_labels) + PAD
    )
    lines = wrap(title, TITLE_SIZE, width - 2 * PAD)
    top = PAD + len(lines) * TITLE_SIZE * 1.35 + 10
    if rotate:
        extent = (widest + TICK_SIZE) * math.sqrt(0.5)
    else:
        extent = TICK_SIZE * 1.2
    bottom = top + side
    height = bottom + TICK_LENGTH + 4 + extent + 10 + LABEL_SIZE + PAD

    canvas = Canvas(width, height, title)
    canvas.title_lines(lines, PAD)
    canvas.add('<g class="cells">')
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            share = (float(value) - low) / (high - low)
            canvas.rect(left + j * cell, top + i * cell, cell, cell, ramp(share))
    canvas.add("</g>")
    canvas.add('<g class="counts">')
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            colour = "white" if float(value) - low > (high - low) / 2 else "black"
            x, y = left + (j + 0.5) * cell, top + (i + 0.5) * cell + count_size * 0.35
            canvas.text(x, y, counts[i][j], size=count_size, colour=colour, css="count")
    canvas.add("</g>")
    canvas.rect(left, top, side, side, "none", f' stroke="{AXIS_COLOUR}"')
    for k, label in enumerate(shown):
        middle = (k + 0.5) * cell
        canvas.line(left - TICK_LENGTH, top + middle, left, top + middle)
        canvas.text(
            left - TICK_LENGTH - 4,
            top + middle + TICK_SIZE * 0.35,
            label,
            anchor="end",
            css="y-tick",
        )
        canvas.line(left + middle, bottom, left + middle, bottom + TICK_LENGTH)
        if rotate:
            canvas.text(
                left + middle + TICK_SIZE * 0.35,
                bottom + TICK_LENGTH + 4,
                label,
                anchor="end",
                rotate=-45,
                css="x-tick",
            )
        else:
            canvas.text(left + middle, bottom + TICK_LENGTH + TICK_SIZE + 2, label, css="x-tick")
    canvas.text(left + side / 2, height - PAD, x_label, size=LABEL_SIZE, css="x-label")
    canvas.text(
        PAD + LABEL_SIZE, top + side / 2, y_label, size=LABEL_SIZE, rotate=-90, css="y-label"
    )
    _colour_bar(
        canvas, bar_left, top, side, low, high, list(zip(bar_ticks, bar_labels, strict=True))
    )
    return canvas.document()


def _colour_bar(
    canvas: Canvas,
    x: float,
    top: float,
    height: float,
    low: float,
    high: float,
    ticks: list[tuple[float, str]],
) -> None:
    """The ramp from ``low`` (bottom) to ``high`` (top) as a bar with ticks."""
    steps = 64  # bands, not a gradient: no ids that could clash when pictures share a page
    band = height / steps
    canvas.add('<g class="colour-bar">')
    for k in range(steps):
        canvas.rect(x, top + height - (k + 1) * band, 16, band + 0.5, ramp((k + 0.5) / steps))
    canvas.rect(x, top, 16, height, "none", f' stroke="{AXIS_COLOUR}"')
    for value, label in ticks:
        y = top + height - (value - low) / (high - low) * height
        canvas.line(x + 16, y, x + 16 + TICK_LENGTH, y)
        canvas.text(x + 16 + TICK_LENGTH + 4, y + TICK_SIZE * 0.35, label, anchor="start")
    canvas.add("</g>")


# ---------------------------------------------------------------------------- message
def message(text: str, width: float = 660) -> str:
    """A picture that only says ``text`` (line breaks kept, long lines wrapped)."""
    lines = wrap(text, LABEL_SIZE, width - 4 * PAD)
    spacing = LABEL_SIZE * 1.5
    height = max(176.0, len(lines) * spacing + 4 * PAD)
    canvas = Canvas(width, height, text)
    first = height / 2 - (len(lines) - 1) * spacing / 2 + LABEL_SIZE * 0.35
    for k, line in enumerate(lines):
        canvas.text(width / 2, first + k * spacing, line, size=LABEL_SIZE, css="message")
    return canvas.document()
