"""Categorical columns: skout's embeddings against one-hot encoding and HGB.

One run, side by side, held-out scores on a 75 / 25 split (stratified):

* **embeddings**: ``AutoHeadClassifier`` on the frame as it is, its
  ``category`` columns embedded (``categorical_features="from_dtype"``);
* **one-hot**: the same network behind a ``ColumnTransformer`` that one-hot
  encodes the categorical columns (``OneHotEncoder(handle_unknown="ignore")``,
  what a skout user wrote before);
* **HGB**: ``HistGradientBoostingClassifier(categorical_features="from_dtype")``,
  scikit-learn's estimator that reads categories natively -- up to 255
  categories per column: it refuses the 1,000-level frame, so
* **HGB, ordinal codes**: the same behind an ``OrdinalEncoder`` of the
  categorical columns, read as numbers (what HGB's users do past 255 levels).

Both networks get the same numeric scaling (``StandardScaler``), the same
hidden layer (100 units) and the same stopping rule: skout's default (the
training loss, as ``MLPClassifier``) on the penguins, whose early-stopping
split would hold out 26 birds, and ``early_stopping=True`` on the large
frame. The fit time includes whatever epochs the rule lets each run. Each
network is fitted with three ``random_state`` values (the split stays the
same): the table gives the mean and the spread (max - min) of each
score, because the gap between the networks is of the size of the seed's
effect. Every contender is
fitted once on a few rows before it is timed: TensorFlow traces each kind
of network once per process (the one-hot network and the embedding network
are two kinds), and that first-fit cost is not what this compares.

Data:

* palmerpenguins' ``load_penguins()`` (344 penguins: species from the bill,
  flipper and mass, the island and the sex; rows without measurements
  dropped, a missing sex kept as a missing category);
* a synthetic frame with a 1,000-level ``item`` column (frequencies skewed,
  a few hundred rows for the common items and a handful for the rare ones)
  whose effect on the label is non-linear: each item has a hidden 2-D
  position ``(u, v)``, and the label is ``sin(2u) x0 + v^2 - 1 + u x1 / 2 +
  noise > 0``.

Goal: on the high-cardinality frame, embeddings score at least as well as
one-hot (accuracy and log-loss, the mean of three seeds; a gap smaller than
the seeds' spread is a tie) at a lower fit time.

The table gives mean ± half the spread over the seeds for the networks.

Usage::

    python benchmarks/categorical.py                      # both data sets (~2 minutes)
    python benchmarks/categorical.py --rows 5000          # a smaller synthetic frame
    python benchmarks/categorical.py --markdown out.md    # also write the table
"""

# ruff: noqa: E402
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

import skout
from skout import AutoHeadClassifier

SEED = 0
SEEDS = (0, 1, 2)
NET = dict(hidden_layer_sizes=(100,), max_iter=300)
#: The stopping rule of each data set (both networks alike).
STOPPING = {"penguins": {}, "items": {"early_stopping": True}}


# -- data ---------------------------------------------------------------------------------
def penguins():
    """palmerpenguins' frame: species from 4 measurements, island and sex."""
    from palmerpenguins import load_penguins

    frame = load_penguins()
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    frame = frame.dropna(subset=numeric)  # two penguins were never measured
    X = frame[numeric].assign(
        island=frame["island"].astype("category"), sex=frame["sex"].astype("category")
    )
    return X.reset_index(drop=True), frame["species"].to_numpy()


def high_cardinality(rows=20_000, levels=1_000, seed=SEED):
    """Three numeric columns and a 1,000-level item with a non-linear effect."""
    rng = np.random.RandomState(seed)
    weight = 1.0 / (np.arange(levels) + 20.0)  # a few common items, many rare ones
    item = rng.choice(levels, rows, p=weight / weight.sum())
    u, v = rng.normal(size=(2, levels))
    x = rng.normal(size=(rows, 3))
    score = np.sin(2 * u[item]) * x[:, 0] + v[item] ** 2 - 1 + 0.5 * u[item] * x[:, 1]
    y = np.where(score + 0.3 * rng.normal(size=rows) > 0, "yes", "no")
    names = np.array([f"item{i:04d}" for i in range(levels)])
    X = pd.DataFrame(x, columns=["x0", "x1", "x2"])
    X["item"] = pd.Categorical(names[item], categories=names)
    return X, y


# -- contenders -------------------------------------------------------------------------------
def _scale_numbers():
    """StandardScaler on the numeric columns; categorical ones pass as they are."""
    return ColumnTransformer(
        [("num", StandardScaler(), make_column_selector(dtype_include="number"))],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def embeddings(**net):
    return make_pipeline(_scale_numbers(), AutoHeadClassifier(**NET, **net))


def one_hot(**net):
    encode = ColumnTransformer(
        [
            ("num", StandardScaler(), make_column_selector(dtype_include="number")),
            ("cat", OneHotEncoder(handle_unknown="ignore"),
             make_column_selector(dtype_include="category")),
        ]
    )  # fmt: skip
    return make_pipeline(encode, AutoHeadClassifier(**NET, **net))


def hgb(**net):
    return HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=SEED)


def hgb_ordinal(**net):
    codes = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                encoded_missing_value=-1),
          make_column_selector(dtype_include="category"))],
        remainder="passthrough",
    )  # fmt: skip
    return make_pipeline(codes, HistGradientBoostingClassifier(random_state=SEED))


CONTENDERS = {
    "skout embeddings": embeddings,
    "skout one-hot": one_hot,
    "HGB": hgb,
    "HGB, ordinal codes": hgb_ordinal,
}
NETWORKS = ("skout embeddings", "skout one-hot")


# -- one run ------------------------------------------------------------------------------------
def _fit_and_score(model, X_train, X_test, y_train, y_test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    proba = model.predict_proba(X_test)
    net = model[-1] if hasattr(model, "steps") else model
    return {
        "accuracy": accuracy_score(y_test, model.predict(X_test)),
        "log-loss": log_loss(y_test, proba, labels=model.classes_),
        "fit (s)": seconds,
        "epochs": getattr(net, "n_iter_", np.nan),
    }


def run(name, key, X, y):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED, stratify=y
    )
    rows = []
    for label, make in CONTENDERS.items():
        seeds = SEEDS if label in NETWORKS else (SEED,)
        settings = [
            {**STOPPING[key], "random_state": seed} if label in NETWORKS else {} for seed in seeds
        ]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                make(**settings[0]).fit(X_train[:60], y_train[:60])  # warm-up, untimed
            runs = [_fit_and_score(make(**s), X_train, X_test, y_train, y_test) for s in settings]
        except ValueError as exc:  # HGB past 255 categories
            rows.append({"data": name, "model": label, "refused": str(exc)})
            print(f"  {name}: {label} refused: {exc}", flush=True)
            continue
        row = {"data": name, "model": label, "seeds": len(runs)}
        for metric in ("accuracy", "log-loss", "fit (s)", "epochs"):
            values = np.array([r[metric] for r in runs], dtype=float)
            row[metric] = float(values.mean())
            row[metric + " spread"] = float(values.max() - values.min())
        rows.append(row)
        print(f"  {name}: {label} done ({row['fit (s)']:.1f} s a fit)", flush=True)
    return rows


def _cell(row, metric, digits):
    value, spread = row[metric], row[metric + " spread"]
    if np.isnan(value):
        return ""
    if row["seeds"] == 1:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {spread / 2:.{digits}f}"


def table(rows):
    header = "| data | model | accuracy | log-loss | fit (s) | epochs |\n|---|---|---|---|---|---|"
    lines = []
    for r in rows:
        if "refused" in r:
            lines.append(f"| {r['data']} | {r['model']} | refused: {r['refused']} | | | |")
            continue
        cells = [
            _cell(r, "accuracy", 4), _cell(r, "log-loss", 4), _cell(r, "fit (s)", 2),
            _cell(r, "epochs", 0),
        ]  # fmt: skip
        lines.append(f"| {r['data']} | {r['model']} | {' | '.join(cells)} |")
    return "\n".join([header, *lines])


def verdict(rows):
    """The goal on the high-cardinality frame: embeddings at least as good, faster.

    "At least as good" allows for the seed: a score worse by less than the
    larger half-spread of the two networks' seeds is a tie.
    """
    by = {r["model"]: r for r in rows if r["data"].startswith("1,000-level")}
    if not by:
        return ""
    emb, hot = by["skout embeddings"], by["skout one-hot"]

    def at_least_as_good(metric, higher_is_better):
        gap = emb[metric] - hot[metric]
        noise = max(emb[metric + " spread"], hot[metric + " spread"]) / 2
        return (gap if higher_is_better else -gap) >= -noise

    better = at_least_as_good("accuracy", True) and at_least_as_good("log-loss", False)
    faster = emb["fit (s)"] < hot["fit (s)"]
    return (
        f"Goal (1,000-level frame, means over {len(SEEDS)} seeds: embeddings score at least "
        "as well as one-hot, within the seeds' spread, at a lower fit time): "
        f"{'PASS' if better and faster else 'FAIL'} -- log-loss "
        f"{emb['log-loss']:.4f} vs {hot['log-loss']:.4f}, accuracy {emb['accuracy']:.4f} vs "
        f"{hot['accuracy']:.4f}, fit {emb['fit (s)']:.1f} s vs {hot['fit (s)']:.1f} s "
        f"({hot['fit (s)'] / emb['fit (s)']:.1f}x faster)."
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the synthetic frame")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    rows = []
    rows += run("penguins", "penguins", *penguins())
    rows += run(f"1,000-level item ({args.rows:,} rows)", "items", *high_cardinality(args.rows))
    text = table(rows)
    summary = verdict(rows)
    print(text)
    print(summary)
    if args.markdown:
        machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        args.markdown.write_text(
            f"# Categorical columns\n\n`python benchmarks/categorical.py --rows {args.rows}` "
            f"on {machine}, skout {skout.__version__}.\n\n{text}\n\n{summary}\n"
        )


if __name__ == "__main__":
    main()
