"""The JAX and PyTorch training loops train the network the TensorFlow loop trains.

The Keras backend is fixed per process, so each other backend runs the same
cases in a subprocess (``KERAS_BACKEND=jax`` / ``torch``) that prints its
results as JSON; this process runs them on TensorFlow's compiled loop and
compares: same number of epochs, same stopping decision, same loss curve and
predictions within 1e-3.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skout import _training
from skout._network import BodySpec, NetworkSpec, forward
from skout.heads import OutputHead

SOFTMAX3 = OutputHead(3, "softmax", "sparse_categorical_crossentropy")
ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def _classification(n, n_features, n_classes, seed):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, n_features).astype(np.float32)
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1], np.linspace(-1, 1, n_classes - 1))
    return X, y


def _body_config():
    import keras

    from skout.body import canonical_config

    layers = [keras.layers.Dense(4, activation="relu"), keras.layers.BatchNormalization()]
    return canonical_config(keras.Sequential([keras.Input((4,)), *layers]))


def case(name, shuffle):
    """(key, weights, data, validation, schedule kwargs, epochs per call) of a case."""
    if name in ("adam_class_weight", "chunks"):
        X, y = _classification(90, 5, 3, 0)
        spec = NetworkSpec(5, (4,), "relu", (SOFTMAX3,))
        Y = y[:, None].astype(np.float32)
        W = np.array([1.0, 3.0, 0.5], np.float32)[y]  # class weights
        validation = None
        task, early, solver, lr_schedule = "classification", False, "adam", "constant"
        params = dict(learning_rate=0.02, alpha=0.01, batch_size=16, max_epochs=12)
    elif name == "regressor_sample_weight":
        rng = np.random.RandomState(1)
        X = rng.randn(80, 4).astype(np.float32)
        Y = np.stack([X[:, 0] - X[:, 1], X[:, 2] ** 2], axis=1).astype(np.float32)
        spec = NetworkSpec(4, (5,), "tanh", (OutputHead(2, "linear", "mean_squared_error"),))
        W = rng.uniform(0.2, 2.0, 80).astype(np.float32)
        validation = None
        task, early, solver, lr_schedule = "regression", False, "adam", "constant"
        params = dict(learning_rate=0.01, alpha=1e-3, batch_size=25, max_epochs=15)
    elif name == "early_stopping":
        X, y = _classification(120, 4, 2, 2)
        spec = NetworkSpec(4, (4,), "relu", (OutputHead(1, "sigmoid", "binary_crossentropy"),))
        Y = y[:, None].astype(np.float32)
        W = np.ones(120, np.float32)
        validation = (X[:24], Y[:24], W[:24])
        X, Y, W = X[24:], Y[24:], W[24:]
        task, early, solver, lr_schedule = "classification", True, "adam", "constant"
        params = dict(learning_rate=0.05, alpha=1e-4, batch_size=20, max_epochs=40,
                      n_iter_no_change=3)  # fmt: skip
    elif name == "sgd_adaptive":
        X, y = _classification(60, 3, 3, 3)
        spec = NetworkSpec(3, (4,), "tanh", (SOFTMAX3,))
        Y = y[:, None].astype(np.float32)
        W = np.ones(60, np.float32)
        validation = None
        task, early, solver, lr_schedule = "classification", False, "sgd", "adaptive"
        # A large tol makes the plateau come early: the rate shrinks, then stops.
        params = dict(learning_rate=0.2, alpha=1e-4, batch_size=16, max_epochs=30, tol=0.05,
                      n_iter_no_change=1)  # fmt: skip
    elif name == "body_batch_norm":
        # A Keras body: the general path (Keras's stateless_call), with
        # non-trainable variables (the moving statistics) carried along.
        X, y = _classification(64, 4, 3, 4)
        spec = BodySpec(_body_config(), (4,), (SOFTMAX3,))
        Y = y[:, None].astype(np.float32)
        W = np.ones(64, np.float32)
        validation = None
        task, early, solver, lr_schedule = "classification", False, "adam", "constant"
        params = dict(learning_rate=0.02, alpha=1e-3, batch_size=16, max_epochs=6)
    else:
        raise KeyError(name)
    key = _training.TrainerKey(
        network=spec,
        optimizer=_training.OptimizerSpec(solver=solver),
        task=task,
        has_validation=validation is not None,
        early_stopping=early,
        shuffle=shuffle,
        learning_rate=lr_schedule,
    )
    weights = _initial_weights(spec)
    schedule = {"tol": 1e-4, "n_iter_no_change": 10, "seed": 11, **params}
    chunks = [5, 4, 3] if name == "chunks" else [params["max_epochs"]]
    return key, weights, (X, Y, W), validation, schedule, chunks


def _initial_weights(spec):
    if isinstance(spec, NetworkSpec):
        return spec.initial_weights(np.random.RandomState(7))
    # A body's initializers run in Keras (backend-dependent streams): draw here.
    rng = np.random.RandomState(7)
    shapes = [w.shape for w in spec.initial_weights(np.random.RandomState(0))]
    return [rng.uniform(0.5, 1.0, s).astype(np.float32) for s in shapes]


CASES = ("adam_class_weight", "regressor_sample_weight", "early_stopping", "sgd_adaptive",
         "chunks", "body_batch_norm")  # fmt: skip


def run_case(train, name, shuffle):
    """Run one case as the driver does: chunks of epochs, state carried along."""
    key, weights, data, validation, params, chunks = case(name, shuffle)
    state, optimizer_state, best, done = None, None, None, 0
    curve, scores = [], []
    for epochs in chunks:
        schedule = _training.Schedule(
            **{**params, "max_epochs": epochs},
            first_epoch=done,
            samples_seen=done * len(data[0]),
            shuffle=shuffle,
        )
        result = train(key, weights, data, validation, schedule, state, optimizer_state)
        weights, state, optimizer_state = result.weights, result.state, result.optimizer_state
        best = result.best_weights or best
        curve += result.loss_curve
        scores += result.validation_scores
        done += result.n_iter
        if result.stopped:
            break
    final = best if key.early_stopping and best is not None else weights
    return {
        "weights": [np.asarray(w).tolist() for w in final],
        "n_iter": done,
        "loss_curve": curve,
        "scores": scores,
        "stopped": bool(result.stopped),
        "learning_rate": float(optimizer_state[1]),
    }


def loop_of_backend():
    """The compiled loop of this process's Keras backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        from skout._engine import jax_loop

        return jax_loop.train
    if backend == "torch":
        from skout._engine import torch_loop

        return torch_loop.train
    return _training.train


def main(shuffle):
    """Entry point of the subprocess: every case as one JSON line."""
    train = loop_of_backend()
    if "jax_loop" in train.__module__:
        # Several compiled calls per chunk: they must continue each other exactly.
        sys.modules[train.__module__].EPOCHS_PER_CALL = 8
    print(json.dumps({name: run_case(train, name, shuffle) for name in CASES}))


def start(backend, shuffle):
    """Start the cases in a ``KERAS_BACKEND=backend`` subprocess (it runs meanwhile)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": path,
           "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); "
        f"import test_engine_backends as t; t.main({shuffle!r})"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def collect(process):
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


BACKENDS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            importlib.util.find_spec(module) is None, reason=f"{module} is not installed"
        ),
    )
    for name, module in (("jax", "jax"), ("torch", "torch"))
]


def _installed(module):
    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="module")
def results():
    """Each backend's results, its subprocess started for all at the first use.

    The subprocesses run while this process computes the TensorFlow side.
    """
    shuffle = True  # the TF loop draws its batches from rule.epoch_orders too
    wanted = [(b, shuffle) for b in ("jax", "torch") if _installed(b)]
    if _installed("jax") and _installed("torch"):
        wanted += [(b, True) for b in ("jax", "torch") if (b, True) not in wanted]
    running = {w: start(*w) for w in wanted}
    cache = {}

    def get(backend, shuffle):
        if (backend, shuffle) not in cache:
            cache[backend, shuffle] = collect(running[backend, shuffle])
        return cache[backend, shuffle]

    yield get
    for process in running.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture(scope="module")
def tensorflow_results(results):
    """Every case on TensorFlow's loop (while the subprocesses run)."""
    shuffle = True  # the TF loop draws its batches from rule.epoch_orders too
    return {name: run_case(_training.train, name, shuffle) for name in CASES}


def predictions(spec, weights, X):
    weights = [np.array(w, np.float32) for w in weights]
    if isinstance(spec, NetworkSpec):
        return forward(spec, weights, X)
    from skout._network import set_weights, to_numpy

    model = spec.build()
    set_weights(model, spec, weights)
    out = model(X, training=False)
    return to_numpy(out if isinstance(out, (list, tuple)) else [out])


def assert_same_network(name, ours, theirs):
    spec = case(name, False)[0].network
    X = case(name, False)[2][0]
    assert ours["n_iter"] == theirs["n_iter"], name
    assert ours["stopped"] == theirs["stopped"], name
    np.testing.assert_allclose(ours["loss_curve"], theirs["loss_curve"], rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(ours["scores"], theirs["scores"], atol=1e-6)
    np.testing.assert_allclose(ours["learning_rate"], theirs["learning_rate"], rtol=1e-5)
    for a, b in zip(
        predictions(spec, ours["weights"], X), predictions(spec, theirs["weights"], X)
    ):
        np.testing.assert_allclose(a, b, atol=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CASES)
def test_backend_loop_trains_the_network_the_tensorflow_loop_trains(
    results, tensorflow_results, backend, name
):
    shuffle = True  # the TF loop draws its batches from rule.epoch_orders too
    assert_same_network(name, results(backend, shuffle)[name], tensorflow_results[name])


def test_cases_exercise_what_they_claim():
    """The stopping and schedule cases really stop, shrink the rate, keep the best."""
    stopped = run_case(_training.train, "early_stopping", False)
    assert stopped["stopped"] and stopped["n_iter"] < 40
    adaptive = run_case(_training.train, "sgd_adaptive", False)
    assert adaptive["learning_rate"] < 0.2 / 5 * 1.0001
    chunked = run_case(_training.train, "chunks", False)
    assert chunked["n_iter"] == 12


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_and_torch_loops_draw_the_same_shuffled_batches(results):
    for name in CASES:
        assert_same_network(name, results("jax", True)[name], results("torch", True)[name])
