"""The engine's driver: observers that only look change nothing, chunked runs
train the same network, memory is bounded, a fit is interruptible; and, on
TensorFlow, one trace per dense network family. (That every backend's loop
trains the same network is tests/test_engine_backends.py.)"""

import _thread
import gc
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import tensorflow_only
from sklearn.datasets import make_classification, make_regression

from skout import AutoHeadClassifier, AutoHeadRegressor
from skout._engine import cache, driver, tf_loop


@pytest.fixture(scope="module")
def three_classes():
    X, y = make_classification(
        n_samples=90, n_features=5, n_informative=4, n_redundant=0, n_classes=3,
        weights=[0.6, 0.3, 0.1], random_state=0,
    )  # fmt: skip
    return X.astype(np.float32), y


def _observer():
    import keras

    class Observer(keras.callbacks.Callback):
        """Only looks: records what it is told."""

        def __init__(self):
            super().__init__()
            self.logs = []

        def on_epoch_end(self, epoch, logs=None):
            self.logs.append(dict(logs or {}))

    return Observer()


@pytest.mark.parametrize(
    "Est, params, fit_kwargs",
    [
        (AutoHeadClassifier, dict(class_weight={0: 1.0, 1: 3.0, 2: 0.5}), {}),
        (AutoHeadClassifier, dict(class_weight="balanced", alpha=1e-2), {}),
        (AutoHeadRegressor, {}, dict(sample_weight=True)),
        (AutoHeadClassifier, dict(early_stopping=True, n_iter_no_change=3), {}),
        (
            AutoHeadClassifier,
            dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=1),
            {},
        ),  # fmt: skip
    ],
    ids=[
        "class_weight",
        "balanced+alpha",
        "regressor sample_weight",
        "early_stopping",
        "sgd adaptive",
    ],  # fmt: skip
)
def test_an_observing_keras_callback_does_not_change_the_model(
    three_classes, Est, params, fit_kwargs
):
    X, y = three_classes
    if Est is AutoHeadRegressor:
        y = X @ np.arange(5.0) + np.random.RandomState(1).normal(size=len(X))
    if fit_kwargs.get("sample_weight"):
        fit_kwargs = dict(sample_weight=np.random.RandomState(2).uniform(0.1, 3.0, len(X)))
    base = dict(hidden_layer_sizes=(6,), max_iter=15, batch_size=16, random_state=0)
    quiet = Est(**base, **params).fit(X, y, **fit_kwargs)
    observer = _observer()
    watched = Est(**base, **params, callbacks=[observer]).fit(X, y, **fit_kwargs)
    assert watched.n_iter_ == quiet.n_iter_ == len(observer.logs)
    for ours, theirs in zip(watched._weights, quiet._weights, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose([log["loss"] for log in observer.logs], quiet.loss_curve_,
                               rtol=1e-6)  # fmt: skip
    if params.get("early_stopping"):
        assert [log["val_score"] for log in observer.logs] == pytest.approx(
            quiet.validation_scores_
        )


def test_a_learning_rate_set_by_a_keras_callback_is_used(three_classes):
    import keras

    X, y = three_classes

    class Freeze(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.optimizer.learning_rate = 0.0

    params = dict(hidden_layer_sizes=(6,), random_state=0, tol=0, n_iter_no_change=50)
    one = AutoHeadClassifier(**params, max_iter=1).fit(X, y)
    frozen = AutoHeadClassifier(**params, max_iter=5, callbacks=[Freeze()]).fit(X, y)
    moving = AutoHeadClassifier(**params, max_iter=5).fit(X, y)
    assert frozen.n_iter_ == 5
    np.testing.assert_allclose(frozen.coefs_[0], one.coefs_[0], atol=1e-7)
    assert not np.allclose(moving.coefs_[0], one.coefs_[0])


def test_weights_restored_by_keras_early_stopping_are_kept(three_classes):
    import keras

    X, y = three_classes
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0,
                                         restore_best_weights=True)  # fmt: skip
    params = dict(hidden_layer_sizes=(6,), random_state=0, tol=0, n_iter_no_change=50)
    first = AutoHeadClassifier(**params, max_iter=1).fit(X, y)
    stopped = AutoHeadClassifier(**params, max_iter=20, callbacks=[stop]).fit(X, y)
    assert stopped.n_iter_ == 2  # no epoch improves the loss by 10
    np.testing.assert_allclose(stopped.coefs_[0], first.coefs_[0], atol=1e-7)


@tensorflow_only
def test_a_width_grid_traces_once(three_classes):
    X, y = three_classes
    cache.clear_cache()
    for width in (3, 7, 11):
        AutoHeadClassifier(hidden_layer_sizes=(width,), max_iter=3, random_state=0).fit(X, y)
    assert tf_loop.tracing_count() == [1]
    for widths in ((3, 4), (9, 2)):  # another depth: one more program, traced once
        AutoHeadClassifier(hidden_layer_sizes=widths, max_iter=3, random_state=0).fit(X, y)
    assert tf_loop.tracing_count() == [1, 1]


@tensorflow_only
def test_evicted_programs_are_freed(three_classes):
    X, y = three_classes
    previous = cache.set_training_cache_size(1)
    try:
        AutoHeadClassifier(hidden_layer_sizes=(3,), max_iter=1).fit(X, y)
        (program,) = [p for entry in tf_loop.programs.values() for p in entry]
        refs = [weakref.ref(program), weakref.ref(program._run)]
        del program
        AutoHeadClassifier(hidden_layer_sizes=(3, 3), max_iter=1).fit(X, y)
        gc.collect()
        assert len(tf_loop.programs) == 1
        assert [r() for r in refs] == [None, None]
    finally:
        cache.set_training_cache_size(previous)


def test_cache_size_is_checked():
    with pytest.raises(ValueError, match="integer >= 0"):
        cache.set_training_cache_size(-1)
    assert cache.set_training_cache_size(cache.DEFAULT_SIZE) == cache.training_cache_size()


@tensorflow_only
def test_huge_max_iter_allocates_per_chunk_not_per_max_iter(three_classes, monkeypatch):
    X, y = three_classes
    chunks = []
    original = tf_loop.run_chunk

    def spy(key, weights, data, validation, schedule, *args):
        chunks.append(schedule.max_epochs)
        return original(key, weights, data, validation, schedule, *args)

    monkeypatch.setattr(tf_loop, "run_chunk", spy)
    clf = AutoHeadClassifier(hidden_layer_sizes=(4,), max_iter=10**7, early_stopping=True,
                             n_iter_no_change=2, random_state=0).fit(X, y)  # fmt: skip
    assert clf.n_iter_ < 100
    # Every per-epoch buffer (batch orders, curves) is sized by the chunk.
    assert max(chunks) <= tf_loop.MAX_ORDER_ENTRIES // len(X)
    assert max(chunks) * len(X) <= tf_loop.MAX_ORDER_ENTRIES


def test_chunked_runs_train_the_same_network(three_classes, monkeypatch):
    X, y = three_classes
    params = dict(hidden_layer_sizes=(5,), max_iter=12, tol=0, n_iter_no_change=50,
                  random_state=0, dropout=0.2)  # fmt: skip
    whole = AutoHeadClassifier(**params).fit(X, y)
    monkeypatch.setattr(driver, "CHUNK_SECONDS", 1e-9)  # one epoch per call
    chunked = AutoHeadClassifier(**params).fit(X, y)
    np.testing.assert_allclose(chunked.loss_curve_, whole.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(chunked.predict_proba(X), whole.predict_proba(X), atol=1e-6)


def test_ctrl_c_stops_a_long_fit_and_keeps_the_previous_model(three_classes):
    X, y = three_classes
    clf = AutoHeadClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(max_iter=10**6, tol=0, n_iter_no_change=np.inf)
    fired = []
    timer = threading.Timer(1.0, lambda: fired.append(time.perf_counter()) or
                            _thread.interrupt_main())  # fmt: skip
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            clf.fit(X, y)
        stopped = time.perf_counter()
    finally:
        timer.cancel()
    assert stopped - fired[0] < 3.0
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.n_iter_ == 5


def test_threads_fitting_one_architecture_do_not_share_state():
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)

    def fit(seed):
        return AutoHeadRegressor(hidden_layer_sizes=(5,), max_iter=8, random_state=seed).fit(X, y)

    alone = [fit(seed).predict(X) for seed in range(4)]
    with ThreadPoolExecutor(4) as pool:
        together = [m.predict(X) for m in pool.map(fit, range(4))]
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_stopping_state_is_a_plain_tuple(three_classes):
    X, y = three_classes
    clf = AutoHeadClassifier(hidden_layer_sizes=(4,), max_iter=3).fit(X, y)
    state = clf._fitted.stopping  # as the fitted state stores it
    assert type(state) is tuple and len(state) == 3
    assert all(type(v) in (float, int) for v in state)
    # partial_fit goes on from the plain tuple.
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 4


def test_convergence_and_batch_size_warnings_point_at_the_callers_line(three_classes):
    from sklearn.exceptions import ConvergenceWarning

    X, y = three_classes
    net = AutoHeadClassifier(hidden_layer_sizes=(3,), max_iter=2, batch_size=10**6,
                             random_state=0)  # fmt: skip
    with pytest.warns((ConvergenceWarning, UserWarning)) as record:
        net.fit(X, y)
    categories = {w.category for w in record}
    assert {ConvergenceWarning, UserWarning} <= categories
    assert {w.filename for w in record} == {__file__}
