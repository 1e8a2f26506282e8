"""Small MNIST-format files built from scikit-learn's bundled handwritten digits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from snakeyard.data.idx import write_idx

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def write_digits_idx(folder: Path, train: int = 1500) -> dict[str, str]:
    """Write the four MNIST files (8 x 8 images, 0-255) into ``folder``; return their sha256."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    images = np.round(digits.images[order] * (255 / 16)).astype(np.uint8)
    labels = digits.target[order].astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = (images[:train], labels[:train], images[train:], labels[train:])
    for name, array in zip(MNIST_FILES, arrays, strict=True):
        write_idx(folder / name, array)
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in MNIST_FILES}
