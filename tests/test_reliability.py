"""Reliability: bad input, divergence, concurrency, persistence and memory.

The bad-input catalogue is one table, ``BAD_INPUT``; docs/bad_input.md is the
same table for users and must be kept in step with it.
"""

from __future__ import annotations

import gc
import pickle
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import joblib
import numpy as np
import pandas as pd
import psutil
import pytest
import scipy.sparse as sp

import skout
from skout import AutoHeadClassifier, AutoHeadRegressor

TINY = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
ESTIMATORS = {"clf": AutoHeadClassifier, "reg": AutoHeadRegressor}

_rng = np.random.RandomState(0)
X = _rng.randn(40, 3)
Y_CLF = np.where(X[:, 0] > 0, "yes", "no")
Y_REG = X @ np.array([1.5, -2.0, 0.5]) + 3.0
Y_MMO = np.column_stack([(X[:, 0] > 0).astype(int), np.digitize(X[:, 1], [-0.5, 0.5])])
FRAME = pd.DataFrame(X, columns=["a", "b", "c"])
#: What each estimator is trained on before a predict / score case runs.
TRAINING = {
    "clf": (X, Y_CLF),
    "reg": (X, Y_REG),
    "mmo": (X, Y_MMO),
    "clf-frame": (FRAME, Y_CLF),
    "clf-body": (X, Y_CLF),
    "one-hot": (X, np.eye(3, dtype=int)[np.digitize(X[:, 1], [-0.5, 0.5])]),
}
# issue 21: a category column, and a body with two named inputs
FRAME_CATEGORY = FRAME.assign(c=pd.Categorical(np.where(X[:, 2] > 0, "up", "down")))
TRAINING["clf-category"] = (FRAME_CATEGORY, Y_CLF)
Y_MULTILABEL = (X > 0).astype(int)
Y_FRAME_MIXED = pd.DataFrame({"colour": Y_CLF, "size": Y_MMO[:, 1]})


def _with(a, i, value, dtype=float):
    a = np.array(a, dtype=dtype)
    a.flat[i] = value
    return a


_FITTED: dict = {}


def _two_input_body(input_shapes):
    import keras

    a, b = keras.Input((2,), name="a"), keras.Input((1,), name="b")
    return keras.Model([a, b], keras.layers.Concatenate()([a, keras.layers.Dense(2)(b)]))


def _two_inputs(**change):
    return skout.Inputs({"a": X[:, :2], "b": X[:, 2:], **change})


FRAME_AB = pd.DataFrame(X[:, :2], columns=["p", "q"])
TRAINING["clf-inputs-frame"] = (skout.Inputs(a=FRAME_AB, b=X[:, 2:]), Y_CLF)


def _fitted(trained_on):
    """A tiny estimator trained on TRAINING[trained_on], fitted once."""
    if trained_on not in _FITTED:
        Est = AutoHeadRegressor if trained_on == "reg" else AutoHeadClassifier
        params = {"body": skout.KerasBody(_dense_body)} if trained_on == "clf-body" else {}
        if trained_on == "clf-inputs-frame":
            params = {"body": skout.KerasBody(_two_input_body)}
        _FITTED[trained_on] = Est(**TINY, **params).fit(*TRAINING[trained_on])
    return _FITTED[trained_on]


# -- checks for the inputs that are accepted ---------------------------------
def _same_as_float_fit(est):
    """Fitted on a converted X: identical to the fit on the float array."""
    reference = _fitted("clf")
    np.testing.assert_array_equal(est.predict_proba(X), reference.predict_proba(X))


def _regressor_predicts_finite(est):
    pred = est.predict(X)
    assert pred.shape == (len(X),)
    assert np.all(np.isfinite(pred))


def _score_counts_unseen_labels_wrong(y_true):
    def check(score):
        expected = np.mean(_fitted("clf").predict(X) == y_true)
        assert 0.0 <= score <= 1.0
        assert score == pytest.approx(expected)

    return check


def _score_is(value):
    def check(score):
        assert score == value

    return check


def _same_predictions_as(X_reference, trained_on):
    def check(pred):
        np.testing.assert_array_equal(pred, _fitted(trained_on).predict(X_reference))

    return check


class Case(NamedTuple):
    """One bad (or odd) input and what skout does with it."""

    est: str  # "clf" or "reg"
    where: str  # "fit", "predict", "predict_proba" or "score"
    X: Any
    y: Any = None
    raises: type | None = ValueError  # None: the call succeeds
    match: str = ""  # regex on the error message, or on the warning when it succeeds
    params: dict = {}  # hyperparameters on top of TINY
    fit_kw: dict = {}  # e.g. sample_weight
    trained_on: str | None = None  # TRAINING key for predict/score; default est
    check: Callable | None = None  # for accepted inputs: check(result)


def _sparse_case(est, where, X_sparse, y=None, check=None):
    """Accepted (same result as dense) if the estimator's tags say so, else refused."""
    if ESTIMATORS[est]().__sklearn_tags__().input_tags.sparse:
        return Case(est, where, X_sparse, y, raises=None, check=check)
    return Case(est, where, X_sparse, y, raises=TypeError, match="dense data is required.*toarray")


# -- helpers for the cases added with issue 13 ---------------------------------------
X4 = np.column_stack([X, X[:, 0] * X[:, 1]])  # 4 features: a 2 x 2 x 1 "image" flattened
Y_ONE_HOT_BROKEN = np.eye(3)[np.arange(40) % 3]
Y_ONE_HOT_BROKEN[5] = [1, 1, 0]  # one corrupted row


def _dense_body(input_shape):
    import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(3, activation="relu")])


def _two_output_body(input_shape):
    import keras

    inputs = keras.Input(input_shape)
    return keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(2)(inputs)])


def _unregistered_layer_body(input_shape):
    import keras

    class Twice(keras.layers.Layer):  # defined here, never registered
        def call(self, x):
            return 2.0 * x

    return keras.Sequential([keras.Input(input_shape), Twice(), keras.layers.Dense(2)])


def _image_body(input_shape):
    import keras

    return keras.Sequential(
        [keras.Input((2, 2, 1)), keras.layers.Conv2D(2, 1), keras.layers.Flatten()]
    )


def _conv_body(input_shape):
    import keras

    return keras.Sequential(
        [keras.Input(input_shape), keras.layers.Conv2D(2, 1), keras.layers.Flatten()]
    )


def _int32_body(input_shape):
    import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(2, dtype="int32")])


def _body(build_fn):
    return {"body": skout.KerasBody(build_fn), "hidden_layer_sizes": (100,)}


def _pickle_with(trained_on, change):
    """Bytes of a pickled fitted model whose saved state ``change`` altered."""

    class Saved:
        def __init__(self, cls, state):
            self.cls, self.state = cls, state

        def __reduce__(self):
            return object.__new__, (self.cls,), self.state

    def make():
        est = _fitted(trained_on)
        state = pickle.loads(pickle.dumps(est.__getstate__()))
        change(state)
        return pickle.dumps(Saved(type(est), state))

    return make


def _in_other_estimator(trained_on, Est):
    """Bytes of a pickled fitted model whose saved state loads into ``Est``."""

    def make():
        state = pickle.loads(pickle.dumps(_fitted(trained_on).__getstate__()))

        class Saved:
            def __reduce__(self):
                return object.__new__, (Est,), state

        return pickle.dumps(Saved())

    return make


def _fitted_part(*path, value):
    """A change that sets ``_fitted_state[path...]`` to ``value``."""

    def change(state):
        target = state["_fitted_state"]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value(target[path[-1]]) if callable(value) else value

    return change


def _drop_last_slot(state):
    state["_fitted_state"]["optimizer_state"].pop()


def _set_format(value):
    return lambda state: state.update(_skout_format=value)


def _shrink_first_kernel(state):
    state["_fitted_state"]["weights"][0] = state["_fitted_state"]["weights"][0][:2]


def _predicts_finite_large(est):
    pred = est.predict(X)
    assert np.all(np.isfinite(pred)) and np.abs(pred).max() > 1e12


def _trained_epochs(n):
    def check(est):
        assert est.n_iter_ == n

    return check


def _multilabel_head(est):
    assert est.head_.target_type == "multilabel-indicator"


def _fitted_ok(est):
    assert est.predict(X).shape[0] == len(X)


def _categorical_mask(mask):
    def check(est):
        np.testing.assert_array_equal(est.is_categorical_, mask)

    return check


def _finite_proba(proba):
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)


_UNSEEN = np.where(np.arange(40) % 2 == 0, "maybe", Y_CLF)
_UNSEEN_LABELS = np.where(np.arange(40) % 3 == 0, "maybe", Y_CLF)
_MIXED = "Cannot read the target as class labels.*one label type"
_MISSING_Y = r"y has no value \(NaN, None or NA\) in 1 row\(s\), e\.g\. rows \[\d\].*dropna"
_NAN_COLUMN = FRAME.assign(b=FRAME["b"].where(FRAME["b"] < 1.0))

# fmt: off
BAD_INPUT = {
    # -- NaN / inf -------------------------------------------------------------
    "X-nan-predict_proba": Case("clf", "predict_proba", _with(X, 7, np.nan),
                                match="Input X contains NaN"),
    "X-neg-inf-score": Case("reg", "score", _with(X, 3, -np.inf), Y_REG,
                            match="Input X contains infinity"),
    "X-nan-in-dataframe-fit": Case("clf", "fit", _NAN_COLUMN, Y_CLF,
                                   match="Input X contains NaN"),
    "X-None-in-object-array-fit": Case("clf", "fit", _with(X, 0, None, object), Y_CLF,
                                       match="Input X contains NaN"),
    "y-inf-fit": Case("reg", "fit", X, _with(Y_REG, 4, np.inf),
                      match="Input y contains infinity"),
    "y-nan-label-fit": Case("clf", "fit", X, _with(Y_CLF, 4, np.nan, object),
                            match=_MISSING_Y),
    "y-None-regressor-fit": Case("reg", "fit", X, _with(Y_REG, 4, None, object),
                                 match=_MISSING_Y),
    "y-pandas-string-NA-fit": Case("clf", "fit", X,
                                   pd.Series(_with(Y_CLF, 4, None, object), dtype="string"),
                                   match=_MISSING_Y),
    "y-nan-score": Case("clf", "score", X, _with(Y_CLF, 2, np.nan, object), match="NaN"),
    "y-nan-score-multioutput": Case("clf", "score", X, _with(Y_MMO, 2, np.nan),
                                    trained_on="mmo", match="NaN"),
    "sample_weight-nan-fit": Case("clf", "fit", X, Y_CLF,
                                  fit_kw={"sample_weight": _with(np.ones(40), 1, np.nan)},
                                  match="Input sample_weight contains NaN"),
    "sample_weight-inf-fit": Case("reg", "fit", X, Y_REG,
                                  fit_kw={"sample_weight": _with(np.ones(40), 1, np.inf)},
                                  match="Input sample_weight contains infinity"),
    "sample_weight-all-zero-fit": Case("reg", "fit", X, Y_REG,
                                       fit_kw={"sample_weight": np.zeros(40)},
                                       match="(?i)at least one non-zero"),
    # -- what X holds ------------------------------------------------------------
    "X-object-array-of-numbers-fit": Case("clf", "fit", X.astype(object), Y_CLF, raises=None,
                                          check=_same_as_float_fit),
    "X-numeric-strings-fit": Case("clf", "fit", X.astype(str), Y_CLF, raises=None,
                                  check=_same_as_float_fit),
    "X-list-of-lists-predict": Case("clf", "predict", X.tolist(), raises=None,
                                    check=_same_predictions_as(X, "clf")),
    "X-strings-fit": Case("clf", "fit", np.array([["red", "s", "x"]] * 40), Y_CLF,
                          match=r"text in column\(s\) \[0, 1, 2\].*categorical_features="
                                r"\[0, 1, 2\]"),
    "X-string-column-in-dataframe-fit": Case(
        "clf", "fit", FRAME.assign(c="red"), Y_CLF,
        match=r"text in column\(s\) \['c'\].*X\['c'\] = X\['c'\]\.astype\('category'\)"),
    "X-strings-predict": Case("reg", "predict", np.array([["1.0", "red", "2.0"]]),
                              match=r"text in column\(s\) \[1\].*declare them and refit"),
    "X-complex-fit": Case("reg", "fit", X.astype(complex), Y_REG,
                          match="Complex data not supported"),
    # -- what y holds ------------------------------------------------------------
    "y-mixed-str-float-fit": Case("clf", "fit", X, _with(Y_CLF, 5, 1.5, object), match=_MIXED),
    "y-mixed-float-first-fit": Case("clf", "fit", X, _with(Y_CLF, 0, 1.5, object), match=_MIXED),
    "y-mixed-str-None-fit": Case("clf", "fit", X, _with(Y_CLF, 5, None, object),
                                 match=_MISSING_Y),
    "y-mixed-str-bool-fit": Case("clf", "fit", X, _with(Y_CLF, 5, True, object), match=_MIXED),
    "y-mixed-regressor-fit": Case("reg", "fit", X, _with(Y_REG, 0, "high", object),
                                  match="could not convert string to float"),
    # -- dimensions ----------------------------------------------------------------
    "X-3d-fit": Case("clf", "fit", X.reshape(40, 3, 1), Y_CLF, match="(?i)dim 3.*reshape"),
    "X-3d-predict": Case("reg", "predict", X.reshape(40, 3, 1),
                         match="(?i)dim 3.*reshape"),
    "X-1d-fit": Case("reg", "fit", X[:, 0], Y_REG,
                     match="Expected 2D array, got 1D array(?s:.*)reshape"),
    "X-1d-row-predict": Case("clf", "predict", X[0],
                             match="Expected 2D array, got 1D array(?s:.*)reshape"),
    "X-scalar-predict": Case("clf", "predict", 5.0,
                             match="Expected 2D array, got scalar array(?s:.*)reshape"),
    # -- lengths ---------------------------------------------------------------------
    "sample_weight-length-fit": Case("reg", "fit", X, Y_REG, fit_kw={"sample_weight": np.ones(39)},
                                     match=r"sample_weight.shape == \(39,\), expected \(40,\)"),
    "y-length-score": Case("clf", "score", X, Y_CLF[:-1],
                           match="inconsistent numbers of samples"),
    "y-length-score-multioutput": Case("clf", "score", X, Y_MMO[:-1], trained_on="mmo",
                                       match="inconsistent numbers of samples"),
    "y-columns-score-multioutput": Case("clf", "score", X, Y_MMO[:, :1], trained_on="mmo",
                                        match="(?i)column|output"),
    "sample_weight-length-score-multioutput": Case("clf", "score", X, Y_MMO, trained_on="mmo",
                                                   fit_kw={"sample_weight": np.ones(3)},
                                                   match="(?i)sample_weight|inconsistent"),
    # -- empty and tiny data -----------------------------------------------------------
    "X-no-rows-predict": Case("clf", "predict", X[:0], match=r"0 sample\(s\)"),
    "X-no-columns-fit": Case("reg", "fit", X[:, :0], Y_REG, match=r"0 feature\(s\)"),
    "single-row-classifier-fit": Case("clf", "fit", X[:1], Y_CLF[:1], match="only one class"),
    "single-row-regressor-fit": Case("reg", "fit", X[:1], Y_REG[:1], raises=None,
                                     check=_regressor_predicts_finite),
    "single-row-early-stopping-fit": Case("reg", "fit", X[:1], Y_REG[:1],
                                          params={"early_stopping": True},
                                          match="n_samples=1.*train set will be empty"),
    "one-class-column-vector-fit": Case("clf", "fit", X, np.full((40, 1), "only"),
                                        match="only one class"),
    "one-class-in-one-output-fit": Case("clf", "fit", X, np.column_stack([Y_MMO[:, 0],
                                                                          np.full(40, 3)]),
                                        match="column 1 of y has only one class"),
    # -- labels never seen in fit ----------------------------------------------------------
    "unseen-labels-score": Case("clf", "score", X, np.full(40, "maybe"), raises=None,
                                check=_score_is(0.0)),
    "some-unseen-labels-score": Case("clf", "score", X, _UNSEEN, raises=None,
                                     check=_score_counts_unseen_labels_wrong(_UNSEEN)),
    "unseen-labels-score-multioutput": Case("clf", "score", X, Y_MMO + 7, trained_on="mmo",
                                            raises=None, check=_score_is(0.0)),
    # -- sparse ------------------------------------------------------------------------------
    "sparse-X-fit": _sparse_case("clf", "fit", sp.csr_matrix(X), Y_CLF,
                                 check=_same_as_float_fit),
    "sparse-X-predict": _sparse_case("reg", "predict", sp.csr_array(X),
                                     check=_same_predictions_as(X, "reg")),
    # -- pandas ------------------------------------------------------------------------------
    "dataframe-reordered-columns-predict": Case(
        "clf", "predict", FRAME[["c", "a", "b"]], trained_on="clf-frame",
        match="Feature names must be in the same order"),
    "dataframe-renamed-column-predict": Case(
        "clf", "predict", FRAME.rename(columns={"b": "B"}), trained_on="clf-frame",
        match="Feature names unseen at fit time:\n- B"),
    "dataframe-extra-column-predict": Case(
        "clf", "predict", FRAME.assign(d=1.0), trained_on="clf-frame",
        match="Feature names unseen at fit time:\n- d"),
    "ndarray-for-dataframe-model-predict": Case(
        "clf", "predict", X, trained_on="clf-frame", raises=None,
        match="X does not have valid feature names",
        check=_same_predictions_as(FRAME, "clf-frame")),
    # -- hyperparameters ----------------------------------------------------------------------
    "alpha-string": Case("clf", "fit", X, Y_CLF, params={"alpha": "big"},
                         match="'alpha' parameter"),
    "alpha-nan": Case("reg", "fit", X, Y_REG, params={"alpha": float("nan")},
                      match="'alpha' parameter"),
    "batch_size-zero": Case("reg", "fit", X, Y_REG, params={"batch_size": 0},
                            match="'batch_size' parameter"),
    "hidden_layer_sizes-empty-list": Case("clf", "fit", X, Y_CLF,
                                          params={"hidden_layer_sizes": []}, raises=None,
                                          check=_fitted_ok),
    "hidden_layer_sizes-zero": Case("clf", "fit", X, Y_CLF, params={"hidden_layer_sizes": (4, 0)},
                                    match=r"positive ints \(\(\) for no hidden layer\)"),
    "hidden_layer_sizes-float": Case("clf", "fit", X, Y_CLF,
                                     params={"hidden_layer_sizes": (4.5,)},
                                     match="hidden_layer_sizes"),
    "hidden_layer_sizes-string": Case("reg", "fit", X, Y_REG,
                                      params={"hidden_layer_sizes": ("4",)},
                                      match="hidden_layer_sizes"),
    "validation_fraction-above-1": Case("clf", "fit", X, Y_CLF,
                                        params={"validation_fraction": 1.5},
                                        match="'validation_fraction' parameter"),
    "learning_rate_init-inf": Case("reg", "fit", X, Y_REG,
                                   params={"learning_rate_init": float("inf")},
                                   match="'learning_rate_init' parameter"),
    "max_iter-float": Case("clf", "fit", X, Y_CLF, params={"max_iter": 2.5},
                           match="'max_iter' parameter"),
    # -- class_weight gets sample_weight's checks (issue 13) ----------------------------------
    "class_weight-negative-fit": Case("clf", "fit", X, Y_CLF,
                                      params={"class_weight": {"yes": -1.0, "no": 1.0}},
                                      match=r"class_weight\['yes'\] is -1.0.*>= 0"),
    "class_weight-all-zero-fit": Case("clf", "fit", X, Y_CLF,
                                      params={"class_weight": {"yes": 0.0, "no": 0.0}},
                                      match="0 for every sample.*at least one non-zero"),
    "class_weight-nan-fit": Case("clf", "fit", X, Y_CLF,
                                 params={"class_weight": {"yes": np.nan, "no": 1.0}},
                                 match="finite and >= 0"),
    "class_weight-inf-fit": Case("clf", "fit", X, Y_CLF,
                                 params={"class_weight": {"yes": np.inf, "no": 1.0}},
                                 match="finite and >= 0"),
    "class_weight-unknown-class-fit": Case("clf", "fit", X, Y_CLF,
                                           params={"class_weight": {"yes": 2.0, "maybe": 1.0}},
                                           match=r"\['maybe'\] that are not in the target"),
    "class_weight-string-value-fit": Case("clf", "fit", X, Y_CLF,
                                          params={"class_weight": {"yes": "big"}},
                                          match="not a number"),
    "class_weight-two-dicts-one-output-fit": Case("clf", "fit", X, Y_CLF,
                                                  params={"class_weight": [{"yes": 1}, {"no": 1}]},
                                                  match=r"2 dict\(s\) for a target with 1"),
    "class_weight-one-dict-multilabel-fit": Case("clf", "fit", X, (X > 0).astype(int),
                                        params={"class_weight": {0: 2.0}},
                                        match=r"1 dict\(s\) for a target with 3 output"),
    "sample_weight-underflows-float32-fit": Case("clf", "fit", X, Y_CLF,
                                                 fit_kw={"sample_weight": np.full(40, 1e-46)},
                                                 match="beyond what float32"),
    "sample_weight-overflows-float32-fit": Case("reg", "fit", X, Y_REG,
                                                fit_kw={"sample_weight": np.full(40, 1e39)},
                                                match="beyond what float32"),
    "sample_weight-negative-fit": Case("reg", "fit", X, Y_REG,
                                       fit_kw={"sample_weight": _with(np.ones(40), 3, -1.0)},
                                       match="(?i)negative"),
    # -- partial_fit ----------------------------------------------------------------------
    "partial_fit-classes-for-one-of-two-columns": Case(
        "clf", "partial_fit", X, Y_MMO, fit_kw={"classes": [[0, 1]]},
        match="2 columns but classes has 1"),
    "partial_fit-classes-too-many-entries": Case(
        "clf", "partial_fit", X, Y_MMO, fit_kw={"classes": [[0, 1], [0, 1, 2], [5, 6]]},
        match="2 columns but classes has 3"),
    "partial_fit-classes-flat-for-two-columns": Case(
        "clf", "partial_fit", X, Y_MMO, fit_kw={"classes": [0, 1, 2]},
        match="one array of labels per column.*flat list"),
    "partial_fit-classes-nested-for-one-column": Case(
        "clf", "partial_fit", X, Y_CLF, fit_kw={"classes": [["yes", "no"], ["no"]]},
        match="classes must be a 1-D array"),
    "partial_fit-no-classes": Case("clf", "partial_fit", X, Y_CLF,
                                   match="classes must be passed on the first call"),
    "partial_fit-label-not-in-classes": Case("clf", "partial_fit", X, Y_CLF,
                                             fit_kw={"classes": ["yes", "maybe"]},
                                             match="labels the model was not fitted on"),
    "partial_fit-class_weight-one-class-column": Case(
        "clf", "partial_fit", X, np.full((40, 1), "yes"), raises=None,
        params={"class_weight": {"yes": 2.0, "no": 1.0}}, fit_kw={"classes": ["yes", "no"]},
        check=_trained_epochs(1)),
    "partial_fit-balanced-class_weight": Case("clf", "partial_fit", X, Y_CLF,
                                              params={"class_weight": "balanced"},
                                              fit_kw={"classes": ["yes", "no"]},
                                              match="'balanced' needs the whole target"),
    "partial_fit-early-stopping": Case("reg", "partial_fit", X, Y_REG,
                                       params={"early_stopping": True},
                                       match="partial_fit does not support early_stopping"),
    # -- warm_start on a fitted model -------------------------------------------------------
    "warm_start-binary_head-changed-refit": Case("clf", "warm-refit", X, Y_CLF,
                                                 params={"binary_head": "softmax"},
                                                 match="binary_head='softmax'.*would change"),
    "warm_start-loss-changed-refit": Case("reg", "warm-refit", X, Y_REG,
                                          params={"loss": "huber"},
                                          match="loss='huber'.*would change"),
    "warm_start-standardize_target-changed-refit": Case(
        "reg", "warm-refit", X, Y_REG, params={"standardize_target": False},
        match="standardize_target=False.*would change"),
    "warm_start-new-classes-refit": Case("clf", "warm-refit", X, _UNSEEN_LABELS,
                                         match="same classes"),
    "warm_start-more-features-refit": Case("clf", "warm-refit", X4, Y_CLF,
                                           match="X has 4 features.*expecting 3"),
    "warm_start-same-parameters-refit": Case("clf", "warm-refit", X, Y_CLF, raises=None,
                                             check=_trained_epochs(5)),
    "warm_start-multilabel-after-one-hot-refit": Case(
        "clf", "warm-refit", X, Y_MULTILABEL, trained_on="one-hot",
        match="one-hot head .* Declare the target's kind up front.*'multilabel-indicator'"),
    # -- the kind of target (issues 23 and 24) ------------------------------------------------
    "target_type-one-hot-for-multilabel-fit": Case(
        "clf", "fit", X, Y_MULTILABEL, params={"target_type": "one-hot"},
        match=r"target_type='one-hot' was declared.*rows \[.*\] hold \[.*\] ones"),
    "y-sparse-multilabel-fit": Case("clf", "fit", X, sp.csr_matrix(Y_MULTILABEL), raises=None,
                                    check=_multilabel_head),
    "y-object-ints-fit": Case("clf", "fit", X, Y_MMO[:, 1].astype(object), raises=None,
                              check=_fitted_ok),
    "y-object-bools-fit": Case("clf", "fit", X, (X[:, 0] > 0).astype(object), raises=None,
                               check=_fitted_ok),
    "y-frame-string-and-int-columns-fit": Case("clf", "fit", X, Y_FRAME_MIXED, raises=None,
                                               check=_fitted_ok),
    "y-frame-column-mixing-types-fit": Case(
        "clf", "fit", X, Y_FRAME_MIXED.assign(size=_with(Y_MMO[:, 1], 3, "big", object)),
        match=r"column 1 of y mixes label types \(\['int', 'str'\]\)"),
    "score-multioutput-labels-as-strings": Case("clf", "score", X, Y_MMO.astype(str),
                                                trained_on="mmo",
                                                match="Mix of label input types"),
    "class_weight-list-of-one-dict-fit": Case("clf", "fit", X, Y_CLF,
                                              params={"class_weight": [{"yes": 2.0, "no": 1.0}]},
                                              raises=None, check=_fitted_ok),
    "sample_weight_val-overflows-float32-fit": Case(
        "reg", "fit", X, Y_REG, params={"early_stopping": True},
        fit_kw={"X_val": X, "y_val": Y_REG, "sample_weight_val": np.full(40, 1e39)},
        match=r"validation weights \(sample_weight_val\) range from 1e\+39"),
    # -- targets float32 training cannot resolve ---------------------------------------------
    "y-near-float64-max-fit": Case("reg", "fit", X, Y_REG * 1.2e307,
                                   match="within a factor of 10 of the largest float64"),
    "y-1e307-fit": Case("reg", "fit", X, Y_REG * 1.8e306, raises=None,
                        check=_predicts_finite_large),
    "y-beyond-float32-unstandardized-fit": Case("reg", "fit", X, Y_REG * 1e38,
                                                params={"standardize_target": False},
                                                match="standardize_target=False.*float32"),
    "y-1e15-lbfgs-unstandardized-fit": Case("reg", "fit", X, Y_REG * 1e14,
                                            params={"solver": "lbfgs",
                                                    "standardize_target": False},
                                            match="standardize_target=False.*float32"),
    "y-1e15-standardized-fit": Case("reg", "fit", X, Y_REG * 1e14, raises=None,
                                    check=_predicts_finite_large),
    "one-hot-with-a-corrupted-row-fit": Case("clf", "fit", X, Y_ONE_HOT_BROKEN, raises=None,
                                             match=r"exactly one 1 except row\(s\) \[5\]",
                                             check=_multilabel_head),
    # -- device and callbacks ------------------------------------------------------------------
    "device-banana-fit": Case("clf", "fit", X, Y_CLF, params={"device": "banana"},
                              match="not a device name.*'/CPU:0'"),
    "device-gpu-not-there-fit": Case("clf", "fit", X, Y_CLF, params={"device": "/GPU:7"},
                                     match="no GPU:7.*sees"),
    "device-cpu-fit": Case("clf", "fit", X, Y_CLF, params={"device": "/CPU:0"}, raises=None,
                           check=_fitted_ok),
    "callbacks-string-fit": Case("clf", "fit", X, Y_CLF, params={"callbacks": ["x"]},
                                 match="keras.callbacks.Callback instances"),
    # -- bodies --------------------------------------------------------------------------------
    "body-two-outputs-fit": Case("clf", "fit", X, Y_CLF, params=_body(_two_output_body),
                                 match="2 outputs.*Concatenate"),
    "body-unregistered-layer-fit": Case("clf", "fit", X, Y_CLF,
                                        params=_body(_unregistered_layer_body),
                                        match="register_keras_serializable"),
    "body-flat-X-for-image-body-fit": Case("clf", "fit", X4, Y_CLF, params=_body(_image_body),
                                           match=r"expects samples of shape \(2, 2, 1\).*reshape"),
    "body-flat-X-for-conv-fit": Case("clf", "fit", X4, Y_CLF, params=_body(_conv_body),
                                     match=r"could not be built for samples of shape \(4,\)"),
    "body-int32-layer-fit": Case("clf", "fit", X, Y_CLF, params=_body(_int32_body),
                                 match="computes in int32"),
    "body-not-a-model-fit": Case("clf", "fit", X, Y_CLF, params={"body": "resnet"},
                                 raises=TypeError, match="body must be a keras.Model"),
    "body-builder-unexpected-keyword-fit": Case(
        "clf", "fit", X, Y_CLF, params={"body": skout.KerasBody(_dense_body, units=3)},
        raises=TypeError, match="could not be built.*unexpected keyword argument 'units'"),
    "body-parameter-hides-build-set_params": Case(
        "clf", "set_params", None, params={"body": skout.KerasBody(_dense_body)},
        fit_kw={"body__build": 3}, match="Invalid parameter 'build' for KerasBody"),
    "body-X-beyond-float32-predict": Case("clf", "predict", _with(X, 0, 1e39),
                                          trained_on="clf-body",
                                          match="beyond float32's range"),
    # -- loading saved models ------------------------------------------------------------------
    "pickle-format-True-load": Case("clf", "load", _pickle_with("clf", _set_format(True)),
                                    match="storage format True"),
    "pickle-format-float-load": Case("clf", "load", _pickle_with("clf", _set_format(2.0)),
                                     match="storage format 2.0"),
    "pickle-format-string-load": Case("clf", "load", _pickle_with("clf", _set_format("2")),
                                      match="storage format '2'"),
    "pickle-weights-wrong-shape-load": Case("clf", "load",
                                            _pickle_with("clf", _shrink_first_kernel),
                                            match="weights have shapes"),
    "pickle-missing-encoder-load": Case(
        "reg", "load", _pickle_with("reg", lambda s: s["_fitted_state"].pop("encoder")),
        match=r"misses \['encoder'\]"),
    # -- tampered saved states (issue 23, finding 13) --------------------------------------------
    "pickle-classes-unsorted-load": Case(
        "clf", "load", _pickle_with("clf", _fitted_part("encoder", "classes",
                                                        value=lambda c: c[::-1].copy())),
        match="classes are not sorted and unique"),
    "pickle-classes-duplicate-load": Case(
        "clf", "load", _pickle_with("clf", _fitted_part("encoder", "classes",
                                                        value=np.array(["no", "no"]))),
        match="classes are not sorted and unique"),
    "pickle-target-type-swapped-load": Case(
        "clf", "load", _pickle_with("clf", _fitted_part("head", "target_type",
                                                        value="multilabel-indicator")),
        match="decoding 'binary threshold' is not a 'multilabel-indicator' target's"),
    "pickle-scale-zero-load": Case(
        "reg", "load", _pickle_with("reg", _fitted_part("encoder", "scale",
                                                        value=np.array([0.0]))),
        match=r"scale is not > 0"),
    "pickle-classifier-state-in-regressor-load": Case(
        "reg", "load", _in_other_estimator("clf", AutoHeadRegressor),
        match="holds a classifier's state .* for a regression estimator"),
    "pickle-unknown-decoding-load": Case(
        "clf", "load", _pickle_with("clf", _fitted_part("head", "decoding", value="magic")),
        match="decoding 'magic' is not"),
    "pickle-negative-dropout-load": Case(
        "clf", "load", _pickle_with("clf", _fitted_part("spec", "dropout", value=-0.5)),
        match=r"dropout rate is -0.5, outside \[0, 1\)"),
    "pickle-predict-attribute-load": Case(
        "clf", "load", _pickle_with("clf", lambda state: state.update(predict="hijacked")),
        match="sets 'predict', which would hide AutoHeadClassifier's own 'predict'"),
    "pickle-optimizer-state-cut-load": Case(
        "clf", "load", _pickle_with("clf", _drop_last_slot),
        match="optimizer state does not"),
    # -- categorical columns (issue 21) --------------------------------------------------------
    "X-category-column-fit": Case("clf", "fit", FRAME_CATEGORY, Y_CLF, raises=None,
                                  check=_categorical_mask([False, False, True])),
    "X-unseen-and-missing-category-predict_proba": Case(
        "clf", "predict_proba", FRAME_CATEGORY.assign(c=pd.Categorical(["sideways", None] * 20)),
        trained_on="clf-category", raises=None, check=_finite_proba),
    "categorical_features-unknown-name-fit": Case(
        "clf", "fit", FRAME, Y_CLF, params={"categorical_features": ["colour"]},
        match="'colour' which is not a valid feature name"),
    "categorical_features-names-for-an-array-fit": Case(
        "clf", "fit", X, Y_CLF, params={"categorical_features": ["a"]},
        match="integers or as a boolean mask when the model is fitted on data without"),
    "categorical_features-index-out-of-range-fit": Case(
        "reg", "fit", X, Y_REG, params={"categorical_features": [3]},
        match=r"must be in \[0, n_features - 1\]"),
    "categorical-timestamps-fit": Case(
        "clf", "fit", FRAME.assign(c=pd.Categorical(pd.date_range("2024", periods=40))), Y_CLF,
        match="holds categories of type Timestamp.*astype\\(str\\)"),
    "categorical_features-changed-warm-refit": Case(
        "clf", "warm-refit", FRAME_CATEGORY, Y_CLF, params={"categorical_features": None},
        trained_on="clf-category",
        match=r"needs the same architecture.*categorical columns were \['c'\], they are now \[\]"),
    "X-category-as-codes-predict_proba": Case(
        "clf", "predict_proba", FRAME_CATEGORY.assign(c=FRAME_CATEGORY.c.cat.codes),
        trained_on="clf-category", raises=None, check=_finite_proba,
        match=r"'c' holds number values.*none of its values is a category"),
    "categorical_features-1-D-array-fit": Case(
        "clf", "fit", X[:, 0], Y_CLF, params={"categorical_features": [0]},
        match=r"2-D table X.*has shape \(40,\) \(one feature: X.reshape\(-1, 1\)\)"),
    "embedding_dim-not-a-categorical-column-fit": Case(
        "clf", "fit", FRAME_CATEGORY, Y_CLF, params={"embedding_dim": {"a": 2}},
        match=r"column 'a', which is not a categorical column; the categorical columns are"),
    # -- several named inputs (issue 21) ---------------------------------------------------------
    "Inputs-name-the-body-lacks-fit": Case(
        "clf", "fit", _two_inputs(c=X[:, :1]), Y_CLF, params=_body(_two_input_body),
        match=r"no input named 'c'; its inputs are \['a', 'b'\]"),
    "Inputs-body-input-without-data-fit": Case(
        "clf", "fit", skout.Inputs(a=X[:, :2]), Y_CLF, params=_body(_two_input_body),
        match=r"input 'b' gets no data"),
    "Inputs-arrays-of-different-lengths": Case(
        "clf", "call", lambda: _two_inputs(b=X[:-1, 2:]), match=r"a: 40, b: 39"),
    "Inputs-integer-index": Case("clf", "call", lambda: _two_inputs()[0], raises=TypeError,
                                 match=r"not by a single integer.*X\[\[0\]\]"),
    "Inputs-frame-columns-reordered-predict": Case(
        "clf", "predict", skout.Inputs(a=FRAME_AB[["q", "p"]], b=X[:, 2:]),
        trained_on="clf-inputs-frame",
        match=r"X\['a'\] has the columns \['q', 'p'\], but the model was fitted with"),
    "inputs-column-listed-twice-fit": Case(
        "clf", "fit", FRAME, Y_CLF,
        params={**_body(_two_input_body), "inputs": {"a": ["a", "b"], "b": ["b"]}},
        match=r"column 'b' is listed in 'a' and in 'b'"),
    "Inputs-with-inputs-mapping-fit": Case(
        "clf", "fit", _two_inputs(), Y_CLF,
        params={**_body(_two_input_body), "inputs": {"a": ["a", "b"], "b": ["c"]}},
        match="Leave inputs=None"),
    "Inputs-for-the-dense-network-fit": Case("clf", "fit", _two_inputs(), Y_CLF,
                                             match="need a body with those named"),
    "two-input-body-one-array-fit": Case(
        "clf", "fit", X, Y_CLF, params=_body(_two_input_body),
        match=r"2 inputs, \['a', 'b'\], but X is one array.*skout.Inputs\(a=..., b=...\)"),
    # -- validation data ------------------------------------------------------------------------
    "X_val-without-y_val-fit": Case("clf", "fit", X, Y_CLF, fit_kw={"X_val": X},
                                    match="X_val and y_val must be given together"),
    "X_val-with-lbfgs-fit": Case("reg", "fit", X, Y_REG, params={"solver": "lbfgs"},
                                 fit_kw={"X_val": X, "y_val": Y_REG},
                                 match="lbfgs.*does not score validation data"),
    "X_val-wrong-width-fit": Case("reg", "fit", X, Y_REG, fit_kw={"X_val": X4, "y_val": Y_REG},
                                  match="X has 4 features.*expecting 3"),
}
# fmt: on


def _call(case):
    if case.where == "load":
        return pickle.loads(case.X())
    if case.where == "call":
        return case.X()
    est = ESTIMATORS[case.est](**{**TINY, **case.params})
    if case.where == "fit":
        return est.fit(case.X, case.y, **case.fit_kw)
    if case.where == "partial_fit":
        return est.partial_fit(case.X, case.y, **case.fit_kw)
    if case.where == "set_params":
        return est.set_params(**case.fit_kw)
    if case.where == "warm-refit":
        est = ESTIMATORS[case.est](**TINY, warm_start=True)
        est.fit(*TRAINING[case.trained_on or case.est])
        return est.set_params(**case.params).fit(case.X, case.y, **case.fit_kw)
    est = _fitted(case.trained_on or case.est)
    if case.where == "score":
        return est.score(case.X, case.y, **case.fit_kw)
    return getattr(est, case.where)(case.X)


@pytest.mark.parametrize("case", list(BAD_INPUT.values()), ids=list(BAD_INPUT))
def test_bad_input(case):
    if case.raises is None:
        if case.match:
            with pytest.warns(UserWarning, match=case.match):
                result = _call(case)
        else:
            result = _call(case)
        case.check(result)
        return
    with pytest.raises(case.raises, match=case.match):
        _call(case)


def test_catalogue_document_lists_every_case():
    """docs/bad_input.md is written from BAD_INPUT: same ids, same count."""
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "bad_input.md").read_text()
    ids = re.findall(r"^\| `([^`]+)` \|", doc, flags=re.M)
    assert sorted(ids) == sorted(BAD_INPUT)
    assert f"{len(BAD_INPUT)} cases" in doc


@pytest.mark.parametrize("Est, y", [(AutoHeadClassifier, Y_CLF), (AutoHeadRegressor, Y_REG)])
def test_sparse_input_is_handled_as_the_tags_say(Est, y):
    accepts_sparse = Est().__sklearn_tags__().input_tags.sparse
    if accepts_sparse:
        est = Est(**TINY).fit(sp.csr_matrix(X), y)
        np.testing.assert_array_equal(est.predict(sp.csr_matrix(X)), est.predict(X))
    else:
        with pytest.raises((TypeError, ValueError), match="dense"):
            Est(**TINY).fit(sp.csr_matrix(X), y)


# -- divergence and overflow -----------------------------------------------------
@pytest.mark.parametrize(
    "solver, learning_rate",
    [("sgd", 10.0), ("sgd", 1e4), ("adam", 1e4), ("adam", 1e8)],
)
@pytest.mark.parametrize("standardize", [True, False])
def test_huge_learning_rate_is_a_divergence_error_or_a_finite_model(
    solver, learning_rate, standardize
):
    """Whatever the epoch training blows up in: a clear error, or a usable model."""
    for max_iter in range(1, 7):
        reg = AutoHeadRegressor(
            hidden_layer_sizes=(4,),
            solver=solver,
            learning_rate_init=learning_rate,
            max_iter=max_iter,
            standardize_target=standardize,
            random_state=0,
        )
        try:
            reg.fit(X, Y_REG)
        except ValueError as exc:
            assert "diverged" in str(exc)
            assert "learning_rate_init" in str(exc)  # says what to change
            continue
        assert np.all(np.isfinite(reg.loss_curve_)), f"max_iter={max_iter}"
        pred = reg.predict(X)  # a fit that returned must give finite predictions
        assert np.all(np.isfinite(pred)), f"max_iter={max_iter}: non-finite predictions"


OVERFLOW_MODELS = {
    "binary-sigmoid": (AutoHeadClassifier, {}, Y_CLF),
    "binary-softmax": (AutoHeadClassifier, {"binary_head": "softmax"}, Y_CLF),
    "multiclass-identity": (AutoHeadClassifier, {"activation": "identity"}, Y_MMO[:, 1]),
    "multilabel": (AutoHeadClassifier, {}, (X > 0).astype(int)),
    "multioutput": (AutoHeadClassifier, {}, Y_MMO),
    "regressor": (AutoHeadRegressor, {}, Y_REG * 1e4),
    "regressor-tanh": (AutoHeadRegressor, {"activation": "tanh"}, Y_REG),
}


@pytest.fixture(scope="module")
def overflow_models():
    return {
        name: Est(**{**TINY, **params}).fit(X, y)
        for name, (Est, params, y) in OVERFLOW_MODELS.items()
    }


# NumPy's overflow RuntimeWarnings on the way are expected; the result is checked.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", list(OVERFLOW_MODELS))
@pytest.mark.parametrize("magnitude", [1e150, 1e305, np.finfo(np.float64).max])
def test_overflowing_inputs_give_a_clear_error_or_valid_outputs(overflow_models, name, magnitude):
    est = overflow_models[name]
    signs = np.array([[1, 1, 1], [1, -1, 1], [-1, 1, -1], [-1, -1, -1]])
    X_huge = signs * magnitude
    is_classifier = hasattr(est, "predict_proba")
    try:
        out = est.predict_proba(X_huge) if is_classifier else est.predict(X_huge)
    except ValueError as exc:
        assert "non-finite" in str(exc)
        return
    for p in out if isinstance(out, list) else [out]:
        assert np.all(np.isfinite(p)), f"{name} at {magnitude:g}: {p}"
        if is_classifier:
            assert np.all((p >= 0) & (p <= 1))


@pytest.mark.parametrize("magnitude", [1e160, 1e250])
def test_regressor_on_a_huge_scale_target_predicts_finite_values_or_refuses(magnitude):
    """float64 holds these targets; their variance (|y|**2) overflows it."""
    reg = AutoHeadRegressor(**TINY)
    try:
        reg.fit(X, Y_REG * magnitude)
    except ValueError as exc:
        assert re.search("(?i)scale|large|overflow", str(exc))
        return
    pred = reg.predict(X)
    assert np.all(np.isfinite(pred)), f"scale_={reg._encoder.scale_}, predictions {pred[:3]}"


# -- concurrency -----------------------------------------------------------------
def _outputs(est, rows):
    out = est.predict_proba(rows) if hasattr(est, "predict_proba") else est.predict(rows)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("trained_on", ["clf", "mmo", "reg"])
@pytest.mark.parametrize("touch_model", [False, True])
def test_predict_from_four_threads_equals_serial(trained_on, touch_model):
    Est = AutoHeadRegressor if trained_on == "reg" else AutoHeadClassifier
    est = Est(**TINY).fit(*TRAINING[trained_on])
    rows = np.random.RandomState(1).randn(400, 3)
    subsets = [np.arange(i, 400, 4) for i in range(4)]  # a different subset per thread
    serial = [_outputs(est, rows[s]) for s in subsets]
    barrier = threading.Barrier(4)

    def work(i):
        barrier.wait()
        results = []
        for repeat in range(25):
            if touch_model and i == 0 and repeat == 10:
                est.model_  # noqa: B018  -- built while the others predict
            results.append(_outputs(est, rows[subsets[i]]))
        return results

    with ThreadPoolExecutor(4) as pool:
        per_thread = list(pool.map(work, range(4)))
    for i, results in enumerate(per_thread):
        for result in results:
            for got, expected in zip(result, serial[i], strict=True):
                np.testing.assert_array_equal(got, expected)


# Fits unique to this test (5 features), so both threads compile a trainer at
# the same time and then share the pool.
_X5 = np.random.RandomState(2).randn(60, 5)
_FIT_JOBS = [
    (AutoHeadClassifier, dict(hidden_layer_sizes=(4,), max_iter=15, random_state=0),
     np.where(_X5[:, 0] > 0, "yes", "no")),
    (AutoHeadClassifier, dict(hidden_layer_sizes=(4,), max_iter=15, random_state=1),
     np.where(_X5[:, 1] > 0, "no", "yes")),
]  # fmt: skip


def _proba(est):
    return est.predict_proba(_X5)


def test_two_fits_in_two_threads_equal_serial_fits():
    serial = [_proba(Est(**p).fit(_X5, y)) for Est, p, y in _FIT_JOBS]
    barrier = threading.Barrier(2)

    def fit(job):
        Est, params, y = job
        barrier.wait()  # both fits start together
        return _proba(Est(**params).fit(_X5, y))

    for _ in range(3):
        with ThreadPoolExecutor(2) as pool:
            threaded = list(pool.map(fit, _FIT_JOBS))
        for got, expected in zip(threaded, serial, strict=True):
            np.testing.assert_array_equal(got, expected)
    # the two jobs differ, so a mix-up between threads would show
    assert not np.array_equal(serial[0], serial[1])


def test_two_fits_in_two_processes_equal_serial_fits():
    serial = [Est(**p).fit(_X5, y) for Est, p, y in _FIT_JOBS]
    fitted = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(Est(**p).fit)(_X5, y) for Est, p, y in _FIT_JOBS
    )
    for got, expected in zip(fitted, serial, strict=True):
        np.testing.assert_array_equal(_proba(got), _proba(expected))
        np.testing.assert_array_equal(got.loss_curve_, expected.loss_curve_)


# -- persistence -------------------------------------------------------------------
PERSISTED = {
    "multiclass": (AutoHeadClassifier, Y_MMO[:, 1]),
    "multioutput": (AutoHeadClassifier, Y_MMO),
    "regressor-2d": (AutoHeadRegressor, np.column_stack([Y_REG, -Y_REG])),
}

_RELOAD = """
import pickle, sys
import joblib, numpy as np
sys.modules["keras"] = sys.modules["tensorflow"] = None  # importing them now fails
folder = sys.argv[1]
X = np.load(folder + "/X.npy")
for name in sys.argv[2:]:
    for how in ("pickle", "joblib"):
        if how == "pickle":
            with open(f"{folder}/{name}.pkl", "rb") as f:
                est = pickle.load(f)
        else:
            est = joblib.load(f"{folder}/{name}.joblib")
        np.save(f"{folder}/{name}-{how}-predict.npy", est.predict(X))
        if hasattr(est, "predict_proba"):
            proba = est.predict_proba(X)
            proba = proba if isinstance(proba, list) else [proba]
            for j, p in enumerate(proba):
                np.save(f"{folder}/{name}-{how}-proba{j}.npy", p)
"""


def test_pickle_and_joblib_files_reload_in_a_fresh_process_without_keras(tmp_path):
    np.save(tmp_path / "X.npy", X)
    expected = {}
    for name, (Est, y) in PERSISTED.items():
        est = Est(**TINY).fit(X, y)
        est.model_  # noqa: B018  -- a built Keras model must not go into the file
        with open(tmp_path / f"{name}.pkl", "wb") as f:
            pickle.dump(est, f)
        joblib.dump(est, tmp_path / f"{name}.joblib")
        proba = est.predict_proba(X) if hasattr(est, "predict_proba") else []
        expected[name] = (est.predict(X), proba if isinstance(proba, list) else [proba])
    subprocess.run(
        [sys.executable, "-c", _RELOAD, str(tmp_path), *PERSISTED],
        check=True,
        timeout=120,
    )
    for name, (pred, probas) in expected.items():
        for how in ("pickle", "joblib"):
            got = np.load(tmp_path / f"{name}-{how}-predict.npy", allow_pickle=True)
            np.testing.assert_array_equal(got, pred)
            assert got.dtype == pred.dtype
            for j, p in enumerate(probas):
                np.testing.assert_array_equal(np.load(tmp_path / f"{name}-{how}-proba{j}.npy"), p)


def test_pickle_stays_small_and_keras_free_after_model_is_built():
    est = AutoHeadClassifier(**TINY).fit(X, Y_CLF)
    before = pickle.dumps(est)
    est.model_  # noqa: B018
    after = pickle.dumps(est)
    assert len(after) <= len(before) + 64, (len(before), len(after))
    assert b"keras" not in after and b"tensorflow" not in after


class _SavedState:
    """Pickles as the estimator would, with a state dict we choose."""

    def __init__(self, cls, state):
        self.cls, self.state = cls, state

    def __reduce__(self):
        return object.__new__, (self.cls,), self.state


def _tampered_pickle(est, **changes):
    state = pickle.loads(pickle.dumps(est)).__getstate__()
    for key, value in changes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return pickle.dumps(_SavedState(type(est), state))


@pytest.mark.parametrize(
    "changes, names",
    [
        ({"_skout_format": 99, "_skout_version": "9.9.0"}, ["9.9.0", skout.__version__]),
        ({"_skout_format": "1"}, [skout.__version__]),
        ({"_skout_format": None, "_skout_version": None}, ["unknown", skout.__version__]),
    ],
    ids=["future-format", "format-as-string", "untagged"],
)
def test_pickle_in_an_unknown_format_is_refused_naming_the_versions(changes, names):
    est = _fitted("clf")
    np.testing.assert_array_equal(  # an untampered state dict loads fine
        pickle.loads(_tampered_pickle(est)).predict_proba(X), est.predict_proba(X)
    )
    with pytest.raises(ValueError, match="format") as info:
        pickle.loads(_tampered_pickle(est, **changes))
    for name in names:
        assert name in str(info.value)


# -- memory ------------------------------------------------------------------------
def test_memory_stays_flat_over_many_fits():
    architectures = [(4,), (3,), (4, 2)]
    y = Y_MMO[:, 1]

    def fit(sizes):
        est = AutoHeadClassifier(hidden_layer_sizes=sizes, max_iter=3, random_state=0)
        est.fit(X, y).predict_proba(X)

    for sizes in architectures * 3:  # warm-up: compile each architecture
        fit(sizes)
    gc.collect()
    process = psutil.Process()
    start = process.memory_info().rss
    n_fits = 0
    for i in range(150):
        fit(architectures[0] if i < 75 else architectures[i % 3])
        n_fits += 1
    gc.collect()
    growth_mib = (process.memory_info().rss - start) / 2**20
    print(f"\nRSS growth over {n_fits} fits: {growth_mib:.1f} MiB")
    assert n_fits == 150
    assert growth_mib < 150, f"RSS grew by {growth_mib:.1f} MiB over {n_fits} fits"
