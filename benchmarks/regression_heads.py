"""Counts, amounts, quantiles and priors: skout's heads against the anchors.

One run, side by side, held-out scores on a 75 / 25 split:

* **Poisson** (mean Poisson deviance, lower is better): ``AutoHeadRegressor(
  loss="poisson")`` against ``MLPRegressor(loss="poisson")`` and
  ``HistGradientBoostingRegressor(loss="poisson")``, on a synthetic Poisson
  GLM and on statsmodels' bundled RAND health-insurance data (``randhie``:
  outpatient visits, a count), when statsmodels is installed.
* **Gamma** (mean gamma deviance): ``loss="gamma"`` against HGB's, on a
  synthetic gamma GLM.
* **Quantiles**: ``loss="quantile", quantile=[0.05, 0.95]`` (one model, two
  outputs that never cross) against two HGB quantile models, on
  heteroscedastic data: the share of held-out targets inside the interval
  (goal: within 2 points of 90 %) and the mean pinball loss.
* **Prior initialisation**: ``head_init="prior"`` against ``"glorot"`` on
  99:1 binary problems and on digits (3 data sets or splits x 3 seeds): the
  loss before training (against the prior's entropy), the training loss at
  epoch 10, the epochs the tol rule runs and the held-out log-loss.

Usage::

    python benchmarks/regression_heads.py                 # everything (~2 minutes)
    python benchmarks/regression_heads.py --markdown out.md
"""

# ruff: noqa: E402
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    log_loss,
    mean_gamma_deviance,
    mean_pinball_loss,
    mean_poisson_deviance,
)
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skout import AutoHeadClassifier, AutoHeadRegressor

SEED = 0
NET = dict(hidden_layer_sizes=(32,), max_iter=300, early_stopping=True, random_state=SEED)


def _split(X, y):
    return train_test_split(X, y, test_size=0.25, random_state=SEED)


def poisson_glm(n=4000, seed=SEED):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 8))
    log_mean = 0.5 + X[:, 0] * 0.6 - X[:, 1] * 0.4 + 0.3 * np.sin(2 * X[:, 2])
    return X, rng.poisson(np.exp(log_mean)).astype(float)


def randhie():
    """statsmodels' RAND health-insurance experiment: outpatient visits (counts)."""
    try:
        from statsmodels.datasets import randhie as data
    except ImportError:
        return None
    frame = data.load_pandas().data
    y = frame["mdvis"].to_numpy(float)
    X = frame.drop(columns=["mdvis"]).to_numpy(float)
    return X, y


def gamma_glm(n=4000, seed=SEED):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 8))
    mean = np.exp(1.0 + 0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.2 * X[:, 2] * X[:, 3])
    shape = 2.0
    return X, rng.gamma(shape, mean / shape)


def heteroscedastic(n=4000, seed=SEED):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, size=(n, 4))
    noise = rng.normal(size=n) * (0.3 + 0.7 * np.abs(X[:, 0]))
    return X, np.sin(X[:, 0]) * 2 + X[:, 1] + noise


def _timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def deviance_rows(name, data, loss, metric, contenders):
    X_train, X_test, y_train, y_test = _split(*data)
    rows = []
    for label, make in contenders:
        model, seconds = _timed(lambda make=make: make().fit(X_train, y_train))
        prediction = np.maximum(model.predict(X_test), 1e-9)
        rows.append((name, loss, label, metric(y_test, prediction), seconds))
    return rows


def _scaled(estimator):
    return lambda: make_pipeline(StandardScaler(), estimator)


def quantile_rows(data, levels=(0.05, 0.95)):
    X_train, X_test, y_train, y_test = _split(*data)
    rows = []
    net, seconds = _timed(
        lambda: _scaled(AutoHeadRegressor(loss="quantile", quantile=list(levels), **NET))().fit(
            X_train, y_train
        )
    )
    low, high = net.predict(X_test).T
    rows.append(("skout, one model", low, high, seconds))
    start = time.perf_counter()
    hgb = [
        HistGradientBoostingRegressor(loss="quantile", quantile=q, random_state=SEED).fit(
            X_train, y_train
        )
        for q in levels
    ]
    rows.append(
        (
            "HGB, one model per level",
            *(m.predict(X_test) for m in hgb),
            time.perf_counter() - start,
        )
    )
    table = []
    for label, low, high, seconds in rows:
        coverage = np.mean((y_test >= low) & (y_test <= high))
        pinball = np.mean(
            [mean_pinball_loss(y_test, v, alpha=q) for v, q in zip((low, high), levels)]
        )
        crossed = int(np.sum(low > high))
        table.append((label, coverage, pinball, crossed, seconds))
    return table


def _entropy(y):
    p = np.bincount(y) / len(y)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def prior_rows(seeds=(0, 1, 2)):
    """Prior against random heads: the mean over three 99:1 data sets (or three
    splits of digits) and three network seeds each."""
    rows = []
    for name in ("99:1 binary", "digits"):
        for init in ("prior", "glorot"):
            before, entropy, after_10, epochs, held_out = [], [], [], [], []
            for data_seed in seeds:
                if name == "digits":
                    X, y = load_digits(return_X_y=True)
                    split = train_test_split(X, y, test_size=0.25, random_state=data_seed)
                else:
                    X, y = make_classification(n_samples=4000, n_features=10, weights=[0.99],
                                               flip_y=0, random_state=data_seed)  # fmt: skip
                    split = _split(X, y)
                X_train, X_test, y_train, y_test = split
                for seed in seeds:
                    params = dict(head_init=init, hidden_layer_sizes=(32,), random_state=seed)
                    model = make_pipeline(StandardScaler(), AutoHeadClassifier(**params))
                    model.fit(X_train, y_train)
                    net = model[-1]
                    start = make_pipeline(
                        StandardScaler(),
                        AutoHeadClassifier(**params, max_iter=1, learning_rate_init=1e-12),
                    ).fit(X_train, y_train)
                    before.append(log_loss(y_train, start.predict_proba(X_train)))
                    entropy.append(_entropy(y_train))
                    after_10.append(net.loss_curve_[min(9, len(net.loss_curve_) - 1)])
                    epochs.append(net.n_iter_)
                    held_out.append(
                        log_loss(y_test, model.predict_proba(X_test), labels=np.unique(y))
                    )
            rows.append((name, init, *(float(np.mean(v)) for v in (before, entropy, after_10)),
                         epochs, float(np.mean(held_out))))  # fmt: skip
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    lines = []

    def emit(line=""):
        print(line, flush=True)
        lines.append(line)

    def contenders(loss, with_mlp):
        found = [("skout", _scaled(AutoHeadRegressor(loss=loss, **NET)))]
        if with_mlp:
            found.append(("MLPRegressor", _scaled(MLPRegressor(loss=loss, **NET))))
        found.append(("HGB", lambda: HistGradientBoostingRegressor(loss=loss, random_state=SEED)))
        return found

    emit("## Deviance on held-out data (lower is better)")
    emit()
    emit("| data | loss | model | mean deviance | fit (s) |")
    emit("|---|---|---|---|---|")
    datasets = [("Poisson GLM (synthetic)", poisson_glm(), "poisson", mean_poisson_deviance, True)]
    rand = randhie()
    if rand is not None:
        datasets.append(("randhie: outpatient visits", rand, "poisson", mean_poisson_deviance,
                         True))  # fmt: skip
    datasets.append(("gamma GLM (synthetic)", gamma_glm(), "gamma", mean_gamma_deviance, False))
    for name, data, loss, metric, with_mlp in datasets:
        for row in deviance_rows(name, data, loss, metric, contenders(loss, with_mlp)):
            emit(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]:.4f} | {row[4]:.2f} |")
    emit()
    emit("## A 90 % interval: quantiles 0.05 and 0.95 on heteroscedastic data")
    emit()
    emit("| model | coverage (goal 0.88-0.92) | mean pinball loss | crossed rows | fit (s) |")
    emit("|---|---|---|---|---|")
    for label, coverage, pinball, crossed, seconds in quantile_rows(heteroscedastic()):
        emit(f"| {label} | {coverage:.3f} | {pinball:.4f} | {crossed} | {seconds:.2f} |")
    emit()
    emit("## Heads that start at the prior (means of 3 data sets x 3 seeds)")
    emit()
    emit(
        "| data | head_init | log-loss before any step | prior's entropy "
        "| training loss at epoch 10 | epochs to converge (each run) | held-out log-loss |"
    )
    emit("|---|---|---|---|---|---|---|")
    for name, init, before, entropy, after_10, epochs, held_out in prior_rows():
        runs = ", ".join(map(str, epochs))
        emit(
            f"| {name} | {init} | {before:.4f} | {entropy:.4f} | {after_10:.4f} "
            f"| {np.mean(epochs):.0f} ({runs}) | {held_out:.4f} |"
        )
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
