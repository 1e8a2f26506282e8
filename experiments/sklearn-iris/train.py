"""Train a support vector classifier on the iris data set.

Runs inside a snakeyard run (metrics go to the run record) and by hand:

    python train.py --kernel rbf --penalty 0.5            # scikit-learn's bundled iris
    python train.py --data-folder path/to/iris/files      # a fetched copy
"""

import argparse
import json
import os
from pathlib import Path

import joblib
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from snakeyard import Run


def load(data_folder):
    """Features, labels and class names from data_folder, or scikit-learn's own copy."""
    if data_folder is None:
        from sklearn.datasets import load_iris

        iris = load_iris()
        return iris.data, iris.target, [str(name) for name in iris.target_names]
    table = np.loadtxt(Path(data_folder) / "iris.csv", delimiter=",", skiprows=1)
    labels = table[:, -1].astype(int)
    described = Path(data_folder) / "iris.json"  # fetched with the table; a bare copy has none
    if described.is_file():
        names = json.loads(described.read_text())["target_names"]
    else:
        names = [str(label) for label in range(labels.max() + 1)]
    return table[:, :-1], labels, names


def log_predictions(run, X_test, y_test, predicted, class_names):
    """Log a picture of the test flowers by petal size, coloured by predicted species,
    mistakes circled; skipped where matplotlib is not installed (it draws, nothing else)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return
    figure = Figure(figsize=(5, 4), layout="constrained")
    ax = figure.add_subplot()
    for label, name in enumerate(class_names):
        chosen = predicted == label
        ax.scatter(X_test[chosen, 2], X_test[chosen, 3], label=name, s=24)
    wrong = predicted != y_test
    ax.scatter(X_test[wrong, 2], X_test[wrong, 3], s=140, facecolors="none",
               edgecolors="red", label="misclassified")
    ax.set(xlabel="petal length (cm)", ylabel="petal width (cm)",
           title="Test flowers by predicted species")
    ax.legend(frameon=False)
    run.log_image("Test predictions", plot=figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default="linear", help="SVC kernel: linear, rbf, poly or sigmoid")
    parser.add_argument("--penalty", type=float, default=1.0, help="penalty parameter C")
    parser.add_argument("--data-folder", default=None, help="folder holding iris.csv")
    args = parser.parse_args()

    X, y, class_names = load(args.data_folder)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    model = SVC(kernel=args.kernel, C=args.penalty).fit(X_train, y_train)
    predicted = model.predict(X_test)
    accuracy = accuracy_score(y_test, predicted)
    matrix = confusion_matrix(y_test, predicted, labels=range(len(class_names)))

    run = Run.get_context()
    run.log("Kernel type", args.kernel)
    run.log("Penalty", args.penalty)
    run.log("Accuracy", float(accuracy))
    # true class by row, predicted class by column; the report draws it
    run.log("Confusion matrix", {"class_labels": class_names, "matrix": matrix.tolist()})
    # a learning curve: one value per step makes a list metric, which the report draws
    for size in (6, 9, 12, 18, 27, 40, 60, len(X_train)):
        if len(set(y_train[:size])) > 1:  # SVC needs two classes or more
            smaller = SVC(kernel=args.kernel, C=args.penalty).fit(X_train[:size], y_train[:size])
            run.log("Accuracy by training size", float(smaller.score(X_test, y_test)))
    log_predictions(run, X_test, y_test, predicted, class_names)

    os.makedirs("outputs", exist_ok=True)
    joblib.dump(model, "outputs/model.joblib")
    print(f"accuracy {accuracy:.4f} with kernel={args.kernel} C={args.penalty}")


if __name__ == "__main__":
    main()
