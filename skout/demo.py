"""Fit every target type of the head table on a small dataset, beside two baselines.

Run it with ``python -m skout.demo``: for each kind of target it prints the
head skout chose (units, activation, loss), what ``predict`` returned, and a
held-out score next to the same score for a linear model
(``LogisticRegression`` / ``Ridge``) and a dummy model (the most frequent
class / the mean), so every number can be read against what a trivial and a
classical model get on the same split.
"""

from __future__ import annotations

import textwrap
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_friedman1,
    make_multilabel_classification,
)
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.multioutput import MultiOutputClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import AutoHeadClassifier, AutoHeadRegressor, warm_up


@dataclass
class _Case:
    title: str
    X: np.ndarray
    y: np.ndarray
    regression: bool = False
    params: dict = field(default_factory=dict)  # for skout's estimator
    note: str = ""  # printed under the scores: why they look the way they do
    one_hot: bool = False  # baselines learn the class index, then re-encode it
    per_column: bool = False  # also print the share of single labels right


def _cases():
    """One case per row of the head table."""
    X, y = load_breast_cancer(return_X_y=True)
    labels = np.array(["malignant", "benign"])[y]
    yield _Case("binary, string labels (breast cancer)", X, labels)
    yield _Case(
        "binary, two softmax units (breast cancer)",
        X,
        labels,
        params={"binary_head": "softmax"},
        note="binary_head='softmax': the same model written with two units.",
    )
    X, y = load_digits(return_X_y=True)
    yield _Case("multiclass (digits)", X, y)
    yield _Case(
        "one-hot target (digits)",
        X,
        np.eye(10, dtype=int)[y],
        one_hot=True,
        note="The same task as above, given as one-hot rows: the same scores.",
    )
    X, Y = make_multilabel_classification(
        n_samples=600, n_features=20, n_classes=5, random_state=0
    )
    yield _Case(
        "multilabel indicator (synthetic, 5 labels)",
        X,
        Y,
        per_column=True,
        note=(
            "Exact match counts a row right only if all 5 labels are; "
            "in brackets, the share of single labels right."
        ),
    )
    X, y = load_wine(return_X_y=True)
    strong = np.where(X[:, 0] > 13, "strong", "light")
    yield _Case(
        "multiclass-multioutput (wine: cultivar, strength)",
        X,
        np.column_stack([y.astype(str), strong]),
        per_column=True,
        note=(
            "Exact match: both columns right; in brackets, single labels right. "
            "'strong' means alcohol above 13, a threshold on one feature, which a linear "
            "model draws exactly."
        ),
    )
    X, y = load_diabetes(return_X_y=True)
    yield _Case(
        "continuous (diabetes)",
        X,
        y,
        regression=True,
        params={"early_stopping": True},
        note=(
            "early_stopping=True: 331 training rows would let a 100-unit network "
            "overfit. This target is close to linear and noisy: Ridge is the bar."
        ),
    )
    X, y = make_friedman1(n_samples=600, noise=1.0, random_state=0)
    Y = np.column_stack([y, 10 * np.sin(np.pi * X[:, 0] * X[:, 1])])
    yield _Case(
        "continuous-multioutput (synthetic: Friedman #1 and its sine term)",
        X,
        Y,
        regression=True,
        note="Two nonlinear targets: a linear model misses the interaction x0*x1.",
    )


def _baselines(case):
    """(name, estimator) for the linear and the dummy baseline of a case."""
    if case.regression:
        return [("Ridge", Ridge()), ("dummy (mean)", DummyRegressor())]
    linear = LogisticRegression(max_iter=1000)
    if case.y.ndim == 2 and not case.one_hot:
        linear = MultiOutputClassifier(linear)  # one logistic regression per column
    return [("LogisticRegression", linear), ("dummy (most frequent)", DummyClassifier())]


def _scores(case, y_true, y_pred):
    """The case's score, and the per-column share right where it is asked for."""
    if case.regression:
        return r2_score(y_true, y_pred), None
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    right = y_true == y_pred
    if right.ndim == 1:
        return float(right.mean()), None
    return float(right.all(axis=1).mean()), float(right.mean()) if case.per_column else None


def _fit_predict(estimator, X_tr, y_tr, X_te, class_index=False):
    model = make_pipeline(StandardScaler(), clone(estimator))
    if class_index:  # a baseline that takes class indices: fit on them, answer one-hot
        model.fit(X_tr, y_tr.argmax(axis=1))
        return model, np.eye(y_tr.shape[1], dtype=y_tr.dtype)[model.predict(X_te)]
    model.fit(X_tr, y_tr)
    return model, model.predict(X_te)


def _format(score, per_column):
    text = f"{round(score, 3) + 0.0:.3f}"  # + 0.0: no "-0.000"
    return text + (f" ({per_column:.3f})" if per_column is not None else "")


def _shown(predicted):
    """The first two predictions, numbers rounded for reading."""
    first = predicted[:2]
    return np.round(first, 2).tolist() if first.dtype.kind == "f" else first.tolist()


def main(max_iter=None):
    """Fit each case, print the chosen head and the held-out scores beside the baselines.

    Parameters
    ----------
    max_iter : int, default=None
        Cap on skout's training epochs, for a quick run (the tests use it);
        None keeps the estimators' defaults.
    """
    warnings.simplefilter("ignore", ConvergenceWarning)
    print("skout: the output head is chosen from the target.")
    print("Each score is on a held-out quarter of the data, next to two baselines.")
    # Bringing the framework up is paid once per process, before the first fit:
    # timed on its own, so that each fit's time below is that fit's alone.
    start = time.perf_counter()
    backend = warm_up()
    print(
        f"(Keras and its {backend} backend came up in {time.perf_counter() - start:.1f} s, "
        "once for this process; the times below are the fits alone.)\n"
    )
    for case in _cases():
        X_tr, X_te, y_tr, y_te = train_test_split(case.X, case.y, random_state=0)
        estimator = AutoHeadRegressor if case.regression else AutoHeadClassifier
        params = dict(case.params, **({} if max_iter is None else {"max_iter": max_iter}))
        start = time.perf_counter()
        model, predicted = _fit_predict(estimator(random_state=0, **params), X_tr, y_tr, X_te)
        seconds = time.perf_counter() - start
        net = model[-1]
        head = net.head_
        metric = "R^2" if case.regression else "accuracy"
        if not case.regression and case.y.ndim == 2:
            metric = "exact-match accuracy"
        print(case.title)
        print(f"  target_type_ = {net.target_type_!r}")
        print(f"  head: units={head.units}, activation={head.activation}, loss={head.loss}")
        print(f"  predict(X_test[:2]) -> {_shown(predicted)}")
        print(f"  held-out {metric}:")
        print(
            f"    {'skout':<24}{_format(*_scores(case, y_te, predicted)):<16}"
            f"{net.n_iter_} epochs, {seconds:.2f} s"
        )
        for name, baseline in _baselines(case):
            _, base_predicted = _fit_predict(baseline, X_tr, y_tr, X_te, case.one_hot)
            print(f"    {name:<24}{_format(*_scores(case, y_te, base_predicted))}")
        if case.note:
            print(textwrap.fill(case.note, 88, initial_indent="  ", subsequent_indent="  "))
        print()


if __name__ == "__main__":
    main()
