"""Train a classifier on a tabular data set: one CSV file with a header and a label column.

The data set arrives as the path of its CSV file (a tabular data set's data argument);
every column but the label must be numeric. Runs inside a snakeyard run and by hand:

    python train.py --data ../../data/wine.csv --label-column cultivar
"""

import argparse
import csv
import os

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from snakeyard import Run


def load(path, label_column):
    """Feature matrix, label vector and feature names of the CSV file at path."""
    # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [row for row in rows[1:] if row]
    label = header.index(label_column)
    features = [name for i, name in enumerate(header) if i != label]
    X = np.array([[float(v) for i, v in enumerate(row) if i != label] for row in body])
    y = np.array([row[label] for row in body])
    return X, y, features


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the data set's CSV file")
    parser.add_argument("--label-column", required=True, help="column holding the labels")
    parser.add_argument("--penalty", type=float, default=1.0, help="inverse regularization C")
    args = parser.parse_args()

    X, y, features = load(args.data, args.label_column)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=args.penalty, max_iter=1000))
    model.fit(X_train, y_train)
    accuracy = accuracy_score(y_test, model.predict(X_test))

    run = Run.get_context()
    run.log("features", len(features))
    run.log("penalty", args.penalty)
    run.log("accuracy", float(accuracy))

    os.makedirs("outputs", exist_ok=True)
    joblib.dump(model, "outputs/model.joblib")
    print(f"accuracy {accuracy:.4f} on {len(y_test)} held-out rows, {len(features)} features")


if __name__ == "__main__":
    main()
