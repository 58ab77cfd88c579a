"""The compiled training path: same result as Keras's own fit, traced once."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from conftest import tensorflow_only
from sklearn.datasets import make_classification

from skout import AutoHeadClassifier, AutoHeadRegressor, _network
from skout._engine import tf_loop
from skout._engine.cache import clear_cache, set_training_cache_size

pytestmark = tensorflow_only


@pytest.fixture
def binary_data():
    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    return X.astype(np.float32), y


def _keras_reference(est, X, y, optimizer, batch_size, epochs):
    """Train the same network from the same start with Keras's model.fit."""
    model = _network.build_model(est._spec)
    start = _network.init_weights(est._spec, np.random.RandomState(0))
    _network.set_weights(model, est._spec, start)
    model.compile(optimizer=optimizer, loss=est.head_.loss)
    Y = est._encoder.transform(y)
    model.fit(X, Y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return _network.get_weights(model, est._spec)


@pytest.mark.parametrize(
    "solver, batch_size", [("sgd", 120), ("sgd", 32), ("adam", 120), ("adam", 32)]
)
def test_compiled_training_matches_keras_fit(binary_data, solver, batch_size):
    import keras

    X, y = binary_data
    est = AutoHeadClassifier(
        hidden_layer_sizes=(5,),
        solver=solver,
        momentum=0.0,
        alpha=0.0,
        batch_size=batch_size,
        shuffle=False,
        max_iter=4,
        tol=0.0,
        n_iter_no_change=100,
        learning_rate_init=0.05,
        random_state=0,
        head_init="glorot",  # the Keras reference starts from the same random draw
    ).fit(X, y)
    optimizer = (
        keras.optimizers.SGD(learning_rate=0.05)
        if solver == "sgd"
        else keras.optimizers.Adam(learning_rate=0.05, epsilon=1e-8)
    )
    expected = _keras_reference(est, X, y, optimizer, batch_size, epochs=4)
    for ours, theirs in zip(est._weights, expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_one_trace_serves_every_fit_of_an_architecture(binary_data):
    X, y = binary_data
    clear_cache()
    params = dict(hidden_layer_sizes=(7,), max_iter=3, random_state=0)
    AutoHeadClassifier(**params).fit(X, y)
    # Other data sizes, learning rates, batch sizes, alphas: no new trace.
    AutoHeadClassifier(**params, learning_rate_init=0.01).fit(X[:50], y[:50])
    AutoHeadClassifier(**params, batch_size=16, alpha=0.1).fit(X[:90], y[:90])
    assert tf_loop.tracing_count() == [1]


def test_program_cache_stays_bounded(binary_data):
    X, y = binary_data
    previous = set_training_cache_size(2)
    try:
        for depth in (1, 2, 3):  # three programs (widths alone would share one)
            AutoHeadClassifier(hidden_layer_sizes=(3,) * depth, max_iter=1).fit(X, y)
        assert len(tf_loop.programs) == 2
        assert [key.network.depth for key in tf_loop.programs] == [2, 3]
    finally:
        set_training_cache_size(previous)


def test_unpickled_model_predicts_without_tensorflow(binary_data, tmp_path):
    X, y = binary_data
    est = AutoHeadClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(est))
    np.save(tmp_path / "X.npy", X)
    code = (
        "import pickle, sys, numpy as np\n"
        f"est = pickle.loads(open({str(tmp_path / 'model.pkl')!r}, 'rb').read())\n"
        f"proba = est.predict_proba(np.load({str(tmp_path / 'X.npy')!r}))\n"
        f"np.save({str(tmp_path / 'proba.npy')!r}, proba)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "proba.npy"), est.predict_proba(X))


def test_divergence_is_a_clear_error():
    X = np.random.RandomState(0).normal(size=(50, 3)) * 1e18
    y = X[:, 0] * 1e18
    est = AutoHeadRegressor(
        hidden_layer_sizes=(4,), learning_rate_init=1e6, standardize_target=False, max_iter=50
    )
    with pytest.raises(ValueError, match="diverged"):
        est.fit(X, y)


def test_verbose_fit_gives_the_same_model_as_a_quiet_one(binary_data, capsys):
    X, y = binary_data
    params = dict(hidden_layer_sizes=(5,), max_iter=12, random_state=0, early_stopping=True)
    quiet = AutoHeadClassifier(**params).fit(X, y)
    loud = AutoHeadClassifier(**params, verbose=True).fit(X, y)
    assert len(capsys.readouterr().out.splitlines()) == loud.n_iter_
    assert loud.n_iter_ == quiet.n_iter_
    np.testing.assert_allclose(loud.loss_curve_, quiet.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(loud.predict_proba(X), quiet.predict_proba(X), atol=1e-6)
