"""Train a logistic regression on MNIST-format handwritten digits.

The classic image-classification tutorial's training script: the four idx files of
MNIST come in through --data-folder, a one-vs-rest logistic regression (liblinear,
C = 1 / regularization) is fitted on the training images scaled to [0, 1], and its
accuracy on the test images is logged as `accuracy`. Runs inside a snakeyard run and
by hand:

    python train.py --data-folder path/to/mnist --regularization 0.5
"""

import argparse
import os
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from snakeyard import Run
from snakeyard.data.idx import read_idx

FILES = {
    "train images": "train-images-idx3-ubyte",
    "train labels": "train-labels-idx1-ubyte",
    "test images": "t10k-images-idx3-ubyte",
    "test labels": "t10k-labels-idx1-ubyte",
}


def find(folder, stem):
    """The file named stem or stem.gz anywhere below folder."""
    for name in (f"{stem}.gz", stem):
        found = sorted(Path(folder).rglob(name))
        if found:
            return found[0]
    raise SystemExit(f"no {stem}[.gz] below {folder}")


def load(folder):
    """Training and test images (one row of pixels in [0, 1] each) and their labels."""
    arrays = {what: read_idx(find(folder, stem)) for what, stem in FILES.items()}
    images = {
        part: arrays[f"{part} images"].reshape(len(arrays[f"{part} images"]), -1) / 255.0
        for part in ("train", "test")
    }
    return images["train"], arrays["train labels"], images["test"], arrays["test labels"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-folder", required=True, help="folder holding the idx files")
    parser.add_argument(
        "--regularization", type=float, default=0.5, help="regularization rate (C = 1 / rate)"
    )
    args = parser.parse_args()

    X_train, y_train, X_test, y_test = load(args.data_folder)
    print(f"{len(X_train)} training and {len(X_test)} test images of {X_train.shape[1]} pixels")

    model = OneVsRestClassifier(
        LogisticRegression(C=1.0 / args.regularization, solver="liblinear", random_state=42)
    )
    model.fit(X_train, y_train)
    accuracy = float(np.mean(model.predict(X_test) == y_test))

    run = Run.get_context()
    run.log("regularization rate", args.regularization)
    run.log("accuracy", accuracy)

    os.makedirs("outputs", exist_ok=True)
    joblib.dump(model, "outputs/sklearn_mnist_model.pkl")
    print(f"accuracy {accuracy:.4f} with regularization {args.regularization}")


if __name__ == "__main__":
    main()
