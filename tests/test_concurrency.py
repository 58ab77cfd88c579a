"""Readers against refits: every call sees the old fitted model or the new one.

A fit builds its state aside and swaps it in at the end; every public method
reads that state once. Here reader threads call every reading method of one
estimator while the main thread refits it hundreds of times, alternating a
two-class and a three-class target, with the interpreter switching threads
as often as it can: each result must be exactly that of one of the two
models, never a mix, never an error.
"""

from __future__ import annotations

import functools
import sys
import threading

import numpy as np
import pytest

from skout import AutoHeadClassifier, AutoHeadRegressor

N_REFITS = 300
PARAMS = dict(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
_rng = np.random.RandomState(0)
X = _rng.randn(30, 4)
Y_TWO = np.where(X[:, 0] > 0, "a", "b")
Y_THREE = np.array(["x", "y", "z"])[np.digitize(X[:, 1], [-0.5, 0.5])]
X_QUERY = _rng.randn(7, 4)


@pytest.fixture
def fast_switching():
    """Switch threads after (about) every bytecode instead of every 5 ms."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _reads(est):
    """Every reading method, each called once; a dict of their results."""
    return {
        "predict": est.predict(X_QUERY),
        "predict_proba": est.predict_proba(X_QUERY),
        "predict_log_proba": est.predict_log_proba(X_QUERY),
        "score": est.score(X_QUERY, Y_TWO[:7]),
    }


def _view_facts(est):
    """What the HTML view shows, reduced to facts two fits would differ in."""
    listing = est._get_fitted_attr_html()  # what the view lists, read by scikit-learn
    attrs = dict(getattr(listing, "_listing", listing))
    head = attrs["head_"]["value"]
    html = est._repr_html_()  # the whole view renders
    assert "skout-network-summary" in html
    return (
        head.target_type,
        tuple(attrs["classes_"]["shape"]),
        attrs["out_activation_"]["value"],
        attrs["n_features_in_"]["value"],
    )


def _mixed(result, reference):
    """The methods whose result is neither model's."""
    return [
        name
        for name, got in result.items()
        if not any(np.array_equal(got, r[name]) for r in reference)
    ]


def _refit_while_reading(est, targets, readers):
    """Refit ``est`` N_REFITS times on X, cycling through ``targets``, while each
    of ``readers`` is called over and over in a thread of its own."""
    done = threading.Event()

    def loop(read):
        while not done.is_set():
            read()

    threads = [threading.Thread(target=loop, args=(read,)) for read in readers]
    for thread in threads:
        thread.start()
    try:
        for i in range(N_REFITS):
            est.fit(X, targets[i % len(targets)])
    finally:
        done.set()
        for thread in threads:
            thread.join()


def test_readers_never_see_half_a_refit(fast_switching):
    est = AutoHeadClassifier(**PARAMS).fit(X, Y_TWO)
    reference = [
        _reads(AutoHeadClassifier(**PARAMS).fit(X, Y_TWO)),
        _reads(AutoHeadClassifier(**PARAMS).fit(X, Y_THREE)),
    ]
    views = [
        _view_facts(AutoHeadClassifier(**PARAMS).fit(X, Y_TWO)),
        _view_facts(AutoHeadClassifier(**PARAMS).fit(X, Y_THREE)),
    ]
    assert views[0] != views[1]
    assert len(_mixed(reference[0], reference[1:])) == 4  # the two models differ everywhere
    problems, counts = [], [0, 0]

    def read(use_view):
        try:
            if use_view:
                facts = _view_facts(est)
                if facts not in views:
                    problems.append(("view", facts))
            else:
                # Each call on its own sees one model (the next may see the other).
                mixed = _mixed(_reads(est), reference)
                if mixed:
                    problems.append(("mixed", mixed))
            counts[use_view] += 1
        except Exception as exc:  # any error is a failure: record it
            problems.append(("error", repr(exc)))

    readers = [functools.partial(read, i == 3) for i in range(4)]
    _refit_while_reading(est, (Y_THREE, Y_TWO), readers)
    assert not problems, problems[:5]
    assert counts[0] > 0 and counts[1] > 0, counts


def test_regressor_readers_never_see_half_a_refit(fast_switching):
    """One output or two: predict and score follow one state."""
    y_one, y_two = X[:, 0] * 3.0, np.column_stack([X[:, 0], X[:, 1] * 5.0])
    est = AutoHeadRegressor(**PARAMS).fit(X, y_one)
    expected = [AutoHeadRegressor(**PARAMS).fit(X, y).predict(X_QUERY) for y in (y_one, y_two)]
    problems = []

    def read():
        try:
            got = est.predict(X_QUERY)
            if not any(np.array_equal(got, e) for e in expected):
                problems.append(("mixed", got.shape))
        except Exception as exc:
            problems.append(("error", repr(exc)))

    _refit_while_reading(est, (y_two, y_one), [read] * 3)
    assert not problems, problems[:5]


def test_features_change_only_when_the_new_fit_is_in_place():
    """A refit on wider X: until it ends, the estimator is the old model."""
    import keras

    entered, release = threading.Event(), threading.Event()

    class Pause(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            entered.set()
            release.wait(30)

    est = AutoHeadClassifier(**PARAMS).fit(X, Y_TWO)
    proba = est.predict_proba(X_QUERY)
    X_wide = np.column_stack([X, X[:, :2]])
    est.set_params(callbacks=[Pause()])
    fit = threading.Thread(target=est.fit, args=(X_wide, Y_TWO))
    fit.start()
    try:
        assert entered.wait(60)
        # Mid-fit: the old model, its features, its predictions.
        assert est.n_features_in_ == 4
        assert len(est.coefs_[0]) == 4
        np.testing.assert_array_equal(est.predict_proba(X_QUERY), proba)
    finally:
        release.set()
        fit.join()
    assert est.n_features_in_ == 6
    assert est.predict_proba(np.column_stack([X_QUERY, X_QUERY[:, :2]])).shape == (7, 2)
