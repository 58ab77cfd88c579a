"""The objective (skout._engine.objective): each head's loss, output and decoding,
the weighting and the validation score, as every backend and the predict path use them."""

import importlib.util

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, r2_score

from skout._engine import objective
from skout._engine.arrays import numpy_ops
from skout._engine.objective import LOSSES
from skout.heads import LOSS_TABLE, OutputHead

XP = numpy_ops(np.float64)
RNG = np.random.RandomState(0)


def _target(loss, units, n=12, rng=RNG):
    family = {r.name: r.family for r in LOSS_TABLE}[loss]
    if family == "sparse":
        return rng.randint(0, units, (n, 1)).astype(np.float64)
    if family == "categorical":
        return np.eye(units)[rng.randint(0, units, n)]
    if family == "binary":
        return rng.randint(0, 2, (n, units)).astype(np.float64)
    return rng.randn(n, units)


def _activation(loss):
    return {r.name: r.activation for r in LOSS_TABLE}[loss]


TRAINED = sorted(LOSSES)


def test_every_loss_skout_trains_with_is_written_here():
    trainable = {r.name for r in LOSS_TABLE if r.trainable}
    assert trainable == set(LOSSES)


def _keras_value(loss, target, probabilities_or_values, units):
    """Keras's own loss (its default arguments) on the head's outputs, per row."""
    keras = pytest.importorskip("keras")
    fn = keras.losses.get(loss)
    if loss == "sparse_categorical_crossentropy":
        target = target[:, 0].astype(int)
    value = np.asarray(keras.ops.convert_to_numpy(fn(target, probabilities_or_values)))
    # skout sums a sigmoid head's loss over its units (the row's likelihood).
    return value * units if _activation(loss) == "sigmoid" else value


@pytest.mark.parametrize("loss", TRAINED)
def test_each_loss_means_what_keras_means_by_its_name(loss):
    units = 1 if loss == "binary_focal_crossentropy" else 3
    z = RNG.uniform(-3, 3, (12, units))  # moderate logits: Keras clips nothing
    t = _target(loss, units)
    ours = LOSSES[loss].value(XP, t, z, units)
    outputs = objective.output_values(XP, _activation(loss), z).astype(np.float32)
    theirs = _keras_value(loss, t.astype(np.float32), outputs, units)
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("loss", TRAINED)
def test_losses_stay_finite_where_probabilities_saturate(loss):
    # Logits of +-200: sigmoid and softmax round to exactly 0 and 1 in float64,
    # yet the loss (computed from logits) stays finite and exact.
    units = 2
    z = np.array([[200.0, -200.0], [-200.0, 200.0]])
    t = _target(loss, units, n=2)
    value = LOSSES[loss].value(XP, t, z, units)
    assert np.all(np.isfinite(value))


def _autodiff_backends():
    found = ["tensorflow"]
    for name in ("jax", "torch"):
        if importlib.util.find_spec(name) is not None:
            found.append(name)
    return found


def _x64():
    """JAX's 64-bit mode, for the duration of a block."""
    import jax

    try:
        return jax.enable_x64(True)
    except AttributeError:  # older JAX
        return jax.experimental.enable_x64()


def _autodiff_gradient(backend, fn, t, z):
    """d sum(fn(z)) / dz on ``backend``, in float64."""
    if backend == "tensorflow":
        import tensorflow as tf

        from skout._engine.arrays import tensorflow_ops

        zt = tf.constant(z)
        with tf.GradientTape() as tape:
            tape.watch(zt)
            total = tf.reduce_sum(fn(tensorflow_ops("float64"), tf.constant(t), zt))
        return tape.gradient(total, zt).numpy()
    if backend == "jax":
        import jax

        from skout._engine.arrays import jax_ops

        with _x64():
            grad = jax.grad(lambda v: fn(jax_ops("float64"), jax.numpy.asarray(t), v).sum())
            return np.asarray(grad(jax.numpy.asarray(z)))
    import torch

    from skout._engine.arrays import torch_ops

    zt = torch.tensor(z, requires_grad=True)
    fn(torch_ops("float64"), torch.tensor(t), zt).sum().backward()
    return zt.grad.numpy()


@pytest.mark.parametrize("backend", _autodiff_backends())
@pytest.mark.parametrize("loss", [name for name in TRAINED if LOSSES[name].value_and_gradient])
def test_written_out_gradients_are_the_derivative_of_the_loss(backend, loss):
    """The plug-in the PyTorch loop uses is held to the shared definition (its
    value) and to automatic differentiation of it (its gradient), on every backend."""
    units = 3
    z = RNG.uniform(-4, 4, (10, units))
    t = _target(loss, units, n=10)
    value, by_hand = LOSSES[loss].value_and_gradient(XP, t, z, units)
    np.testing.assert_allclose(value, LOSSES[loss].value(XP, t, z, units), rtol=1e-14)
    auto = _autodiff_gradient(backend, lambda xp, t, z: LOSSES[loss].value(xp, t, z, units), t, z)
    np.testing.assert_allclose(by_hand, auto, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", _autodiff_backends())
def test_every_backend_computes_the_same_loss(backend):
    from skout._engine.arrays import for_backend

    xp = for_backend(backend, "float64")
    if backend == "jax":
        context = _x64()
    else:
        from contextlib import nullcontext

        context = nullcontext()
    with context:
        for loss in TRAINED:
            units = 3
            z = RNG.uniform(-4, 4, (8, units))
            t = _target(loss, units, n=8)
            ours = LOSSES[loss].value(XP, t, z, units)
            theirs = LOSSES[loss].value(xp, xp.as_float(t), xp.as_float(z), units)
            np.testing.assert_allclose(np.asarray(theirs), ours, rtol=1e-12, err_msg=loss)


def test_output_values_are_probabilities_even_for_huge_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-1e300, 0.0, 1e300]])
    p = objective.output_values(XP, "softmax", z)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1.0)
    s = objective.output_values(XP, "sigmoid", np.array([[-1e4, 0.0, 1e4]]))
    np.testing.assert_array_equal(s, [[0.0, 0.5, 1.0]])


def test_zero_weight_rows_count_for_nothing_even_with_a_non_finite_loss():
    losses = np.array([1.0, np.inf, 3.0])
    weights = np.array([1.0, 0.0, 1.0])
    value, weight_sum = objective.batch_objective(XP, losses, weights, 4.0, 0.5)
    assert weight_sum == 2.0
    assert value == pytest.approx((1.0 + 3.0 + 0.5 * 0.5 * 4.0) / 2.0)


def test_batch_objective_is_mlps_with_unit_weights():
    losses = RNG.rand(7)
    value, _ = objective.batch_objective(XP, losses, np.ones(7), 2.0, 1e-2)
    # scikit-learn's MLP: mean(loss) + 0.5 * alpha * ||W||^2 / batch_size
    assert value == pytest.approx(losses.mean() + 0.5 * 1e-2 * 2.0 / 7)


def _heads_and_targets():
    n = 40
    binary = OutputHead(1, "sigmoid", "binary_crossentropy")
    softmax = OutputHead(3, "softmax", "sparse_categorical_crossentropy")
    onehot = OutputHead(3, "softmax", "categorical_crossentropy")
    multilabel = OutputHead(3, "sigmoid", "binary_crossentropy")
    return [
        ((binary,), RNG.randint(0, 2, (n, 1)).astype(float)),
        ((softmax,), RNG.randint(0, 3, (n, 1)).astype(float)),
        ((onehot,), np.eye(3)[RNG.randint(0, 3, n)]),
        ((multilabel,), RNG.randint(0, 2, (n, 3)).astype(float)),
        ((binary, softmax), np.column_stack([RNG.randint(0, 2, n), RNG.randint(0, 3, n)])),
    ]


@pytest.mark.parametrize("case", range(5))
def test_validation_accuracy_is_scikit_learns_on_the_decoded_labels(case):
    outputs, Y = _heads_and_targets()[case]
    Z = [RNG.randn(len(Y), out.units) for out in outputs]
    Z[0][:3] = 0.0  # ties at exactly 0.5 for sigmoid heads
    W = RNG.uniform(0, 2, len(Y))
    score, _ = objective.validation_metrics(XP, "classification", outputs, Y, Z, W)
    # decode each head as predict does, then compare whole rows with scikit-learn
    predicted, truth, start = [], [], 0
    for out, z in zip(outputs, Z):
        decided = objective.decode(XP, out, objective.output_values(XP, out.activation, z))
        predicted.append(decided.reshape(len(Y), -1))
        block = Y[:, start : start + out.target_width]
        start += out.target_width
        truth.append(block.argmax(axis=1)[:, None] if out.loss == "categorical_crossentropy"
                     else block.astype(int))  # fmt: skip
    rows_right = np.all(np.hstack(predicted) == np.hstack(truth), axis=1)
    expected = accuracy_score(np.ones(len(Y)), rows_right.astype(float), sample_weight=W)
    assert score == pytest.approx(expected, abs=1e-12)


def test_a_tie_decodes_to_the_negative_label_for_every_sigmoid_head():
    for units in (1, 3):
        out = OutputHead(units, "sigmoid", "binary_crossentropy")
        decided = objective.decode(XP, out, np.full((2, units), 0.5))
        assert np.all(decided == 0)


def test_validation_r2_is_scikit_learns_uniform_average():
    outputs = (OutputHead(2, "linear", "mean_squared_error"),)
    Y = RNG.randn(30, 2)
    Z = [Y + 0.3 * RNG.randn(30, 2)]
    W = RNG.uniform(0.1, 2, 30)
    score, loss = objective.validation_metrics(XP, "regression", outputs, Y, Z, W)
    assert score == pytest.approx(r2_score(Y, Z[0], sample_weight=W), rel=1e-12)
    assert loss == pytest.approx(np.average(((Z[0] - Y) ** 2).mean(axis=1), weights=W))
