"""Fit every target type of the head table on a bundled dataset.

Run it with ``python -m skout.demo``: for each kind of target it prints the
head skout chose (units, activation, loss), what ``predict`` returned, and a
held-out score.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_linnerud,
    load_wine,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import AutoHeadClassifier, AutoHeadRegressor


def _cases():
    """(title, estimator class, X, y) for each row of the head table."""
    X, y = load_breast_cancer(return_X_y=True)
    labels = np.array(["malignant", "benign"])[y]
    yield "binary, string labels (breast cancer)", AutoHeadClassifier, X, labels, {}
    yield (
        "binary, two softmax units",
        AutoHeadClassifier,
        X,
        labels,
        {"binary_head": "softmax"},
    )
    X, y = load_digits(return_X_y=True)
    yield "multiclass (digits)", AutoHeadClassifier, X, y, {}
    yield "one-hot target (digits)", AutoHeadClassifier, X, np.eye(10, dtype=int)[y], {}
    X, Y = make_multilabel_classification(
        n_samples=600, n_features=20, n_classes=5, random_state=0
    )
    yield "multilabel indicator (synthetic)", AutoHeadClassifier, X, Y, {}
    X, y = load_wine(return_X_y=True)
    strong = np.where(X[:, 0] > 13, "strong", "light")
    yield (
        "multiclass-multioutput (wine)",
        AutoHeadClassifier,
        X,
        np.column_stack([y.astype(str), strong]),
        {},
    )
    X, y = load_diabetes(return_X_y=True)
    yield "continuous (diabetes)", AutoHeadRegressor, X, y, {}
    X, Y = load_linnerud(return_X_y=True)
    yield "continuous-multioutput (linnerud)", AutoHeadRegressor, X, Y, {}


def main():
    """Fit each case, print the chosen head and the held-out score."""
    warnings.simplefilter("ignore", ConvergenceWarning)
    print("skout: the output head is chosen from the target\n")
    for title, estimator, X, y, params in _cases():
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
        model = make_pipeline(StandardScaler(), estimator(random_state=0, **params))
        start = time.perf_counter()
        model.fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
        net = model[-1]
        head = net.head_
        metric = "accuracy" if estimator is AutoHeadClassifier else "R^2"
        print(f"{title}")
        print(f"  target_type_ = {net.target_type_!r}")
        print(f"  head: units={head.units}, activation={head.activation}, loss={head.loss}")
        print(f"  predict(X[:2]) -> {model.predict(X_te[:2]).tolist()}")
        print(
            f"  held-out {metric} = {model.score(X_te, y_te):.3f}  "
            f"({net.n_iter_} epochs, {seconds:.2f} s)\n"
        )


if __name__ == "__main__":
    main()
