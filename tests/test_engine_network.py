"""The dense network (skout._engine.network): forward pass, dropout draw and the
hand-written gradients, alike on every backend and in the NumPy predict path."""

import importlib.util
from contextlib import nullcontext

import numpy as np
import pytest

from skout._engine import network, objective
from skout._engine.arrays import for_backend, numpy_ops
from skout._network import NetworkSpec, init_weights
from skout.heads import OutputHead

XP = numpy_ops(np.float64)
BACKENDS = ["tensorflow"] + [b for b in ("jax", "torch") if importlib.util.find_spec(b)]
SOFTMAX3 = OutputHead(3, "softmax", "sparse_categorical_crossentropy")
SIGMOID1 = OutputHead(1, "sigmoid", "binary_crossentropy")
MULTILABEL = OutputHead(3, "sigmoid", "binary_crossentropy")
LINEAR2 = OutputHead(2, "linear", "mean_squared_error")


def _x64(backend):
    if backend != "jax":
        return nullcontext()
    import jax

    try:
        return jax.enable_x64(True)
    except AttributeError:  # older JAX
        return jax.experimental.enable_x64()


def _numpy(value):
    if hasattr(value, "detach"):
        value = value.detach()
    return np.asarray(value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_drops_the_same_units(backend):
    xp = for_backend(backend)
    reference = network.keep_mask(XP, 33, 17, seed=2**31 - 5, epoch=123456, batch=9, layer=2,
                                  rate=0.3)  # fmt: skip
    mask = network.keep_mask(xp, 33, 17, seed=2**31 - 5, epoch=123456, batch=9, layer=2,
                             rate=0.3)  # fmt: skip
    np.testing.assert_array_equal(_numpy(mask), reference)


def test_dropout_keeps_units_at_its_rate_and_every_draw_differs():
    masks = {
        (epoch, batch, layer): network.keep_mask(
            XP, 100, 100, seed=7, epoch=epoch, batch=batch, layer=layer, rate=0.25
        )  # fmt: skip
        for epoch in (0, 1)
        for batch in (0, 1)
        for layer in (0, 1)
    }
    kept = np.mean([m.mean() for m in masks.values()])
    # 80,000 draws: the share kept is 0.75 within 5 standard deviations (0.0077).
    assert abs(kept - 0.75) < 5 * np.sqrt(0.75 * 0.25 / 80_000)
    flat = [m.ravel() for m in masks.values()]
    assert all(not np.array_equal(a, b) for i, a in enumerate(flat) for b in flat[i + 1 :])
    # and the same key gives the same mask
    again = network.keep_mask(XP, 100, 100, seed=7, epoch=1, batch=0, layer=1, rate=0.25)
    np.testing.assert_array_equal(again, masks[1, 0, 1])


def _reference_forward(spec, weights, X):
    """The dense network, written the plain way (NumPy, float64): each code
    column one-hot encoded and multiplied by its table."""
    acts = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "linear": lambda z: z,
            "sigmoid": lambda z: 1 / (1 + np.exp(-z))}  # fmt: skip
    k = len(spec.embeddings)
    h = X[:, : X.shape[1] - k]
    for t, (rows, _) in enumerate(spec.embeddings):
        one_hot = np.eye(rows)[X[:, X.shape[1] - k + t].astype(int)]
        h = np.hstack([h, one_hot @ weights[spec.n_layer_weights + t]])
    depth = len(spec.hidden_layer_sizes)
    for i in range(depth):
        h = acts[spec.activation](h @ weights[2 * i] + weights[2 * i + 1])
    outputs = []
    for j, out in enumerate(spec.outputs):
        z = h @ weights[2 * (depth + j)] + weights[2 * (depth + j) + 1]
        if out.activation == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            z = e / e.sum(axis=1, keepdims=True)
        elif out.activation == "sigmoid":
            z = 1 / (1 + np.exp(-z))
        outputs.append(z)
    return outputs


@pytest.mark.parametrize("hidden", [(), (5,), (4, 3)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_the_predict_path_runs_the_network_as_written(hidden, activation):
    spec = NetworkSpec(6, hidden, activation, (SIGMOID1, SOFTMAX3))
    weights = [w.astype(np.float64) for w in init_weights(spec, np.random.RandomState(0))]
    X = np.random.RandomState(1).randn(9, 6)
    for ours, plain in zip(
        network.forward(spec, weights, X), _reference_forward(spec, weights, X)
    ):
        np.testing.assert_allclose(ours, plain, rtol=1e-12)


def _autodiff_objective_gradients(backend, depth, activation, outputs, params, X, Y, W, alpha,
                                  dropout, n_tables=0):  # fmt: skip
    """Gradients of the shared objective by the backend's automatic differentiation."""
    xp = for_backend(backend, "float64")
    n_layers = len(params) - n_tables
    kernels = [*range(0, n_layers, 2), *range(n_layers, len(params))]

    def value(ps):
        Z = network.dense_logits(xp, depth, activation, ps, xp.as_float(X), dropout, n_tables)
        losses = objective.per_sample_loss(xp, outputs, xp.as_float(Y), Z)
        squared = objective.penalty(xp, ps, kernels)
        return objective.batch_objective(xp, losses, xp.as_float(W), squared, alpha)[0]

    if backend == "tensorflow":
        import tensorflow as tf

        ps = [tf.constant(p) for p in params]
        with tf.GradientTape() as tape:
            tape.watch(ps)
            total = value(ps)
        return [g.numpy() for g in tape.gradient(total, ps)]
    if backend == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(value)([jax.numpy.asarray(p) for p in params])]
    import torch

    ps = [torch.tensor(p, requires_grad=True) for p in params]
    grads = torch.autograd.grad(value(ps), ps, allow_unused=True)
    return [np.zeros_like(p) if g is None else g.numpy() for g, p in zip(grads, params)]


#: (rows, width) of two embedding tables: the cases with tables read the last
#: two columns of X as codes.
TABLES = ((5, 3), (4, 2))

CASES = {
    "softmax": ((5,), "relu", (SOFTMAX3,), None, ()),
    "two heads, tanh": ((4, 3), "tanh", (SIGMOID1, SOFTMAX3), None, ()),
    "multilabel, sigmoid": ((4,), "sigmoid", (MULTILABEL,), None, ()),
    "regression, no hidden layer": ((), "relu", (LINEAR2,), None, ()),
    "dropout": ((6, 5), "relu", (SOFTMAX3,), 0.4, ()),
    "embeddings": ((5,), "tanh", (SOFTMAX3,), None, TABLES),
    "embeddings, two layers, dropout": ((4, 3), "relu", (SIGMOID1, SOFTMAX3), 0.3, TABLES),
    "embeddings, no hidden layer": ((), "relu", (LINEAR2,), None, TABLES),
}


def _with_codes(X, tables, rng):
    """X with its last len(tables) columns replaced by codes (a row repeated, a
    row never read: index_add must sum the one and leave the other at 0)."""
    X = X.copy()
    for t, (rows, _) in enumerate(tables):
        X[:, X.shape[1] - len(tables) + t] = rng.randint(0, rows - 1, len(X))
    return X


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CASES))
def test_hand_written_backpropagation_is_the_gradient_of_the_objective(backend, name):
    """The TensorFlow and PyTorch loops' by-hand path trains what automatic differentiation of
    the shared objective trains: same value, same gradients (with zero weights,
    the L2 term, dropout and several heads)."""
    hidden, activation, outputs, rate, tables = CASES[name]
    spec = NetworkSpec(4, hidden, activation, outputs, embeddings=tables)
    rng = np.random.RandomState(3)
    params = [w.astype(np.float64) for w in init_weights(spec, rng)]
    # Tables drawn as large as the kernels, so that their rows matter.
    params = [p * 20 if i >= spec.n_layer_weights else p for i, p in enumerate(params)]
    X = _with_codes(rng.randn(12, 4), tables, rng)
    blocks = []
    for out in outputs:
        if out.activation == "linear":
            blocks.append(rng.randn(12, out.units))
        elif out.sparse_target:
            blocks.append(rng.randint(0, out.units, (12, 1)).astype(float))
        else:
            blocks.append(rng.randint(0, 2, (12, out.units)).astype(float))
    Y = np.hstack(blocks)
    W = rng.uniform(0, 2, 12)
    W[[2, 7]] = 0.0
    dropout = None if rate is None else {"rate": rate, "seed": 5, "epoch": 3, "batch": 1}
    value, _, grads = network.dense_objective_and_gradients(
        XP, len(hidden), activation, outputs, params, X, Y, W, 0.01, dropout, len(tables)
    )
    with _x64(backend):
        auto = _autodiff_objective_gradients(backend, len(hidden), activation, outputs, params,
                                             X, Y, W, 0.01, dropout, len(tables))  # fmt: skip
    for ours, theirs in zip(grads, auto, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert np.isfinite(value)
    for t, table_gradient in enumerate(grads[spec.n_layer_weights :]):
        # The last row is never read: its gradient is the L2 term's alone.
        table = params[spec.n_layer_weights + t]
        weight_sum = W.sum()
        np.testing.assert_allclose(table_gradient[-1], 0.01 / weight_sum * table[-1])
        assert np.abs(table_gradient[:-1]).sum() > 10 * np.abs(table_gradient[-1]).sum()


@pytest.mark.parametrize("hidden", [(), (5,)])
def test_the_predict_path_reads_each_code_columns_table(hidden):
    """Code c of a categorical column is row c of its table, beside the numeric
    columns: the same as one-hot codes times the table."""
    spec = NetworkSpec(5, hidden, "relu", (SIGMOID1, SOFTMAX3), embeddings=TABLES)
    rng = np.random.RandomState(0)
    weights = [w.astype(np.float64) for w in init_weights(spec, rng)]
    weights = [w * 20 if i >= spec.n_layer_weights else w for i, w in enumerate(weights)]
    X = _with_codes(rng.randn(9, 5), TABLES, rng)
    for ours, plain in zip(
        network.forward(spec, weights, X), _reference_forward(spec, weights, X), strict=True
    ):
        np.testing.assert_allclose(ours, plain, rtol=1e-12)
    # and the tables really are read: another row for one sample changes its output
    changed = X.copy()
    changed[0, -1] = (X[0, -1] + 1) % 4
    assert not np.allclose(network.forward(spec, weights, changed)[1][0],
                           network.forward(spec, weights, X)[1][0])  # fmt: skip


@pytest.mark.parametrize("backend", ["numpy", *BACKENDS])
def test_take_and_index_add_are_a_gather_and_its_gradient_on_every_backend(backend):
    xp = for_backend(backend, "float64")
    table = np.arange(12.0).reshape(4, 3)
    index = np.array([2.0, 0.0, 2.0])  # codes arrive as floats; 2 is read twice
    values = np.ones((3, 3))
    with _x64(backend):
        taken = _numpy(xp.take(xp.as_float(table), xp.as_float(index)))
        added = _numpy(xp.index_add(xp.as_float(np.zeros((4, 3))), xp.as_float(index),
                                    xp.as_float(values)))  # fmt: skip
    np.testing.assert_array_equal(taken, table[[2, 0, 2]])
    np.testing.assert_array_equal(added, [[1, 1, 1], [0, 0, 0], [2, 2, 2], [0, 0, 0]])
