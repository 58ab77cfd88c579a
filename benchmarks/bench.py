"""Benchmark skout against scikit-learn's MLP and plain Keras, on the same data.

One run measures, for ``skout.AutoHeadClassifier``/``AutoHeadRegressor``,
``MLPClassifier``/``MLPRegressor`` and a plain ``keras.Sequential`` with the
same architecture:

* ``fit``     -- fit time at a fixed number of epochs on scikit-learn's bundled
  data sets and a multilabel set (skout cold and warm), with held-out scores;
* ``big``     -- fit time and accuracy on a 100,000 x 50 synthetic set;
* ``predict`` -- ``predict_proba`` latency on 1, 32, 1,000 and 100,000 rows;
* ``pickle``  -- pickle round trip plus the first ``predict_proba``;
* ``import``  -- import time in fresh processes, and whether TensorFlow loads;
* ``memory``  -- RSS growth over many consecutive fits, in a clean process;
* ``grid``    -- a grid over 10 widths of one depth in one process (cold: the
  compiled program is traced in the run), total time against MLP's;
* ``archs``   -- RSS over 200 fits cycling 50 dense architectures, and over 50
  distinct body architectures, each in a clean process;
* ``maxiter`` -- peak RSS of a fit with early stopping at ``max_iter=10**7``
  against ``max_iter=200``, each in a clean process.

It prints one table with the ratios skout/MLP and Keras/MLP and marks each
row that has a goal PASS or FAIL. See ``benchmarks/README.md``.

Usage::

    python benchmarks/bench.py                   # everything, 200 epochs
    python benchmarks/bench.py --quick           # smoke test, < 1 minute
    python benchmarks/bench.py --only fit,predict --markdown docs/benchmarks.md
"""

# ruff: noqa: E402
# (TF_CPP_MIN_LOG_LEVEL is set before any import that could load TensorFlow.)
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import datetime
import gc
import importlib.metadata
import json
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import psutil
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_linnerud,
    load_wine,
    make_classification,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

# Measure the skout of the checkout this script sits in, not an installed one,
# unless a comparison names another checkout (backends.py --trees).
_TREE = os.environ.get("SKOUT_BENCH_TREE") or str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, _TREE)

import skout
from skout import AutoHeadClassifier, AutoHeadRegressor
from skout.heads import choose_head

MIB = 1024.0**2
CASE_NAMES = ("fit", "big", "predict", "pickle", "import", "memory", "grid", "archs", "maxiter")
FIT_DATASETS = ("breast_cancer", "digits", "wine", "diabetes", "linnerud", "multilabel")
SUBPROCESS_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


# -- settings ----------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """Sizes and repeat counts of one run.

    Attributes
    ----------
    epochs : int
        Epochs of every fit of the ``fit`` case.
    big_rows, big_epochs : int
        Rows and epochs of the ``big`` case (``make_classification``, 50 features).
    warm_fits : int
        skout fits timed after the cold one (median reported).
    mlp_fits : int
        MLP fits timed per data set (median reported).
    predict_sizes : tuple of int
        Rows per ``predict_proba`` call in the ``predict`` case.
    timing_budget_s : float
        Seconds spent timing one latency measurement (after calibration).
    timing_repeats : int
        Repeats of a latency measurement (median reported).
    subprocess_repeats : int
        Fresh processes per import / fresh-load measurement (median reported).
    model_epochs : int
        Epochs of the digits models used by ``predict`` and ``pickle``
        (latency does not depend on how well they are trained).
    memory_fits_skout, memory_fits_keras, memory_epochs : int
        Consecutive fits (and their epochs) of the ``memory`` case.
    grid_epochs : int
        Epochs of each fit of the ``grid`` case.
    arch_fits, arch_count, body_count, arch_epochs : int
        Fits and distinct architectures of the ``archs`` case, and epochs.
    """

    epochs: int = 200
    big_rows: int = 100_000
    big_epochs: int = 20
    warm_fits: int = 3
    mlp_fits: int = 3
    predict_sizes: tuple[int, ...] = (1, 32, 1_000, 100_000)
    timing_budget_s: float = 0.7
    timing_repeats: int = 7
    subprocess_repeats: int = 3
    model_epochs: int = 20
    memory_fits_skout: int = 50
    memory_fits_keras: int = 20
    memory_epochs: int = 20
    grid_epochs: int = 100
    arch_fits: int = 200
    arch_count: int = 50
    body_count: int = 50
    arch_epochs: int = 5

    @classmethod
    def quick(cls):
        """Tiny settings for a smoke test of the whole script."""
        return cls(
            epochs=5,
            big_rows=2_000,
            big_epochs=5,
            warm_fits=2,
            mlp_fits=1,
            predict_sizes=(1, 32, 1_000, 2_000),
            timing_budget_s=0.1,
            timing_repeats=3,
            subprocess_repeats=1,
            model_epochs=2,
            memory_fits_skout=4,
            memory_fits_keras=3,
            memory_epochs=2,
            grid_epochs=5,
            arch_fits=8,
            arch_count=4,
            body_count=3,
            arch_epochs=1,
        )

    @property
    def gated_predict_sizes(self):
        """Sizes whose latency has a goal: 1, 32 and the largest."""
        return {1, 32, max(self.predict_sizes)}


# -- one row of the result table ---------------------------------------------
@dataclass
class Row:
    """One line of the result table.

    Attributes
    ----------
    case : str
        Which case produced it.
    measure : str
        What is measured, with its unit.
    skout, mlp, keras : float, str or None
        The three measurements (None: not measured).
    digits : int
        Decimals shown for float measurements.
    scores : tuple of float, optional
        Held-out score of skout, MLP and Keras.
    goal : str
        The goal this row is checked against ("" if none).
    passed : bool or None
        Whether the goal is met (None: no goal).
    """

    case: str
    measure: str
    skout: float | str | None
    mlp: float | str | None = None
    keras: float | str | None = None
    digits: int = 3
    scores: tuple[float, float, float] | None = None
    goal: str = ""
    passed: bool | None = None


def error_row(case, exc):
    """The row that stands for a case that raised ``exc``."""
    message = " ".join(f"{type(exc).__name__}: {exc}".split())
    return Row(case, f"ERROR {message[:150]}", None, goal="case runs", passed=False)


def ratio(value, reference):
    """``value / reference``, or None when either is not a positive number."""
    numbers = all(isinstance(v, (int, float)) for v in (value, reference))
    if not numbers or reference <= 0:
        return None
    return value / reference


def ratio_goal(row, limit=1.0):
    """``row`` with the goal "skout/MLP <= limit" filled in and checked."""
    r = ratio(row.skout, row.mlp)
    return replace(row, goal=f"skout/MLP <= {limit:g}", passed=None if r is None else r <= limit)


# -- data ----------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    """A train/test split, X standard-scaled on the training part.

    Attributes
    ----------
    name : str
    kind : {"classifier", "regressor"}
    X_train, X_test, y_train, y_test : ndarray
    """

    name: str
    kind: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray

    @property
    def batch_size(self):
        """``min(200, n_train)``: scikit-learn's ``batch_size="auto"``."""
        return min(200, len(self.X_train))

    @property
    def label(self):
        """Name with the training shape, for the table."""
        n, d = self.X_train.shape
        return f"{self.name} ({n}x{d})"


def _raw_data(name, big_rows):
    loaders = {
        "breast_cancer": lambda: (*load_breast_cancer(return_X_y=True), "classifier"),
        "digits": lambda: (*load_digits(return_X_y=True), "classifier"),
        "wine": lambda: (*load_wine(return_X_y=True), "classifier"),
        "diabetes": lambda: (*load_diabetes(return_X_y=True), "regressor"),
        "linnerud": lambda: (*load_linnerud(return_X_y=True), "regressor"),
        "multilabel": lambda: (
            *make_multilabel_classification(
                n_samples=1000, n_features=20, n_classes=5, random_state=0
            ),
            "classifier",
        ),
        "synthetic": lambda: (
            *make_classification(n_samples=big_rows, n_features=50, random_state=0),
            "classifier",
        ),
    }
    return loaders[name]()


def load_dataset(name, big_rows=100_000):
    """Load ``name``, split 75/25 with ``random_state=0`` and scale X.

    Parameters
    ----------
    name : str
        One of :data:`FIT_DATASETS` or ``"synthetic"`` (the ``big`` set).
    big_rows : int, default=100_000
        Rows of the synthetic set.

    Returns
    -------
    Dataset
    """
    X, y, kind = _raw_data(name, big_rows)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return Dataset(name, kind, X_train, X_test, y_train, y_test)


def rows_like(X, n):
    """``n`` rows cycled from ``X`` (C-contiguous float64)."""
    return np.ascontiguousarray(np.take(X, np.arange(n) % len(X), axis=0), dtype=np.float64)


# -- the three contenders --------------------------------------------------------
_ESTIMATORS = {
    ("skout", "classifier"): AutoHeadClassifier,
    ("skout", "regressor"): AutoHeadRegressor,
    ("mlp", "classifier"): MLPClassifier,
    ("mlp", "regressor"): MLPRegressor,
}


def make_exact_epochs(family, kind, epochs, batch_size):
    """skout or scikit-learn's MLP, set to run exactly ``epochs`` epochs.

    One set of parameters serves both: skout keeps the MLP's names and meanings.
    """
    return _ESTIMATORS[family, kind](
        hidden_layer_sizes=(100,),
        max_iter=epochs,
        n_iter_no_change=epochs,
        tol=0.0,
        batch_size=batch_size,
        random_state=0,
    )


def make_skout(kind, epochs, batch_size):
    """A skout estimator that runs exactly ``epochs`` epochs."""
    return make_exact_epochs("skout", kind, epochs, batch_size)


def make_mlp(kind, epochs, batch_size):
    """An MLPClassifier/MLPRegressor that runs exactly ``epochs`` epochs."""
    return make_exact_epochs("mlp", kind, epochs, batch_size)


def import_keras():
    """Import Keras (TensorFlow backend) on first use."""
    import keras

    return keras


class KerasBaseline:
    """Plain Keras with skout's head: what a user would write by hand.

    ``keras.Sequential([Input, Dense(100, relu), Dense(units, activation)])``
    compiled with ``Adam(learning_rate=1e-3, epsilon=1e-8)`` and the head's
    loss, trained with ``model.fit`` and run with ``model.predict``. Targets
    are encoded as the loss needs (class indices, 0/1, indicator matrix, or
    standardised values for regression) and decoded for scoring.

    Parameters
    ----------
    head : skout.heads.Head
        The head skout chose for the target (one output layer).
    epochs : int
        Epochs of ``model.fit``.
    batch_size : int
        Batch size of ``model.fit``.
    """

    def __init__(self, head, epochs, batch_size):
        if len(head.outputs) != 1:
            raise ValueError(f"KerasBaseline needs a single-output head, got {head!r}.")
        self.head = head
        self.epochs = epochs
        self.batch_size = batch_size

    def _encode(self, y):
        kind = self.head.target_type
        if not self.head.is_classifier:
            y2 = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
            self.mean_, std = y2.mean(axis=0), y2.std(axis=0)
            self.scale_ = np.where(std > 0, std, 1.0)
            return ((y2 - self.mean_) / self.scale_).astype(np.float32)
        if kind == "multilabel-indicator":
            return np.asarray(y, dtype=np.float32)
        self.classes_, indices = np.unique(y, return_inverse=True)
        return indices.astype(np.float32)

    def build(self, n_features):
        """A fresh compiled model for ``n_features`` inputs."""
        keras = import_keras()
        model = keras.Sequential(
            [
                keras.Input(shape=(n_features,)),
                keras.layers.Dense(100, activation="relu"),
                keras.layers.Dense(self.head.units, activation=self.head.activation),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8),
            loss=self.head.loss,
        )
        return model

    def fit(self, X, y):
        """Build a fresh model and train it on ``X``, ``y``; returns self."""
        self.y_ndim_ = np.ndim(y)
        target = self._encode(y)
        self.model_ = self.build(X.shape[1])
        self.model_.fit(X, target, epochs=self.epochs, batch_size=self.batch_size, verbose=0)
        return self

    def predict_proba(self, X):
        """The network's output, ``model.predict(X, verbose=0)``."""
        return self.model_.predict(X, verbose=0)

    def predict(self, X):
        """Labels (or values) decoded from the network's output."""
        out = self.predict_proba(X)
        if not self.head.is_classifier:
            values = out * self.scale_ + self.mean_
            return values.ravel() if self.y_ndim_ == 1 else values
        if self.head.target_type == "multilabel-indicator":
            return (out >= 0.5).astype(int)
        if self.head.units == 1:
            return self.classes_[(out[:, 0] > 0.5).astype(int)]
        return self.classes_[out.argmax(axis=1)]

    def score(self, X, y):
        """Accuracy (subset accuracy for multilabel) or R^2, as scikit-learn."""
        metric = accuracy_score if self.head.is_classifier else r2_score
        return float(metric(y, self.predict(X)))


# -- timing helpers -----------------------------------------------------------------
@contextmanager
def quiet_fits():
    """Silence the warning that fixed-epoch fits did not converge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def timed(fn):
    """Run ``fn()`` once after a ``gc.collect()``; return (seconds, result)."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def loop_plan(fn, budget_s, repeats):
    """How to time ``fn``: (calls per repeat, repeats), ``timeit``-style.

    One warm-up call, then one timed call to size the loop: each repeat runs
    enough calls to fill ``budget_s / repeats`` seconds (at least one call;
    fewer repeats, but at least 3, when a single call is slow).
    """
    fn()
    one = max(timed(fn)[0], 1e-9)
    number = max(1, int(budget_s / (repeats * one)))
    if number == 1:
        repeats = max(3, min(repeats, int(budget_s / one)))
    return number, repeats


def per_call_ms(fns, budget_s, repeats):
    """Median milliseconds per call of each callable, repeats interleaved.

    Each callable gets a warm-up call and its own loop size
    (:func:`loop_plan`); then the repeats run round-robin, one loop of each
    callable per round, so that background load hits all of them alike.

    Parameters
    ----------
    fns : dict of str to callable
        Called with no arguments.
    budget_s : float
        Seconds the timing of one callable should take in all.
    repeats : int
        Repeats when a call is fast.

    Returns
    -------
    dict of str to float
        Median over the repeats of the mean milliseconds per call.
    """
    plans = {name: loop_plan(fn, budget_s, repeats) for name, fn in fns.items()}
    seconds = {name: [] for name in fns}
    for round_ in range(max(r for _, r in plans.values())):
        gc.collect()
        for name, fn in fns.items():
            number, reps = plans[name]
            if round_ < reps:
                seconds[name].append(timeit.Timer(fn).timeit(number) / number)
    return {name: 1e3 * statistics.median(t) for name, t in seconds.items()}


def run_python(args, timeout=600):
    """Run ``python ARGS`` in a fresh process; return (seconds, stdout)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=SUBPROCESS_ENV,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def last_json_line(stdout):
    """The JSON object printed on the last line of ``stdout``."""
    return json.loads(stdout.strip().splitlines()[-1])


# -- shared fitted models ---------------------------------------------------------------
class Workspace:
    """What several cases share, built on first use.

    Parameters
    ----------
    settings : Settings
    """

    def __init__(self, settings):
        self.settings = settings
        self._process_warm = False

    def warm_up_process(self):
        """Pay the process's one-time TensorFlow costs before any timed fit.

        Imports Keras and runs one tiny skout fit and one tiny Keras fit on
        a 2-feature problem (an architecture no case uses), so that the
        first timed fit of each contender does not carry runtime start-up.
        """
        if self._process_warm:
            return
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(16, 2)), np.arange(16) % 2
        with quiet_fits():
            skout_model = make_skout("classifier", 1, 8).fit(X, y)
        KerasBaseline(skout_model.head_, epochs=1, batch_size=8).fit(X, y).predict(X)
        self._process_warm = True

    @cached_property
    def digits(self):
        """The digits data set, split and scaled."""
        return load_dataset("digits")

    @cached_property
    def digits_models(self):
        """skout, MLP and Keras fitted on digits (``model_epochs`` epochs).

        Returns
        -------
        dict
            ``{"skout": ..., "mlp": ..., "keras": ...}``.
        """
        data, epochs = self.digits, self.settings.model_epochs
        with quiet_fits():
            sk = make_skout(data.kind, epochs, data.batch_size).fit(data.X_train, data.y_train)
            mlp = make_mlp(data.kind, epochs, data.batch_size).fit(data.X_train, data.y_train)
        keras_model = KerasBaseline(sk.head_, epochs, data.batch_size)
        keras_model.fit(data.X_train, data.y_train)
        return {"skout": sk, "mlp": mlp, "keras": keras_model}


# -- case: fit ----------------------------------------------------------------------
@dataclass(frozen=True)
class FitTimes:
    """Fit seconds and held-out scores of the three contenders on one set."""

    skout_cold: float
    skout_warm: float
    mlp: float
    keras: float
    scores: tuple[float, float, float]


def forget_compiled_trainers():
    """Drop skout's cached compiled training functions, so the next fit is cold."""
    from skout._engine import clear_cache

    clear_cache()


def compare_fit(data, epochs, warm_fits, mlp_fits):
    """Time skout (cold, then warm), MLP and plain Keras on ``data``.

    Parameters
    ----------
    data : Dataset
    epochs : int
        Epochs of every fit; none stops early.
    warm_fits : int
        skout fits after the cold one; their median is the warm time.
    mlp_fits : int
        MLP fits, interleaved with the warm skout fits; their median is reported.

    Returns
    -------
    FitTimes
    """
    X, y = data.X_train, data.y_train

    def skout_fit():
        return make_skout(data.kind, epochs, data.batch_size).fit(X, y)

    def mlp_fit():
        return make_mlp(data.kind, epochs, data.batch_size).fit(X, y)

    with quiet_fits():
        forget_compiled_trainers()
        cold, sk = timed(skout_fit)
        warm, mlp_times, mlp = [], [], None
        for i in range(max(warm_fits, mlp_fits)):  # interleaved, so noise hits both
            if i < warm_fits:
                warm.append(timed(skout_fit)[0])
            if i < mlp_fits:
                seconds, mlp = timed(mlp_fit)
                mlp_times.append(seconds)
    baseline = KerasBaseline(sk.head_, epochs, data.batch_size)
    keras_time, _ = timed(lambda: baseline.fit(X, y))
    scores = tuple(float(m.score(data.X_test, data.y_test)) for m in (sk, mlp, baseline))
    return FitTimes(
        cold, statistics.median(warm), statistics.median(mlp_times), keras_time, scores
    )


def fit_rows(case, label, epochs, times):
    """The cold and warm table rows for one :class:`FitTimes`."""
    common = dict(mlp=times.mlp, keras=times.keras, scores=times.scores)
    return [
        ratio_goal(Row(case, f"{label}, {epochs} ep: fit cold (s)", times.skout_cold, **common)),
        ratio_goal(Row(case, f"{label}, {epochs} ep: fit warm (s)", times.skout_warm, **common)),
    ]


def case_fit(settings, workspace):
    """Fixed-epoch fits on the bundled data sets and the multilabel set."""
    workspace.warm_up_process()
    rows = []
    for name in FIT_DATASETS:
        data = load_dataset(name)
        times = compare_fit(data, settings.epochs, settings.warm_fits, settings.mlp_fits)
        rows += fit_rows("fit", data.label, settings.epochs, times)
        progress(f"fit {name}: {times}")
    return rows


def case_big(settings, workspace):
    """Fit time and accuracy on the large synthetic classification set."""
    workspace.warm_up_process()
    data = load_dataset("synthetic", big_rows=settings.big_rows)
    times = compare_fit(data, settings.big_epochs, warm_fits=1, mlp_fits=1)
    progress(f"big: {times}")
    return fit_rows("big", data.label, settings.big_epochs, times)


# -- case: predict ---------------------------------------------------------------------
def case_predict(settings, workspace):
    """``predict_proba`` latency of the digits models on 1 .. 100,000 rows."""
    models = workspace.digits_models
    X_all = np.vstack([workspace.digits.X_train, workspace.digits.X_test])
    rows = []
    for n in settings.predict_sizes:
        X = rows_like(X_all, n)
        fns = {name: (lambda m=model, X=X: m.predict_proba(X)) for name, model in models.items()}
        ms = per_call_ms(fns, settings.timing_budget_s, settings.timing_repeats)
        row = Row("predict", f"digits-shaped, {n:,} rows: predict_proba (ms)", **ms)
        rows.append(ratio_goal(row) if n in settings.gated_predict_sizes else row)
        progress(f"predict {n}: {ms}")
    return rows


# -- case: pickle -------------------------------------------------------------------------
_FRESH_LOAD_CODE = """
import json, pickle, sys, time
import numpy as np
x = np.load(sys.argv[2])
start = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    model = pickle.load(f)
model.predict_proba(x)
ms = 1e3 * (time.perf_counter() - start)
print(json.dumps({"ms": ms, "tensorflow": "tensorflow" in sys.modules}))
"""


def roundtrip_fn(model, x_row):
    """A callable doing ``pickle.loads(pickle.dumps(model))`` then one predict."""
    if isinstance(model, KerasBaseline):
        model = model.model_

    def roundtrip():
        clone = pickle.loads(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        if hasattr(clone, "predict_proba"):
            return clone.predict_proba(x_row)
        return clone.predict(x_row, verbose=0)

    return roundtrip


def fresh_load(model, x_row, repeats, folder):
    """Median ms of unpickle + first ``predict_proba`` in fresh processes, and TF use.

    The time includes the imports ``pickle.load`` triggers (NumPy is
    imported before the clock starts).

    Returns
    -------
    (float, bool)
        Milliseconds, and whether ``tensorflow`` was in ``sys.modules`` after.
    """
    model_path, x_path = Path(folder) / "model.pkl", Path(folder) / "x.npy"
    model_path.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    np.save(x_path, x_row)
    runs = [
        last_json_line(run_python(["-c", _FRESH_LOAD_CODE, str(model_path), str(x_path)])[1])
        for _ in range(repeats)
    ]
    return statistics.median(r["ms"] for r in runs), any(r["tensorflow"] for r in runs)


def case_pickle(settings, workspace):
    """Pickle round trip + first ``predict_proba`` on one row (digits models)."""
    models = workspace.digits_models
    x_row = rows_like(workspace.digits.X_test, 1)
    fns, ms = {}, {}
    for name, model in models.items():
        fn = roundtrip_fn(model, x_row)
        try:
            fn()
            fns[name] = fn
        except Exception as exc:  # Keras models may not pickle in some versions.
            ms[name] = f"n/a ({type(exc).__name__}: {exc})"[:60]
    ms.update(per_call_ms(fns, settings.timing_budget_s, settings.timing_repeats))
    roundtrip = Row("pickle", "digits: pickle round trip + predict_proba(1 row) (ms)", **ms)
    roundtrip = replace(
        roundtrip,
        goal="skout <= 5 ms",
        passed=isinstance(ms["skout"], float) and ms["skout"] <= 5.0,
    )
    fresh, uses_tf = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for name in ("skout", "mlp"):  # Keras: seconds of TensorFlow import; not run
            fresh[name], tf_loaded = fresh_load(
                models[name], x_row, settings.subprocess_repeats, folder
            )
            uses_tf[name] = "yes" if tf_loaded else "no"
    progress(f"pickle: {ms}, fresh process {fresh}, TF {uses_tf}")
    return [
        roundtrip,
        Row("pickle", "digits: fresh process, unpickle + predict_proba (ms)", **fresh, digits=1),
        Row("pickle", "digits: TensorFlow loaded by unpickle + predict", **uses_tf),
    ]


# -- case: import ----------------------------------------------------------------------
def import_run(module):
    """Import ``module`` in a fresh process.

    Returns
    -------
    (float, bool)
        Wall seconds of the whole ``python -c`` run (interpreter start-up
        included), and whether ``tensorflow`` was in ``sys.modules`` after.
    """
    code = f"import {module}; import sys; print('tensorflow' in sys.modules)"
    seconds, stdout = run_python(["-c", code])
    return seconds, stdout.strip() == "True"


def case_import(settings, workspace):
    """Import time of skout vs ``sklearn.neural_network``, and TensorFlow use."""
    modules = {"skout": "skout", "mlp": "sklearn.neural_network"}
    runs = {k: [] for k in modules}
    for _ in range(settings.subprocess_repeats):  # interleaved, so noise hits both
        for k, module in modules.items():
            runs[k].append(import_run(module))
    seconds = {k: statistics.median(s for s, _ in r) for k, r in runs.items()}
    loads_tf = {k: "yes" if any(tf for _, tf in r) else "no" for k, r in runs.items()}
    progress(f"import: {seconds}, TF {loads_tf}")
    return [
        Row(
            "import",
            "python -c 'import skout' vs 'import sklearn.neural_network' (s)",
            **seconds,
            goal="skout <= MLP + 0.3 s",
            passed=seconds["skout"] <= seconds["mlp"] + 0.3,
        ),
        Row(
            "import",
            "tensorflow in sys.modules after the import",
            **loads_tf,
            goal="skout: no",
            passed=loads_tf["skout"] == "no",
        ),
    ]


# -- case: memory ------------------------------------------------------------------------
def rss_mib():
    """Resident set size of this process, MiB."""
    return psutil.Process().memory_info().rss / MIB


def peak_rss_mib():
    """Peak resident set size of this process so far, MiB.

    Reads ``VmHWM`` from ``/proc/self/status``. ``ru_maxrss`` would be wrong
    in a subprocess: Linux carries the parent's peak across fork and exec.
    Elsewhere it falls back to ``ru_maxrss`` (KiB on Linux).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def memory_worker(library, fits, epochs):
    """Fit ``fits`` fresh models on digits and record RSS (run in a subprocess).

    Parameters
    ----------
    library : {"skout", "keras"}
    fits : int
    epochs : int

    Returns
    -------
    dict
        ``rss_start``, ``rss_first`` (after the first fit), ``rss_last``,
        ``peak`` (MiB) and ``fits``.
    """
    data = load_dataset("digits")
    head = choose_head(data.y_train, estimator="classifier")
    start = rss_mib()
    readings = []
    for _ in range(fits):
        if library == "skout":
            with quiet_fits():
                model = make_skout(data.kind, epochs, data.batch_size)
                model.fit(data.X_train, data.y_train)
        else:
            model = KerasBaseline(head, epochs, data.batch_size).fit(data.X_train, data.y_train)
        del model
        gc.collect()
        readings.append(rss_mib())
    return {
        "rss_start": start,
        "rss_first": readings[0],
        "rss_last": readings[-1],
        "peak": peak_rss_mib(),
        "fits": fits,
    }


def run_memory_worker(library, fits, epochs):
    """:func:`memory_worker` in a fresh process of this script."""
    args = [__file__, "--memory-worker", library, "--memory-fits", str(fits)]
    _, stdout = run_python([*args, "--epochs", str(epochs)])
    return last_json_line(stdout)


def case_memory(settings, workspace):
    """RSS growth over consecutive fits: skout vs plain Keras ``model.fit``."""
    fits = {"skout": settings.memory_fits_skout, "keras": settings.memory_fits_keras}
    stats = {lib: run_memory_worker(lib, n, settings.memory_epochs) for lib, n in fits.items()}
    growth = {lib: s["rss_last"] - s["rss_first"] for lib, s in stats.items()}
    per_fit = {lib: growth[lib] / max(1, fits[lib] - 1) for lib in fits}
    progress(f"memory: {stats}")
    label = f"digits, {settings.memory_epochs} ep, fresh model each fit"
    return [
        Row(
            "memory",
            f"{label}: RSS after 1st fit (MiB)",
            skout=stats["skout"]["rss_first"],
            keras=stats["keras"]["rss_first"],
            digits=1,
        ),
        Row(
            "memory",
            f"{label}: RSS growth, fit 1 -> {fits['skout']} skout / {fits['keras']} Keras (MiB)",
            skout=growth["skout"],
            keras=growth["keras"],
            digits=1,
            goal="skout < 50 MiB",
            passed=growth["skout"] < 50.0,
        ),
        Row(
            "memory",
            f"{label}: RSS growth per fit (MiB)",
            skout=per_fit["skout"],
            keras=per_fit["keras"],
            digits=2,
        ),
        Row(
            "memory",
            f"{label}: peak RSS of the process (MiB)",
            skout=stats["skout"]["peak"],
            keras=stats["keras"]["peak"],
            digits=1,
        ),
    ]


# -- cases: the engine (grids, many architectures, huge max_iter) -------------------
GRID_WIDTHS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
GRID_DATASETS = ("wine", "digits")


def grid_estimator(family, kind, width, epochs, batch_size):
    est = make_exact_epochs(family, kind, epochs, batch_size)
    return est.set_params(hidden_layer_sizes=(width,))


def case_grid(settings, workspace):
    """A grid over 10 widths of one depth, cold (traced in the run), vs MLP."""
    workspace.warm_up_process()
    rows = []
    for name in GRID_DATASETS:
        data = load_dataset(name)
        X, y = data.X_train, data.y_train
        totals = {"skout": 0.0, "mlp": 0.0}
        with quiet_fits():
            forget_compiled_trainers()
            for width in GRID_WIDTHS:  # interleaved, so noise hits both
                for family in totals:
                    est = grid_estimator(family, data.kind, width, settings.grid_epochs,
                                         data.batch_size)  # fmt: skip
                    totals[family] += timed(lambda est=est, X=X, y=y: est.fit(X, y))[0]
        progress(f"grid {name}: {totals}")
        label = f"{data.label}, {len(GRID_WIDTHS)} widths x {settings.grid_epochs} ep"
        rows.append(ratio_goal(Row("grid", f"{label}: total fit, cold (s)", totals["skout"],
                                   mlp=totals["mlp"])))  # fmt: skip
    return rows


def arch_list(count):
    """``count`` distinct dense architectures of depth 1 and 2."""
    widths = [8 + 4 * i for i in range(-(-count // 2))]
    archs = [(w,) for w in widths] + [(w, max(2, w // 2)) for w in widths]
    return archs[:count]


def body_list(count):
    """``count`` distinct Keras bodies (each its own compiled program)."""
    import keras

    return [
        keras.Sequential([keras.layers.Dense(4 + i, activation="relu"),
                          keras.layers.Dense(8, activation="relu")])
        for i in range(count)
    ]  # fmt: skip


def arch_worker(kind, fits, count, epochs):
    """RSS over ``fits`` fits cycling ``count`` architectures (a subprocess).

    ``kind`` is "dense" (``hidden_layer_sizes``) or "body" (``body=``).
    Returns ``rss_first`` (after the first fit), ``rss_last``, ``peak`` (MiB),
    and the median seconds of the first and last ``count // 4`` fits.
    """
    data = load_dataset("digits")
    X, y = data.X_train, data.y_train
    archs = arch_list(count) if kind == "dense" else list(range(count))
    readings, seconds = [], []
    for i in range(fits):
        if kind == "dense":
            est = make_skout(data.kind, epochs, data.batch_size)
            est.set_params(hidden_layer_sizes=archs[i % count])
        else:
            est = make_skout(data.kind, epochs, data.batch_size)
            est.set_params(body=_bodies(count)[i % count])
        with quiet_fits():
            seconds.append(timed(lambda est=est: est.fit(X, y))[0])
        del est
        gc.collect()
        readings.append(rss_mib())
    k = max(1, count // 4)
    return {
        "rss_first": readings[0],
        "rss_last": readings[-1],
        "peak": peak_rss_mib(),
        "first_s": statistics.median(seconds[:k]),
        "last_s": statistics.median(seconds[-k:]),
    }


_BODIES = {}


def _bodies(count):
    if count not in _BODIES:
        _BODIES[count] = body_list(count)
    return _BODIES[count]


def case_archs(settings, workspace):
    """RSS growth over many architectures: dense widths/depths, then bodies."""
    rows = []
    for kind, fits, count in (
        ("dense", settings.arch_fits, settings.arch_count),
        ("body", settings.body_count, settings.body_count),
    ):
        args = [__file__, "--engine-worker", f"arch:{kind}:{fits}:{count}",
                "--epochs", str(settings.arch_epochs)]  # fmt: skip
        stats = last_json_line(run_python(args, timeout=1800)[1])
        progress(f"archs {kind}: {stats}")
        growth = stats["rss_last"] - stats["rss_first"]
        label = f"digits, {fits} fits cycling {count} {kind} architectures"
        rows += [
            Row("archs", f"{label}: RSS growth, fit 1 -> {fits} (MiB)", growth, digits=1,
                goal="skout < 50 MiB", passed=growth < 50.0),
            Row("archs", f"{label}: median fit (s), first / last {max(1, count // 4)} fits",
                f"{stats['first_s']:.3f} / {stats['last_s']:.3f}"),
        ]  # fmt: skip
    return rows


def maxiter_worker(max_iter):
    """Peak RSS of one early-stopping fit on digits at ``max_iter`` (a subprocess)."""
    data = load_dataset("digits")
    est = make_skout(data.kind, 10, data.batch_size).set_params(
        max_iter=max_iter, early_stopping=True, n_iter_no_change=5, tol=1e-4
    )
    with quiet_fits():
        est.fit(data.X_train, data.y_train)
    return {"peak": peak_rss_mib(), "n_iter": est.n_iter_}


def case_maxiter(settings, workspace):
    """Peak RSS at max_iter=10**7 vs 200, early stopping, clean processes."""
    peaks = {}
    for max_iter in (200, 10**7):
        args = [__file__, "--engine-worker", f"maxiter:{max_iter}"]
        peaks[max_iter] = last_json_line(run_python(args)[1])
    progress(f"maxiter: {peaks}")
    extra = peaks[10**7]["peak"] - peaks[200]["peak"]
    return [
        Row("maxiter", "digits, early stopping: peak RSS at max_iter=200 (MiB)",
            peaks[200]["peak"], digits=1),
        Row("maxiter", f"digits, early stopping: peak RSS at max_iter=10**7 minus at 200 (MiB), "
            f"{peaks[10**7]['n_iter']} epochs run", extra, digits=1,
            goal="skout < 50 MiB", passed=extra < 50.0),
    ]  # fmt: skip


def engine_worker(spec, epochs):
    """Run the worker ``spec`` names ("arch:KIND:FITS:COUNT" or "maxiter:N")."""
    name, *parts = spec.split(":")
    if name == "arch":
        kind, fits, count = parts[0], int(parts[1]), int(parts[2])
        return arch_worker(kind, fits, count, epochs)
    return maxiter_worker(int(parts[0]))


CASES = {
    "fit": case_fit,
    "big": case_big,
    "predict": case_predict,
    "pickle": case_pickle,
    "import": case_import,
    "memory": case_memory,
    "grid": case_grid,
    "archs": case_archs,
    "maxiter": case_maxiter,
}


# -- the report ------------------------------------------------------------------------------
COLUMNS = (
    "Case",
    "Measure",
    "skout",
    "MLP",
    "Keras",
    "skout/MLP",
    "Keras/MLP",
    "Score skout / MLP / Keras",
    "Goal",
    "Result",
)


def format_value(value, digits):
    """A measurement as text: numbers rounded, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def row_cells(row):
    """The text cells of ``row``, in :data:`COLUMNS` order."""
    ratios = [ratio(row.skout, row.mlp), ratio(row.keras, row.mlp)]
    scores = "-" if row.scores is None else " / ".join(f"{s:.3f}" for s in row.scores)
    result = {True: "PASS", False: "FAIL", None: ""}[row.passed]
    return [
        row.case,
        row.measure,
        *(format_value(v, row.digits) for v in (row.skout, row.mlp, row.keras)),
        *("-" if r is None else f"{r:.2f}" for r in ratios),
        scores,
        row.goal,
        result,
    ]


def text_table(rows):
    """``rows`` as an aligned plain-text table."""
    cells = [list(COLUMNS), *(row_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows):
    """``rows`` as a Markdown (GitHub) table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def cpu_model():
    """The CPU model name from /proc/cpuinfo (or ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name):
    """Installed version of distribution ``name``, or ``"not installed"``."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def skout_source():
    """skout's git commit (``+modified`` if its files differ), if in a checkout."""
    folder = Path(skout.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"git {commit}{' +modified' if changes else ''}"


def thread_settings():
    """BLAS thread pools NumPy uses, and the thread variables set in the env."""
    from threadpoolctl import threadpool_info

    pools = [f"{p['prefix']} {p['num_threads']} threads" for p in threadpool_info()]
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    names += ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
    env = [f"{n}={os.environ[n]}" for n in names if n in os.environ]
    return ", ".join(pools + env) or "default"


def environment_lines(settings, argv, started):
    """Header lines: start date, command, machine, versions and settings."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    ram = psutil.virtual_memory().total / 1024.0**3
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": package_version("scikit-learn"),
        "keras": package_version("keras"),
        "tensorflow": package_version("tensorflow"),
        "skout": f"{skout.__version__} ({skout_source()})",
    }
    return [
        f"Date: {started.isoformat(timespec='seconds')}",
        f"Command: python benchmarks/bench.py {' '.join(argv)}".rstrip(),
        f"Machine: {cpu_model()}, {os.cpu_count()} cores ({usable} usable), {ram:.1f} GiB RAM",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"Threads: {thread_settings()}",
        f"Settings: {settings}",
    ]


def summary_lines(rows):
    """How many goals passed, and which failed."""
    gated = [r for r in rows if r.passed is not None]
    failed = [r for r in gated if not r.passed]
    lines = [f"Goals met: {len(gated) - len(failed)} of {len(gated)}."]
    lines += [f"FAIL: [{r.case}] {r.measure} ({r.goal})" for r in failed]
    lines.append(f"Peak RSS of the benchmark process: {peak_rss_mib():.0f} MiB.")
    return lines


def markdown_report(header, rows, footer):
    """The whole Markdown document."""
    parts = ["# skout benchmarks", "", *(f"- {line}" for line in header), ""]
    parts += [markdown_table(rows), "", *(f"{line}  " for line in footer), ""]
    parts += ["See `benchmarks/README.md` for what each column means.", ""]
    return "\n".join(parts)


def progress(message):
    """A progress line on stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- command line -----------------------------------------------------------------------------
def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark skout against scikit-learn's MLP and plain Keras."
    )
    parser.add_argument("--epochs", type=int, help="epochs of the fit case (default 200)")
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke test")
    parser.add_argument(
        "--only",
        type=lambda s: [c.strip() for c in s.split(",") if c.strip()],
        default=list(CASE_NAMES),
        metavar="CASE[,CASE]",
        help=f"cases to run, of {', '.join(CASE_NAMES)} (default: all)",
    )
    parser.add_argument("--markdown", metavar="PATH", help="also write the table here")
    parser.add_argument("--memory-worker", choices=("skout", "keras"), help=argparse.SUPPRESS)
    parser.add_argument("--memory-fits", type=int, default=50, help=argparse.SUPPRESS)
    parser.add_argument("--engine-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(CASE_NAMES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; choose from {', '.join(CASE_NAMES)}")
    return args


def make_settings(args):
    """The :class:`Settings` the command line asks for."""
    settings = Settings.quick() if args.quick else Settings()
    if args.epochs is not None:
        settings = replace(settings, epochs=args.epochs)
    return settings


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.memory_worker:
        epochs = args.epochs if args.epochs is not None else 20
        print(json.dumps(memory_worker(args.memory_worker, args.memory_fits, epochs)))
        return 0
    if args.engine_worker:
        epochs = args.epochs if args.epochs is not None else 5
        print(json.dumps(engine_worker(args.engine_worker, epochs)))
        return 0
    settings = make_settings(args)
    started = datetime.datetime.now().astimezone()
    workspace = Workspace(settings)
    rows, failed = [], []
    for name in (c for c in CASE_NAMES if c in args.only):
        gc.collect()
        start = time.perf_counter()
        try:
            rows += CASES[name](settings, workspace)
        except Exception as exc:  # report it, and still run the other cases
            traceback.print_exc()
            failed.append(name)
            rows.append(error_row(name, exc))
        progress(f"case {name} done in {time.perf_counter() - start:.1f} s")
    header, footer = environment_lines(settings, argv, started), summary_lines(rows)
    print("\n".join([*header, "", text_table(rows), "", *footer]))
    if args.markdown:
        Path(args.markdown).write_text(markdown_report(header, rows, footer))
        progress(f"wrote {args.markdown}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
