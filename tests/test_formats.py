"""idx files (MNIST's format) and tabular CSV files: reading them and refusing bad ones."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from snakeyard.data.idx import IdxError, idx_header, read_idx, write_idx
from snakeyard.data.tabular import TableError, describe_table


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_idx_round_trip_gzipped_or_not(tmp_path: Path, name: str):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, images)
    assert (tmp_path / name).read_bytes()[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b"\0\0")
    read = read_idx(tmp_path / name)
    assert read.dtype == np.uint8 and np.array_equal(read, images)
    assert idx_header(tmp_path / name) == {"dtype": "uint8", "shape": [2, 3, 4]}


def test_idx_wider_types_are_big_endian_on_disk(tmp_path: Path):
    values = np.array([1.5, -2.25], dtype=np.float64)
    write_idx(tmp_path / "v.idx", values)
    raw = (tmp_path / "v.idx").read_bytes()
    assert raw[:8] == b"\0\0\x0e\x01\0\0\0\x02" and raw[8:16] == struct.pack(">d", 1.5)
    assert np.array_equal(read_idx(tmp_path / "v.idx"), values)


def test_mnist_style_header_bytes(tmp_path: Path):
    labels = np.array([5, 0, 4], dtype=np.uint8)
    write_idx(tmp_path / "labels-idx1-ubyte", labels)
    assert (tmp_path / "labels-idx1-ubyte").read_bytes() == bytes.fromhex(
        "00000801 00000003 050004"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an idx file (only 0 bytes)"),
        (
            b"PK\x03\x04rest",
            "not an idx file (magic number 504b0304; expected 0000 then a type code 08, 09, 0b, 0c, 0d, 0e, then the number of dimensions)",
        ),
        (bytes.fromhex("00000800"), "idx header declares 0 dimensions"),
        (bytes.fromhex("00000803 0000000a"), "truncated idx header (3 dimensions declared)"),
        (
            bytes.fromhex("00000802 00000002 00000003") + b"\1" * 5,
            "truncated: header declares 2 x 3 values of uint8 (6 bytes of data), file has 5",
        ),
        (
            bytes.fromhex("00000801 00000002") + b"\1" * 3,
            "too long: header declares 2 values of uint8 (2 bytes of data), file has more",
        ),
    ],
)
def test_malformed_idx_files_are_named(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad-idx"
    path.write_bytes(content)
    for reader in (read_idx, idx_header):
        with pytest.raises(IdxError) as raised:
            reader(path)
        assert str(raised.value) == f"{path}: {message}"


def test_truncated_gzip_is_an_idx_error(tmp_path: Path):
    write_idx(tmp_path / "a.gz", np.zeros((100, 28, 28), dtype=np.uint8))
    data = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(IdxError, match=r"cut.gz: cannot read \(Compressed file ended"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "garbage.gz").write_bytes(b"\x1f\x8b" + b"\xff" * 40)
    with pytest.raises(IdxError, match=r"garbage.gz: cannot read"):
        idx_header(tmp_path / "garbage.gz")
    (tmp_path / "short.gz").write_bytes(gzip.compress(bytes.fromhex("00000801 00000009") + b"\1"))
    with pytest.raises(IdxError, match="truncated: header declares 9 values"):
        read_idx(tmp_path / "short.gz")


def test_table_columns_types_and_rows(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("age,height,city,label\n31,1.80,Oslo,yes\n42,,Bergen,no\n7,1.2,,yes\n\n")
    assert describe_table(path, "label") == {
        "file": "t.csv",
        "rows": 3,
        "label_column": "label",
        "columns": [
            {"name": "age", "type": "integer", "missing": 0},
            {"name": "height", "type": "float", "missing": 1},
            {"name": "city", "type": "string", "missing": 1},
            {"name": "label", "type": "string", "missing": 0},
        ],
    }


@pytest.mark.parametrize(
    ("text", "label", "message"),
    [
        ("a,b\n1,2\n", "y", "label column 'y' is not in the header (columns: a, b)"),
        ("a,b,a\n1,2,3\n", "b", "column 'a' appears twice in the header"),
        ("a,,c\n1,2,3\n", "a", "the header has an empty column name"),
        ("", "a", "no header row"),
        ("a,b\n", "a", "a header but no rows"),
        ("a,b\n1,2\n3\n", "a", "line 3: 1 fields, the header has 2"),
    ],
)
def test_bad_tables_are_named(tmp_path: Path, text: str, label: str, message: str):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(TableError) as raised:
        describe_table(path, label)
    assert str(raised.value).startswith(str(path)) and str(raised.value).endswith(message)
