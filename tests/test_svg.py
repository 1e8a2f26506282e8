"""The SVG charts of the sweep report, drawn and parsed back without Snakemake."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from snakeyard.sweeps import svg

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(document: str) -> ET.Element:
    """The picture as a standalone SVG document: its root, checked for size and view box."""
    root = ET.fromstring(document)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    width, height = float(root.get("width")), float(root.get("height"))
    assert width > 0 and height > 0
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    return root


def texts(root: ET.Element, css: str | None = None) -> list[str]:
    """The text of every text element (of one class), in drawing order."""
    return [
        element.text or ""
        for element in root.iterfind(".//svg:text", NS)
        if css is None or element.get("class") == css
    ]


def test_ticks_are_round_numbers_inside_the_range():
    assert svg.nice_ticks(0.213, 1.016, 8) == [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert svg.nice_ticks(0.213, 1.016, 5) == [0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0, 17, 6) == [0, 5, 10, 15]
    assert svg.nice_ticks(-0.05, 1.05, 7) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0.97, 0.98) == [0.97, 0.972, 0.974, 0.976, 0.978, 0.98]
    assert svg.nice_ticks(-7, 7, 5) == [-5, -2.5, 0, 2.5, 5]
    with pytest.raises(ValueError, match="finite low < high"):
        svg.nice_ticks(1, 1)


def test_tick_labels_share_the_fewest_decimals_that_show_each_tick():
    assert svg.tick_labels([0.0, 0.25, 0.5]) == ["0.00", "0.25", "0.50"]
    assert svg.tick_labels([0.3, 0.4, 1.0]) == ["0.3", "0.4", "1.0"]
    assert svg.tick_labels([0, 5, 10]) == ["0", "5", "10"]
    assert svg.tick_labels(svg.nice_ticks(-7, 7, 5)) == ["-5.0", "-2.5", "0.0", "2.5", "5.0"]
    assert svg.tick_labels([0, 5e5, 1e6]) == ["0", "5×10⁵", "10⁶"]
    assert svg.tick_labels([2e-5, 4e-5]) == ["2×10⁻⁵", "4×10⁻⁵"]


def test_a_parameter_across_two_decades_or_more_gets_a_log_axis():
    spread = [10 ** (-4 + 6 * k / 29) for k in range(30)]  # 1e-4 to 1e2, like loguniform
    axis = svg.parameter_axis(spread)
    assert axis.scale == "log"
    assert [label for _, label in axis.ticks] == ["10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹", "10²"]
    assert svg.parameter_axis([1 + k for k in range(30)]).scale == "linear"  # 30 times
    assert svg.parameter_axis([k * 10 for k in range(30)]).scale == "linear"  # from 0
    assert svg.parameter_axis([-1e3 + k * 100 for k in range(30)]).scale == "linear"


def test_a_parameter_with_few_values_gets_one_column_each_with_trials_spread_across_it():
    axis = svg.parameter_axis([1.5, 0.5, 1, 0.5, 0.5] + [7] * 6)
    assert axis.scale == "categories"
    assert axis.ticks == [(0, "0.5"), (1, "1"), (2, "1.5"), (3, "7")]
    # trials sharing a value: 0.05 apart, from 0.15 before the column's middle
    assert axis.positions[:5] == pytest.approx([1.85, -0.15, 0.85, -0.1, -0.05])
    assert svg.parameter_axis(["rbf", "linear", "rbf"]).ticks == [(0, "linear"), (1, "rbf")]
    assert svg.parameter_axis(list(range(11))).scale == "linear"  # 11 values: a number line


def test_scatter_panels_draw_one_marker_per_point_and_one_star_in_every_panel():
    columns = {
        "kernel": ["rbf", "linear", "poly", "rbf", "sigmoid"],
        "penalty": [0.5, 1, 1.5, 1, 0.5],
        "gamma": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        "degree": [2, 3, 4, 5, 3],
    }
    root = parse(svg.scatter_panels("sweep: Accuracy", "Accuracy", columns, [0.9, 0.7, 0.8, 0.6, 0.2], best=0))
    panels = root.findall(".//svg:g[@class='panel']", NS)
    assert len(panels) == 4
    for panel, name in zip(panels, columns, strict=True):
        assert len(panel.findall("svg:circle[@class='trial']", NS)) == 4
        assert len(panel.findall("svg:polygon[@class='best']", NS)) == 1
        assert texts(panel, "x-label") == [name] and texts(panel, "y-label") == ["Accuracy"]
    # three panels a row: the fourth starts a second row
    frames = [panel.find("svg:rect", NS) for panel in panels]
    assert len({frame.get("x") for frame in frames}) == 3
    assert len({frame.get("y") for frame in frames}) == 2
    assert texts(root, "title") == ["sweep: Accuracy"]
    legend = root.find(".//svg:g[@class='legend']", NS)
    assert texts(legend) == ["trial", "best"]


def test_a_long_title_is_wrapped_to_the_width_of_the_picture():
    title = "an-experiment: Accuracy (maximize) by parameter, 30 trials; best trial 00000000001c"
    root = parse(svg.scatter_panels(title, "Accuracy", {"C": list(range(30))}, [0.5] * 30))
    assert texts(root, "title") == [
        "an-experiment: Accuracy (maximize) by parameter, 30 trials;",
        "best trial 00000000001c",
    ]


def test_text_is_escaped_and_comes_back_unchanged():
    columns = {"loss <&> \"fn\"": ["<a>", "&b", "<a>"], "x": [1, 2, 3]}
    document = svg.scatter_panels("t <&> t", "score <&>", columns, [1, 2, 3])
    root = parse(document)
    assert "<a>" not in document and "&b" not in document
    assert texts(root, "title") == ["t <&> t"]
    assert set(texts(root, "x-label")) == {'loss <&> "fn"', "x"}
    assert set(texts(root, "y-label")) == {"score <&>"}
    assert texts(root, "x-tick")[:2] == ["&b", "<a>"]
    matrix = parse(svg.heat_map("a\x01b", ["<x>", "y&z"], [[1, 0], [0, 1]], x_label="p", y_label="t"))
    assert texts(matrix, "title") == ["ab"]  # no control characters in XML, even escaped
    assert texts(matrix, "y-tick") == ["<x>", "y&z"] == texts(matrix, "x-tick")


def test_the_heat_map_writes_each_count_in_its_cell_white_on_dark_cells():
    labels = ["setosa", "versicolor", "virginica"]
    matrix = [[16, 0, 0], [0, 17, 1], [0, 0, 11]]
    root = parse(svg.heat_map("Confusion matrix\nrun r1", labels, matrix,
                              x_label="predicted class", y_label="true class"))  # fmt: skip
    counts = root.findall(".//svg:text[@class='count']", NS)
    assert [c.text for c in counts] == ["16", "0", "0", "0", "17", "1", "0", "0", "11"]
    assert [c.get("fill", "black") for c in counts] == [
        "white", "black", "black", "black", "white", "black", "black", "black", "white"
    ]  # fmt: skip
    assert texts(root, "y-tick") == labels == texts(root, "x-tick")
    assert texts(root, "x-label") == ["predicted class"]
    assert texts(root, "y-label") == ["true class"]
    assert texts(root, "title") == ["Confusion matrix", "run r1"]
    cells = root.findall(".//svg:g[@class='cells']/svg:rect", NS)
    assert len(cells) == 9
    assert cells[4].get("fill") == svg.BLUES[-1] and cells[1].get("fill") == svg.BLUES[0]
    assert root.find(".//svg:g[@class='colour-bar']", NS) is not None


def test_many_class_labels_are_drawn_at_an_angle():
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    square = [[1] * 10 for _ in names]
    angled = parse(svg.heat_map("t", names, square, x_label="p", y_label="t"))
    assert all("rotate(-45" in t.get("transform", "") for t in angled.iterfind(".//svg:text[@class='x-tick']", NS))
    upright = parse(svg.heat_map("t", ["a", "b"], [[1, 2], [3, 4]], x_label="p", y_label="t"))
    assert not any(t.get("transform") for t in upright.iterfind(".//svg:text[@class='x-tick']", NS))


def test_the_message_picture_says_its_lines():
    root = parse(svg.message('Run r1 logged no confusion matrix\n(a metric {"matrix": [[...]]})'))
    assert texts(root, "message") == ["Run r1 logged no confusion matrix", '(a metric {"matrix": [[...]]})']
    long = parse(svg.message("word " * 60))
    assert len(texts(long, "message")) > 1
