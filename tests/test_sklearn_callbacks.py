"""scikit-learn's own callbacks (sklearn.callback, scikit-learn >= 1.9)."""

import importlib
import pickle
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skout import AutoHeadClassifier, AutoHeadRegressor
from skout._engine import driver

callback = pytest.importorskip("sklearn.callback")


class EpochRecorder:
    """An auto-propagated callback that records each epoch and can stop a fit."""

    max_propagation_depth = None

    def __init__(self, stop_at=None):
        self.stop_at = stop_at
        self.epochs = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, **kwargs):
        if context.task_name != "epoch":
            return False
        self.epochs.append(type(estimator).__name__)
        return self.stop_at is not None and len(self.epochs) >= self.stop_at


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _net(**params):
    defaults = dict(hidden_layer_sizes=(8,), max_iter=4, tol=0, n_iter_no_change=50)
    return AutoHeadClassifier(random_state=0, **{**defaults, **params})


def test_progress_bar_on_a_bare_fit_reports_every_epoch(iris):
    X, y = iris
    recorder = EpochRecorder()
    clf = _net().set_callbacks(callback.ProgressBar(), recorder).fit(X, y)
    assert clf.n_iter_ == 4
    assert recorder.epochs == ["AutoHeadClassifier"] * 4


def test_progress_bar_reaches_the_network_in_a_pipeline_in_a_grid_search(iris):
    X, y = iris
    recorder = EpochRecorder()
    pipe = make_pipeline(StandardScaler(), _net())
    search = GridSearchCV(pipe, {"autoheadclassifier__alpha": [1e-4, 1e-2]}, cv=2)
    search.set_callbacks(callback.ProgressBar(), recorder).fit(X, y)
    # 2 candidates x 2 folds + the refit, 4 epochs each.
    assert recorder.epochs == ["AutoHeadClassifier"] * (5 * 4)


def test_scoring_monitor_scores_every_epoch_like_validation_scores(iris):
    X, y = iris
    monitor = callback.ScoringMonitor(scoring="accuracy")
    clf = _net(max_iter=6).set_callbacks(monitor)
    clf.fit(X, y, X_val=X, y_val=y)  # validation data = training data
    rows = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    assert len(rows) == clf.n_iter_ == 6
    np.testing.assert_allclose([r["accuracy"] for r in rows], clf.validation_scores_, atol=1e-6)


def test_a_callback_can_stop_training(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopping is not "not converged"
        clf = _net(max_iter=50).set_callbacks(EpochRecorder(stop_at=3)).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3


def test_callbacks_survive_pickle_and_clone(iris):
    X, y = iris
    clf = _net().set_callbacks(callback.ProgressBar()).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    recorder = EpochRecorder()
    clone(_net().set_callbacks(recorder)).fit(X, y)
    assert len(recorder.epochs) == 4


def test_without_callbacks_training_stays_one_compiled_call(iris, monkeypatch):
    X, y = iris
    calls = []
    loop = driver.loop_for(driver.backend_name())
    original = loop.run_chunk
    monkeypatch.setattr(loop, "run_chunk", lambda *a, **k: calls.append(1) or original(*a, **k))
    _net(max_iter=6).fit(X, y)
    assert len(calls) == 1
    _net(max_iter=6).set_callbacks(EpochRecorder()).fit(X, y)
    assert len(calls) == 1 + 6  # one call per epoch, only when asked


def test_scikit_learn_callbacks_and_keras_callbacks_hear_the_same_epochs(iris):
    import keras

    X, y = iris
    seen = []

    class KerasEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    recorder = EpochRecorder()
    clf = _net(callbacks=[KerasEpochs()]).set_callbacks(recorder).fit(X, y)
    assert len(seen) == len(recorder.epochs) == clf.n_iter_ == 4


def test_regressor_reports_epochs_too():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3))
    recorder = EpochRecorder()
    AutoHeadRegressor(hidden_layer_sizes=(4,), max_iter=3, tol=0).set_callbacks(recorder).fit(
        X, X.sum(axis=1)
    )
    assert recorder.epochs == ["AutoHeadRegressor"] * 3


def test_older_scikit_learn_gets_a_clear_message(monkeypatch):
    import skout._callbacks as module

    monkeypatch.setitem(sys.modules, "sklearn.callback", None)
    stand_in = importlib.reload(module).CallbackSupportMixin
    monkeypatch.undo()
    importlib.reload(module)
    with pytest.raises(NotImplementedError, match="scikit-learn >= 1.9"):
        stand_in().set_callbacks(object())
