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

#: One head per loss the engine trains with (two for the quantile loss: a
#: list of levels, and one level over two target columns).
HEADS = {
    "binary_crossentropy": OutputHead(3, "sigmoid", "binary_crossentropy"),
    "binary_focal_crossentropy": OutputHead(1, "sigmoid", "binary_focal_crossentropy"),
    "sparse_categorical_crossentropy": OutputHead(3, "softmax", "sparse_categorical_crossentropy"),
    "categorical_crossentropy": OutputHead(3, "softmax", "categorical_crossentropy"),
    "categorical_focal_crossentropy": OutputHead(3, "softmax", "categorical_focal_crossentropy"),
    "mean_squared_error": OutputHead(3, "linear", "mean_squared_error"),
    "mean_absolute_error": OutputHead(3, "linear", "mean_absolute_error"),
    "huber": OutputHead(3, "linear", "huber"),
    "log_cosh": OutputHead(3, "linear", "log_cosh"),
    "poisson": OutputHead(2, "exp", "poisson"),
    "gamma": OutputHead(2, "exp", "gamma"),
    "tweedie": OutputHead(2, "exp", "tweedie", (1.5,)),
    "quantile": OutputHead(3, "increasing", "quantile", (0.1, 0.5, 0.9)),
    "quantile, one level": OutputHead(2, "linear", "quantile", (0.3,)),
}


def _target(out, n=12, rng=RNG):
    if out.sparse_target:
        return rng.randint(0, out.units, (n, 1)).astype(np.float64)
    width = out.target_width
    if out.loss.startswith("categorical"):
        return np.eye(width)[rng.randint(0, width, n)]
    if out.activation == "sigmoid":
        return rng.randint(0, 2, (n, width)).astype(np.float64)
    if out.loss == "poisson":
        return rng.poisson(2.0, (n, width)).astype(np.float64)
    if out.loss == "gamma":
        return rng.gamma(2.0, 1.5, (n, width))
    if out.loss == "tweedie":  # compound Poisson-gamma: exact zeros and amounts
        return rng.poisson(1.0, (n, width)) * rng.gamma(2.0, 1.0, (n, width))
    return rng.randn(n, width)


def test_every_loss_skout_trains_with_is_written_here():
    trainable = {r.name for r in LOSS_TABLE if r.trainable}
    assert trainable == set(LOSSES)
    assert {out.loss for out in HEADS.values()} == set(LOSSES)


def _keras_value(out, target, values):
    """Keras's own loss (its default arguments) on the head's outputs, per row."""
    keras = pytest.importorskip("keras")
    fn = keras.losses.get(out.loss)
    if out.sparse_target:
        target = target[:, 0].astype(int)
    value = np.asarray(keras.ops.convert_to_numpy(fn(target, values)))
    # skout sums a sigmoid head's loss over its units (the row's likelihood).
    return value * out.units if out.activation == "sigmoid" else value


# skout's "poisson" is scikit-learn's (half the deviance): see below.
KERAS_NAMED = [
    name
    for name in HEADS
    if name in {r.name for r in LOSS_TABLE if r.keras_class} and name != "poisson"
]


@pytest.mark.parametrize("name", KERAS_NAMED)
def test_each_keras_loss_means_what_keras_means_by_its_name(name):
    out = HEADS[name]
    z = RNG.uniform(-3, 3, (12, out.units))  # moderate logits: Keras clips nothing
    t = _target(out)
    ours = LOSSES[out.loss].value(XP, t, z, out)
    outputs = objective.output_values(XP, out.activation, z).astype(np.float32)
    theirs = _keras_value(out, t.astype(np.float32), outputs)
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6)


def test_poisson_trains_as_keras_poisson_does():
    """Half the Poisson deviance differs from Keras's Poisson loss by terms in
    the target alone: for any two predictions, the two losses differ alike."""
    out = HEADS["poisson"]
    t = _target(out)
    z1, z2 = RNG.uniform(-1, 2, (2, 12, out.units))
    ours = [LOSSES["poisson"].value(XP, t, z, out) for z in (z1, z2)]
    theirs = [_keras_value(out, t, np.exp(z)) for z in (z1, z2)]
    np.testing.assert_allclose(ours[0] - ours[1], theirs[0] - theirs[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "name", ["poisson", "gamma", "tweedie", "quantile", "quantile, one level"]
)
def test_each_regression_loss_means_what_scikit_learn_means_by_it(name):
    from sklearn.metrics import (
        mean_gamma_deviance,
        mean_pinball_loss,
        mean_poisson_deviance,
        mean_tweedie_deviance,
    )

    out = HEADS[name]
    z = RNG.uniform(-1, 2, (40, out.units))
    t = _target(out, n=40)
    ours = LOSSES[out.loss].value(XP, t, z, out).mean()
    values = objective.output_values(XP, out.activation, z)
    if out.loss == "quantile":
        levels = out.loss_params * (out.units // len(out.loss_params))
        columns = range(out.units)
        theirs = np.mean([
            mean_pinball_loss(t[:, min(k, t.shape[1] - 1)], values[:, k], alpha=levels[k])
            for k in columns
        ])  # fmt: skip
    else:
        deviance = {
            "poisson": mean_poisson_deviance,
            "gamma": mean_gamma_deviance,
            "tweedie": lambda y, mu: mean_tweedie_deviance(y, mu, power=1.5),
        }[out.loss]
        theirs = np.mean([deviance(t[:, k], values[:, k]) for k in range(out.units)]) / 2
    assert ours == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize("name", list(HEADS))
def test_losses_stay_finite_where_probabilities_saturate(name):
    # Logits of +-30 (+-200 for probabilities): outputs round to 0 and 1, or
    # to huge means, yet the loss (computed from logits) stays finite.
    out = HEADS[name]
    bound = 30.0 if out.activation in ("exp", "increasing") else 200.0
    z = np.where(np.arange(out.units) % 2 == 0, bound, -bound)[None, :].repeat(2, axis=0)
    value = LOSSES[out.loss].value(XP, _target(out, n=2), z, out)
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
@pytest.mark.parametrize(
    "name", [name for name, out in HEADS.items() if LOSSES[out.loss].value_and_gradient]
)
def test_written_out_gradients_are_the_derivative_of_the_loss(backend, name):
    """The plug-in the PyTorch loop uses is held to the shared definition (its
    value) and to automatic differentiation of it (its gradient), on every backend."""
    out = HEADS[name]
    z = RNG.uniform(-2, 2, (10, out.units))
    t = _target(out, n=10)
    value, by_hand = LOSSES[out.loss].value_and_gradient(XP, t, z, out)
    np.testing.assert_allclose(value, LOSSES[out.loss].value(XP, t, z, out), rtol=1e-14)
    auto = _autodiff_gradient(
        backend, lambda xp, t, z: LOSSES[out.loss].value(xp, t, z, out), t, z
    )
    np.testing.assert_allclose(by_hand, auto, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", _autodiff_backends())
def test_every_backend_computes_the_same_loss(backend):
    from contextlib import nullcontext

    from skout._engine.arrays import for_backend

    xp = for_backend(backend, "float64")
    with _x64() if backend == "jax" else nullcontext():
        for name, out in HEADS.items():
            z = RNG.uniform(-2, 2, (8, out.units))
            t = _target(out, n=8)
            ours = LOSSES[out.loss].value(XP, t, z, out)
            theirs = LOSSES[out.loss].value(xp, xp.as_float(t), xp.as_float(z), out)
            np.testing.assert_allclose(np.asarray(theirs), ours, rtol=1e-12, err_msg=name)


def test_a_list_of_quantiles_never_crosses_whatever_the_logits():
    z = RNG.uniform(-50, 50, (200, 4))
    values = objective.output_values(XP, "increasing", z)
    assert np.all(np.diff(values, axis=1) >= 0)
    np.testing.assert_array_equal(values[:, 0], z[:, 0])


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


@pytest.mark.parametrize("tables", [(), ((6, 3), (4, 2))])
def test_the_prior_starts_the_heads_and_leaves_embedding_tables_alone(tables):
    """The heads are found after the hidden layers whether or not embedding
    tables follow them in the weight list."""
    from skout._network import NetworkSpec

    softmax = OutputHead(3, "softmax", "sparse_categorical_crossentropy")
    sigmoid = OutputHead(1, "sigmoid", "binary_crossentropy")
    spec = NetworkSpec(5, (4, 3), "relu", (sigmoid, softmax), embeddings=tables)
    weights = spec.initial_weights(np.random.RandomState(0))
    Y = np.column_stack([np.r_[np.ones(3), np.zeros(7)], np.r_[np.zeros(5), np.ones(3), 2, 2]])
    W = np.ones(10)
    started = objective.start_from_prior(weights, spec.outputs, Y, W, zero_kernels=True)
    explicit = objective.start_from_prior(
        weights, spec.outputs, Y, W, spec.heads_at, zero_kernels=True
    )
    for a, b in zip(started, explicit, strict=True):
        np.testing.assert_array_equal(a, b)
    at = spec.heads_at
    np.testing.assert_allclose(started[at + 1], [np.log(0.3 / 0.7)], rtol=1e-6)
    np.testing.assert_allclose(started[at + 3], np.log([0.5, 0.3, 0.2]), rtol=1e-6)
    assert not started[at].any() and not started[at + 2].any()
    for i in [*range(at), *range(spec.n_layer_weights, len(weights))]:  # the rest as it was
        np.testing.assert_array_equal(started[i], weights[i])
