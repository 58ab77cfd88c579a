"""The JAX and PyTorch loops train the network the TensorFlow loop trains.

The Keras backend is fixed per process, so each other backend runs the same
cases in a subprocess (``KERAS_BACKEND=jax`` / ``torch``) that prints its
results as JSON; this process runs them on TensorFlow's loop and compares:
same number of epochs, same stopping decision, same loss curve and
predictions within 1e-3. The cases cover every loss the head table trains
with, dropout, zero sample weights (training and validation), early
stopping, the "adaptive" schedule, chunked runs, Keras bodies (batch
normalisation; a body's own regularisation losses; two named inputs, each
its own array) and embedding tables for categorical columns.
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

from skout._engine import forward
from skout._engine.contract import Carry, OptimizerSpec, Schedule, TrainerKey
from skout._network import BodySpec, NetworkSpec
from skout.heads import OutputHead

SOFTMAX3 = OutputHead(3, "softmax", "sparse_categorical_crossentropy")
SIGMOID1 = OutputHead(1, "sigmoid", "binary_crossentropy")
ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def _classification(n, n_features, n_classes, seed):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, n_features).astype(np.float32)
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1], np.linspace(-1, 1, n_classes - 1))
    return X, y


def _body_config(regularised=False):
    import keras

    from skout.body import canonical_config

    if regularised:
        layers = [
            keras.layers.Dense(
                4, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.5),
                activity_regularizer=keras.regularizers.L1(0.01),
            ),
        ]  # fmt: skip
    else:
        layers = [keras.layers.Dense(4, activation="relu"), keras.layers.BatchNormalization()]
    return canonical_config(keras.Sequential([keras.Input((4,)), *layers]))


def _two_input_body_config():
    """A body with two named inputs: a tiny image through a convolution, and a
    vector through a Dense layer, joined."""
    import keras

    from skout.body import canonical_config

    image = keras.Input((3, 3, 1), name="image")
    meta = keras.Input((2,), name="meta")
    h = keras.layers.Flatten()(keras.layers.Conv2D(2, 2, activation="tanh")(image))
    h = keras.layers.Concatenate()([h, keras.layers.Dense(3, activation="relu")(meta)])
    return canonical_config(keras.Model([image, meta], h), keep=("image", "meta"))


def _codes(n, rows, seed):
    """Codes of a categorical column, its last row (the "unseen" one) never used."""
    return np.random.RandomState(seed).randint(0, rows - 1, n).astype(np.float32)


#: One case per loss the head table trains with (the rest are in the cases below).
_LOSS_CASES = {
    "loss_categorical_crossentropy": OutputHead(3, "softmax", "categorical_crossentropy"),
    "loss_categorical_focal": OutputHead(3, "softmax", "categorical_focal_crossentropy"),
    "loss_binary_focal": OutputHead(1, "sigmoid", "binary_focal_crossentropy"),
    "loss_multilabel": OutputHead(3, "sigmoid", "binary_crossentropy"),
    "loss_mean_absolute_error": OutputHead(2, "linear", "mean_absolute_error"),
    "loss_huber": OutputHead(2, "linear", "huber"),
    "loss_log_cosh": OutputHead(2, "linear", "log_cosh"),
    "loss_poisson": OutputHead(2, "exp", "poisson"),
    "loss_gamma": OutputHead(1, "exp", "gamma"),
    "loss_tweedie": OutputHead(1, "exp", "tweedie", (1.4,)),
    "loss_quantile_list": OutputHead(3, "increasing", "quantile", (0.1, 0.5, 0.9)),
    "loss_quantile": OutputHead(2, "linear", "quantile", (0.7,)),
}


def _loss_case(out):
    X, y = _classification(70, 4, 3, 5)
    rng = np.random.RandomState(8)
    if out.activation == "exp":  # counts, positive amounts, or both (Tweedie)
        mean = np.exp(0.3 * X[:, : out.units] + 0.5)
        Y = {"poisson": rng.poisson(mean), "gamma": rng.gamma(2.0, mean / 2.0)}.get(
            out.loss, rng.poisson(mean) * rng.gamma(2.0, 1.0, mean.shape)
        )
        Y = Y.astype(np.float32)
    elif out.loss == "quantile":
        Y = X[:, : out.target_width] + rng.normal(size=(70, out.target_width))
        Y = Y.astype(np.float32)
    elif out.activation == "linear":
        Y = np.stack([X[:, 0] - X[:, 1], np.sin(X[:, 2])], axis=1).astype(np.float32)
    elif out.units == 1:
        Y = (y[:, None] > 0).astype(np.float32)
    elif out.activation == "sigmoid":
        Y = (X[:, :3] > 0).astype(np.float32)
    else:
        Y = np.eye(3, dtype=np.float32)[y]
    task = "regression" if out.activation in ("linear", "exp", "increasing") else "classification"
    return X, Y, NetworkSpec(4, (5,), "tanh", (out,)), task


def case(name):
    """(key, weights, data, validation, schedule kwargs, chunk lengths) of a case."""
    validation = None
    task, early, solver, lr_schedule = "classification", False, "adam", "constant"
    if name in ("adam_class_weight", "chunks"):
        X, y = _classification(90, 5, 3, 0)
        spec = NetworkSpec(5, (4,), "relu", (SOFTMAX3,))
        Y = y[:, None].astype(np.float32)
        W = np.array([1.0, 3.0, 0.5], np.float32)[y]  # class weights
        params = dict(learning_rate=0.02, alpha=0.01, batch_size=16, max_epochs=12)
    elif name == "regressor_sample_weight":
        rng = np.random.RandomState(1)
        X = rng.randn(80, 4).astype(np.float32)
        Y = np.stack([X[:, 0] - X[:, 1], X[:, 2] ** 2], axis=1).astype(np.float32)
        spec = NetworkSpec(4, (5,), "tanh", (OutputHead(2, "linear", "mean_squared_error"),))
        W = rng.uniform(0.2, 2.0, 80).astype(np.float32)
        task = "regression"
        params = dict(learning_rate=0.01, alpha=1e-3, batch_size=25, max_epochs=15)
    elif name in ("early_stopping", "zero_weights"):
        X, y = _classification(120, 4, 2, 2)
        spec = NetworkSpec(4, (4,), "relu", (SIGMOID1,))
        Y = y[:, None].astype(np.float32)
        W = np.ones(120, np.float32)
        if name == "zero_weights":  # rows left out, in training and validation data
            W[::4] = 0.0
        validation = (X[:24], Y[:24], W[:24])
        X, Y, W = X[24:], Y[24:], W[24:]
        early = True
        params = dict(learning_rate=0.05, alpha=1e-4, batch_size=20, max_epochs=40,
                      n_iter_no_change=3)  # fmt: skip
    elif name == "sgd_adaptive":
        X, y = _classification(60, 3, 3, 3)
        spec = NetworkSpec(3, (4,), "tanh", (SOFTMAX3,))
        Y = y[:, None].astype(np.float32)
        W = np.ones(60, np.float32)
        solver, lr_schedule = "sgd", "adaptive"
        # A large tol makes the plateau come early: the rate shrinks, then stops.
        params = dict(learning_rate=0.2, alpha=1e-4, batch_size=16, max_epochs=30, tol=0.05,
                      n_iter_no_change=1)  # fmt: skip
    elif name == "dropout":
        X, y = _classification(80, 5, 3, 6)
        spec = NetworkSpec(5, (6, 5), "relu", (SOFTMAX3,), dropout=0.3)
        Y = y[:, None].astype(np.float32)
        W = np.ones(80, np.float32)
        params = dict(learning_rate=0.02, alpha=1e-4, batch_size=16, max_epochs=10,
                      dropout=0.3)  # fmt: skip
    elif name == "two_heads":  # multiclass-multioutput: a sigmoid and a softmax head
        X, y = _classification(80, 4, 3, 7)
        spec = NetworkSpec(4, (5,), "relu", (SIGMOID1, SOFTMAX3))
        Y = np.stack([(X[:, 2] > 0), y], axis=1).astype(np.float32)
        W = np.ones(80, np.float32)
        params = dict(learning_rate=0.02, alpha=1e-3, batch_size=16, max_epochs=10)
    elif name in ("body_batch_norm", "body_regularised"):
        # A Keras body: the general path (Keras's stateless_call), with
        # non-trainable variables (the moving statistics) carried along, or
        # with the body's own losses (kernel and activity regularisers).
        X, y = _classification(64, 4, 3, 4)
        spec = BodySpec(_body_config(name == "body_regularised"), (4,), (SOFTMAX3,))
        Y = y[:, None].astype(np.float32)
        W = np.ones(64, np.float32)
        params = dict(learning_rate=0.02, alpha=1e-3, batch_size=16, max_epochs=6)
    elif name == "counts_early_stopping":  # a D^2 validation score, its null loss
        X, Y, spec, task = _loss_case(OutputHead(1, "exp", "poisson"))
        W = np.ones(len(X), np.float32)
        validation = (X[:20], Y[:20], W[:20])
        X, Y, W = X[20:], Y[20:], W[20:]
        early = True
        params = dict(learning_rate=0.05, alpha=1e-4, batch_size=10, max_epochs=40,
                      n_iter_no_change=3)  # fmt: skip
    elif name == "embeddings":
        # Two numeric columns and two categorical ones (codes), whose categories
        # decide the class: the tables must learn for the loss to fall.
        rng = np.random.RandomState(8)
        city, shop = _codes(90, 12, 1), _codes(90, 5, 2)
        X = np.column_stack([rng.randn(90, 2), city, shop]).astype(np.float32)
        y = ((city % 3) + (shop > 2) + (X[:, 0] > 0)) % 3
        spec = NetworkSpec(4, (6,), "relu", (SOFTMAX3,), embeddings=((12, 4), (5, 3)))
        Y = y[:, None].astype(np.float32)
        W = np.ones(90, np.float32)
        solver = "sgd"  # unlike Adam's, its steps change with the gradient's scale
        params = dict(learning_rate=0.1, alpha=1e-3, batch_size=16, max_epochs=10)
    elif name == "body_two_inputs":
        rng = np.random.RandomState(9)
        image = rng.randn(60, 3, 3, 1).astype(np.float32)
        meta = rng.randn(60, 2).astype(np.float32)
        X = (image, meta)  # the engine's X for a body with several inputs
        y = np.digitize(image[:, 1, 1, 0] + meta[:, 0], [-0.5, 0.5])
        spec = BodySpec(_two_input_body_config(), ((3, 3, 1), (2,)), (SOFTMAX3,),
                        input_names=("image", "meta"))  # fmt: skip
        Y = y[:, None].astype(np.float32)
        W = np.ones(60, np.float32)
        params = dict(learning_rate=0.02, alpha=1e-3, batch_size=16, max_epochs=6)
    elif name in _LOSS_CASES:
        X, Y, spec, task = _loss_case(_LOSS_CASES[name])
        W = np.ones(len(X), np.float32)
        params = dict(learning_rate=0.02, alpha=1e-3, batch_size=16, max_epochs=8)
    else:
        raise KeyError(name)
    key = TrainerKey(
        network=spec,
        optimizer=OptimizerSpec(solver=solver),
        task=task,
        has_validation=validation is not None,
        early_stopping=early,
        learning_rate=lr_schedule,
    )
    weights = _initial_weights(spec)
    schedule = {"tol": 1e-4, "n_iter_no_change": 10, "seed": 11, **params}
    if validation is not None and task == "regression":
        from skout._engine import objective

        schedule["validation_baseline"] = objective.null_loss(spec.outputs, *validation[1:])
    chunks = [5, 4, 3] if name == "chunks" else [params["max_epochs"]]
    return key, weights, (X, Y, W), validation, schedule, chunks


def _initial_weights(spec):
    if isinstance(spec, NetworkSpec):
        return spec.initial_weights(np.random.RandomState(7))
    # A body's initializers run in Keras (backend-dependent streams): draw here.
    rng = np.random.RandomState(7)
    shapes = [w.shape for w in spec.initial_weights(np.random.RandomState(0))]
    return [rng.uniform(0.5, 1.0, s).astype(np.float32) for s in shapes]


CASES = ("adam_class_weight", "regressor_sample_weight", "early_stopping", "zero_weights",
         "sgd_adaptive", "chunks", "dropout", "two_heads", "body_batch_norm",
         "body_regularised", "counts_early_stopping", "embeddings", "body_two_inputs",
         *_LOSS_CASES)  # fmt: skip


def run_case(loop, name):
    """Run one case as the driver does: chunks of epochs, the carry handed on."""
    key, weights, data, validation, params, chunks = case(name)
    carry = Carry.fresh(params["learning_rate"])
    best, done, curve, scores = None, 0, [], []
    for epochs in chunks:
        schedule = Schedule(
            **{**params, "max_epochs": epochs},
            first_epoch=done,
            samples_seen=done * len(data[0]),
            shuffle=True,
        )
        result = loop.run_chunk(key, weights, data, validation, schedule, carry)
        weights, carry = result.weights, result.carry
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
        "learning_rate": float(carry.learning_rate),
    }


def loop_of_backend():
    """The loop module of this process's Keras backend."""
    from skout._engine import driver

    return driver.loop_for(driver.backend_name())


def main():
    """Entry point of the subprocess: every case as one JSON line."""
    loop = loop_of_backend()
    if loop.__name__.endswith("jax_loop"):
        # Several compiled calls per chunk: they must continue each other exactly.
        loop.EPOCHS_PER_CALL = 8
    print(json.dumps({name: run_case(loop, name) for name in CASES}))


def start(backend):
    """Start the cases in a ``KERAS_BACKEND=backend`` subprocess (it runs meanwhile)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": path,
           "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); "
        "import test_engine_backends as t; t.main()"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def collect(process):
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


def _installed(module):
    return importlib.util.find_spec(module) is not None


BACKENDS = [
    pytest.param(
        name, marks=pytest.mark.skipif(not _installed(name), reason=f"{name} is not installed")
    )
    for name in ("jax", "torch")
]


@pytest.fixture(scope="module")
def results():
    """Each backend's results, its subprocess started for all at the first use.

    The subprocesses run while this process computes the TensorFlow side.
    """
    running = {b: start(b) for b in ("jax", "torch") if _installed(b)}
    collected = {}

    def get(backend):
        if backend not in collected:
            collected[backend] = collect(running[backend])
        return collected[backend]

    yield get
    for process in running.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture(scope="module")
def tensorflow_results(results):
    """Every case on TensorFlow's loop (while the subprocesses run)."""
    from skout._engine import tf_loop

    return {name: run_case(tf_loop, name) for name in CASES}


def predictions(spec, weights, X):
    weights = [np.array(w, np.float32) for w in weights]
    if isinstance(spec, NetworkSpec):
        return forward(spec, weights, X)
    from skout._network import set_weights, to_numpy

    model = spec.build()
    set_weights(model, spec, weights)
    out = model(list(X) if isinstance(X, tuple) else X, training=False)
    return to_numpy(out if isinstance(out, (list, tuple)) else [out])


def assert_same_network(name, ours, theirs):
    spec = case(name)[0].network
    X = case(name)[2][0]
    assert ours["n_iter"] == theirs["n_iter"], name
    assert ours["stopped"] == theirs["stopped"], name
    np.testing.assert_allclose(ours["loss_curve"], theirs["loss_curve"], rtol=1e-3, atol=1e-5)
    if case(name)[0].task == "classification":
        # Accuracies are counts of rows right: equal, up to float32's share.
        np.testing.assert_allclose(ours["scores"], theirs["scores"], atol=1e-6)
    else:  # a D^2 of float32 losses: the losses' tolerance
        np.testing.assert_allclose(ours["scores"], theirs["scores"], rtol=1e-3, atol=1e-5)
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
    assert_same_network(name, results(backend)[name], tensorflow_results[name])


def test_cases_exercise_what_they_claim(tensorflow_results):
    """The runs the parity test compares really stop early, shrink the rate, run in
    chunks, drop units and leave rows out: each against the same case without it."""
    import dataclasses

    from skout._engine import tf_loop

    stopped = tensorflow_results["early_stopping"]
    assert stopped["stopped"] and stopped["n_iter"] < 40
    adaptive = tensorflow_results["sgd_adaptive"]
    assert adaptive["learning_rate"] < 0.2 / 5 * 1.0001
    assert tensorflow_results["chunks"]["n_iter"] == 12
    # Dropout and zero weights change the network trained (else their parity says nothing).
    key, weights, data, validation, params, _ = case("dropout")
    no_dropout = Schedule(**{**params, "dropout": 0.0}, shuffle=True)
    plain = tf_loop.run_chunk(
        dataclasses.replace(key, network=dataclasses.replace(key.network, dropout=0.0)),
        weights, data, validation, no_dropout, Carry.fresh(params["learning_rate"]),
    )  # fmt: skip
    assert not np.allclose(plain.loss_curve, tensorflow_results["dropout"]["loss_curve"])
    assert tensorflow_results["zero_weights"]["loss_curve"] != pytest.approx(
        tensorflow_results["early_stopping"]["loss_curve"]
    )
    # The body's own losses are in its objective.
    assert tensorflow_results["body_regularised"]["loss_curve"][0] > 0.5
    # The count model stops on its validation D^2, which improves from about 0.
    counts = tensorflow_results["counts_early_stopping"]
    assert counts["stopped"] and 0 < max(counts["scores"]) < 1
    # The tables learn (the categories decide the class), and the row no code
    # reads moves by the L2 term alone (it only shrinks).
    curve = tensorflow_results["embeddings"]["loss_curve"]
    assert curve[-1] < 0.8 * curve[0]
    key, start, *_ = case("embeddings")
    trained = tensorflow_results["embeddings"]["weights"]
    for t in (-2, -1):
        table, initial = np.asarray(trained[t]), start[t]
        assert not np.allclose(table[:-1], initial[:-1], atol=1e-3)
        assert np.all(np.abs(table[-1]) <= np.abs(initial[-1]) + 1e-7)
    # Both inputs of the two-input body reach the heads.
    assert tensorflow_results["body_two_inputs"]["loss_curve"][-1] < 1.0


@pytest.mark.skipif(not _installed("torch"), reason="torch is not installed")
@pytest.mark.skipif(not _installed("jax"), reason="jax is not installed")
def test_jax_and_torch_loops_draw_the_same_shuffled_batches(results):
    for name in CASES:
        assert_same_network(name, results("jax")[name], results("torch")[name])
