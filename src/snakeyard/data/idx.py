"""The idx file format of MNIST, gzipped or not: reading with checks, and writing.

An idx file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian 32-bit size per dimension, then the values, big-endian,
in C order. ``read_idx`` checks all of it, so a truncated or malformed file is an
:class:`IdxError` naming the file, never a numpy error.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import SnakeyardError

TYPE_CODES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


class IdxError(SnakeyardError):
    """A file that is not a well-formed idx file."""


def _open(path: Path) -> IO[bytes]:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _read_header(handle: IO[bytes], path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    magic = handle.read(4)
    if len(magic) < 4:
        raise IdxError(f"{path}: not an idx file (only {len(magic)} bytes)")
    if magic[:2] != b"\0\0" or magic[2] not in TYPE_CODES:
        raise IdxError(
            f"{path}: not an idx file (magic number {magic.hex()}; expected 0000 then a "
            f"type code {', '.join(f'{code:02x}' for code in TYPE_CODES)}, then the "
            "number of dimensions)"
        )
    ndim = magic[3]
    if ndim == 0:
        raise IdxError(f"{path}: idx header declares 0 dimensions")
    raw = handle.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise IdxError(f"{path}: truncated idx header ({ndim} dimensions declared)")
    shape = struct.unpack(f">{ndim}I", raw)
    return TYPE_CODES[magic[2]], shape


def idx_header(path: str | os.PathLike) -> dict[str, Any]:
    """The type and shape an idx file declares, after checking that its data fits them."""
    path = Path(path)
    try:
        with _open(path) as handle:
            dtype, shape = _read_header(handle, path)
            expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            found = 0
            while chunk := handle.read(1 << 20):
                found += len(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise IdxError(f"{path}: cannot read ({error})") from None
    _check_size(path, shape, dtype, expected, found)
    return {"dtype": dtype.name, "shape": list(shape)}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (gzipped or not) into an array of its declared type and shape."""
    path = Path(path)
    try:
        with _open(path) as handle:
            dtype, shape = _read_header(handle, path)
            expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            data = handle.read(expected + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise IdxError(f"{path}: cannot read ({error})") from None
    _check_size(path, shape, dtype, expected, len(data))
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _check_size(path: Path, shape: tuple[int, ...], dtype: np.dtype, expected: int, found: int):
    if found != expected:
        what = "truncated" if found < expected else "too long"
        dims = " x ".join(map(str, shape))
        raise IdxError(
            f"{path}: {what}: header declares {dims} values of {dtype.name} "
            f"({expected} bytes of data), "
            + (f"file has {found}" if found < expected else "file has more")
        )


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an idx file; gzipped when ``compress`` or the name ends in .gz."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in TYPE_CODES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0 or array.ndim > 255:
        raise IdxError(f"cannot write {array.dtype} array of {array.ndim} dimensions as idx")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = array.astype(TYPE_CODES[code], copy=False).tobytes()
    gzipped = path.suffix == ".gz" if compress is None else compress
    # mtime=0 keeps the bytes, and so the sha256, the same for the same array
    opener = (lambda p: gzip.GzipFile(p, "wb", mtime=0)) if gzipped else (lambda p: open(p, "wb"))
    with opener(path) as handle:
        handle.write(header)
        handle.write(body)
    return path
