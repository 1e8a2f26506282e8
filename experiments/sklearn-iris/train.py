"""Train a support vector classifier on the iris data set.

Runs inside a snakeyard run (metrics go to the run record) and by hand:

    python train.py --kernel rbf --penalty 0.5            # scikit-learn's bundled iris
    python train.py --data-folder path/to/iris/files      # a fetched copy
"""

import argparse
import os
from pathlib import Path

import joblib
import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from snakeyard import Run


def load(data_folder):
    """Features and labels from iris.csv in data_folder, or scikit-learn's own copy."""
    if data_folder is None:
        from sklearn.datasets import load_iris

        return load_iris(return_X_y=True)
    table = np.loadtxt(Path(data_folder) / "iris.csv", delimiter=",", skiprows=1)
    return table[:, :-1], table[:, -1].astype(int)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default="linear", help="SVC kernel: linear, rbf, poly or sigmoid")
    parser.add_argument("--penalty", type=float, default=1.0, help="penalty parameter C")
    parser.add_argument("--data-folder", default=None, help="folder holding iris.csv")
    args = parser.parse_args()

    X, y = load(args.data_folder)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    model = SVC(kernel=args.kernel, C=args.penalty).fit(X_train, y_train)
    accuracy = accuracy_score(y_test, model.predict(X_test))

    run = Run.get_context()
    run.log("Kernel type", args.kernel)
    run.log("Penalty", args.penalty)
    run.log("Accuracy", float(accuracy))

    os.makedirs("outputs", exist_ok=True)
    joblib.dump(model, "outputs/model.joblib")
    print(f"accuracy {accuracy:.4f} with kernel={args.kernel} C={args.penalty}")


if __name__ == "__main__":
    main()
