"""The objective, written once: each head's output, loss and decoding, the
weighting, the L2 term and the validation score.

Every function here takes the array namespace ``xp`` (:mod:`.arrays`) first,
so the TensorFlow, JAX and PyTorch loops differentiate and compile the same
definitions, and NumPy runs them in the predict path (the output functions
and the decoding) and in the tests.

Heads are trained on their *logits* ``z``: the output layer's values before
its activation (a linear predictor for regression). A loss reads ``z`` and
applies the head's link inside, in the numerically stable form (``softplus``
for binary cross-entropy, ``logsumexp`` for the softmax ones), so no
probability is clipped; :func:`output_values` applies the activation for
predictions. The losses mean what Keras's losses of the same names mean
(Keras's default arguments; ``from_logits`` is implied), except that a
sigmoid head's loss is summed over its units (the negative log-likelihood of
the row, what scikit-learn's MLP minimises) where Keras averages them
(:attr:`~skout.heads.OutputHead.loss_scale`).

A loss may carry its value and gradient with respect to ``z`` written out
together (:attr:`Loss.value_and_gradient`, sharing the softmax or the
difference between them): a faster path for loops that do not differentiate
(PyTorch's dense path). ``tests/test_engine_objective.py`` holds every such
plug-in to :attr:`Loss.value` and to its automatic derivative.

Examples
--------
>>> import numpy as np
>>> from skout._engine.arrays import numpy_ops
>>> from skout._engine.objective import LOSSES
>>> xp = numpy_ops(np.float64)
>>> z = np.array([[0.0], [2.0]])
>>> LOSSES["binary_crossentropy"].value(xp, np.array([[1.0], [0.0]]), z, 1).round(4)
array([0.6931, 2.1269])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "EPS",
    "LOSSES",
    "Loss",
    "batch_objective",
    "correct",
    "decode",
    "epoch_loss",
    "losses_and_logit_gradients",
    "output_values",
    "penalty",
    "per_sample_loss",
    "validation_metrics",
]

#: Smallest total weight a mean divides by.
EPS = 1e-12
_LOG2 = math.log(2.0)


# -- the heads' activations ---------------------------------------------------------
def _softplus(xp, z):
    """``log(1 + exp(z))`` without overflow."""
    return xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z)))


def _logsumexp(xp, z):
    """``log(sum(exp(z), axis=1))`` without overflow: shape (n,)."""
    top = xp.stop_gradient(xp.max(z, axis=1, keepdims=True))
    return top[:, 0] + xp.log(xp.sum(xp.exp(z - top), axis=1))


def _softmax(xp, z):
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1)[:, None]


#: The output layer's activation, from logits to what ``predict_proba`` /
#: ``predict`` read (the inverse link).
OUTPUT_FUNCTIONS = {
    "sigmoid": lambda xp, z: xp.sigmoid(z),
    "softmax": _softmax,
    "linear": lambda xp, z: z,
}


def output_values(xp, activation, z):
    """The head's outputs from its logits ``z`` (probabilities, or values)."""
    return OUTPUT_FUNCTIONS[activation](xp, z)


# -- the losses -------------------------------------------------------------------------
@dataclass(frozen=True)
class Loss:
    """One loss of the head table, as the engine computes it.

    Attributes
    ----------
    name : str
        Keras's name for the loss (:data:`skout.heads.LOSS_TABLE`).
    value : callable
        ``value(xp, target, z, units)``: the loss of each row, shape (n,).
        ``target`` is the head's block of the encoded target: class indices
        (n, 1) for a sparse loss, else (n, units); ``units`` is the head's
        width (static, where a compiled program's shapes are not).
    value_and_gradient : callable or None
        ``value_and_gradient(xp, target, z, units)``: the value and d value /
        d z (shape (n, units)) in one pass, for loops that do not
        differentiate; None where only automatic differentiation is used.
    """

    name: str
    value: object
    value_and_gradient: object = None


def _mean_over_units(xp, elementwise, units):
    return xp.sum(elementwise, axis=1) / units


def _one_hot(xp, index, units):
    """(n, units) float one-hot rows from class indices of shape (n, 1)."""
    return xp.as_float(xp.equal(xp.arange(units)[None, :], xp.as_int(index)))


def _binary_crossentropy(xp, t, z, units):
    return xp.sum(_softplus(xp, z) - t * z, axis=1)


def _binary_crossentropy_and_gradient(xp, t, z, units):
    return _binary_crossentropy(xp, t, z, units), xp.sigmoid(z) - t


def _binary_focal_crossentropy(xp, t, z, units, gamma=2.0):
    # Keras's BinaryFocalCrossentropy(gamma=2.0), apply_class_balancing=False.
    p = xp.sigmoid(z)
    p_t = t * p + (1.0 - t) * (1.0 - p)
    return xp.sum(xp.power(1.0 - p_t, gamma) * (_softplus(xp, z) - t * z), axis=1)


def _sparse_categorical_crossentropy(xp, t, z, units):
    return _logsumexp(xp, z) - xp.sum(_one_hot(xp, t, units) * z, axis=1)


def _categorical_crossentropy(xp, t, z, units):
    return xp.sum(t, axis=1) * _logsumexp(xp, z) - xp.sum(t * z, axis=1)


def _softmax_parts(xp, z):
    """(logsumexp of each row, softmax): one exponential for both."""
    top = xp.max(z, axis=1, keepdims=True)
    e = xp.exp(z - top)
    total = xp.sum(e, axis=1)
    return top[:, 0] + xp.log(total), e / total[:, None]


def _sparse_categorical_crossentropy_and_gradient(xp, t, z, units):
    lse, p = _softmax_parts(xp, z)
    one_hot = _one_hot(xp, t, units)
    return lse - xp.sum(one_hot * z, axis=1), p - one_hot


def _categorical_crossentropy_and_gradient(xp, t, z, units):
    lse, p = _softmax_parts(xp, z)
    mass = xp.sum(t, axis=1)
    return mass * lse - xp.sum(t * z, axis=1), mass[:, None] * p - t


def _mean_squared_error(xp, t, z, units):
    return _mean_over_units(xp, xp.square(z - t), units)


def _mean_squared_error_and_gradient(xp, t, z, units):
    difference = z - t
    return _mean_over_units(xp, xp.square(difference), units), (2.0 / units) * difference


def _categorical_focal_crossentropy(xp, t, z, units, alpha=0.25, gamma=2.0):
    # Keras's CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0).
    log_p = z - _logsumexp(xp, z)[:, None]
    p = xp.exp(log_p)
    return xp.sum(-alpha * xp.power(1.0 - p, gamma) * t * log_p, axis=1)


def _huber(xp, t, z, units, delta=1.0):
    error = xp.abs(z - t)
    elementwise = xp.where(error <= delta, 0.5 * xp.square(error), delta * error - 0.5 * delta**2)
    return _mean_over_units(xp, elementwise, units)


def _log_cosh(xp, t, z, units):
    x = z - t
    return _mean_over_units(xp, x + _softplus(xp, -2.0 * x) - _LOG2, units)


#: Every loss skout trains with, by Keras's name.
LOSSES = {
    loss.name: loss
    for loss in (
        Loss("binary_crossentropy", _binary_crossentropy, _binary_crossentropy_and_gradient),
        Loss("binary_focal_crossentropy", _binary_focal_crossentropy),
        Loss(
            "sparse_categorical_crossentropy",
            _sparse_categorical_crossentropy,
            _sparse_categorical_crossentropy_and_gradient,
        ),
        Loss(
            "categorical_crossentropy",
            _categorical_crossentropy,
            _categorical_crossentropy_and_gradient,
        ),
        Loss("categorical_focal_crossentropy", _categorical_focal_crossentropy),
        Loss("mean_squared_error", _mean_squared_error, _mean_squared_error_and_gradient),
        Loss(
            "mean_absolute_error",
            lambda xp, t, z, units: _mean_over_units(xp, xp.abs(z - t), units),
        ),
        Loss("huber", _huber),
        Loss("log_cosh", _log_cosh),
    )
}


def _blocks(outputs, Y):
    """Each output's block of the encoded target ``Y``."""
    start = 0
    for out in outputs:
        yield Y[:, start : start + out.target_width]
        start += out.target_width


def per_sample_loss(xp, outputs, Y, Z):
    """The loss of each row, summed over the heads: shape (n,).

    Parameters
    ----------
    outputs : sequence of OutputHead
    Y : array of shape (n, sum of target widths)
        The encoded target.
    Z : list of arrays
        Each head's logits, (n, units).
    """
    total = None
    for out, target, z in zip(outputs, _blocks(outputs, Y), Z):
        value = LOSSES[out.loss].value(xp, target, z, out.units)
        total = value if total is None else total + value
    return total


def gradients_available(outputs):
    """Whether every head's loss has its value and gradient written out."""
    return all(LOSSES[out.loss].value_and_gradient is not None for out in outputs)


def losses_and_logit_gradients(xp, outputs, Y, Z):
    """The loss of each row (as :func:`per_sample_loss`) and, for each head,
    d loss_i / d z_i (n, units), from the written-out gradients."""
    total, gradients = None, []
    for out, target, z in zip(outputs, _blocks(outputs, Y), Z):
        value, gradient = LOSSES[out.loss].value_and_gradient(xp, target, z, out.units)
        total = value if total is None else total + value
        gradients.append(gradient)
    return total, gradients


# -- weighting and the L2 term ---------------------------------------------------------
def penalty(xp, params, kernel_indices):
    """``||W||^2``: the sum of squared kernel entries (biases are not penalised)."""
    total = 0.0
    for i in kernel_indices:
        squares = xp.sum(xp.square(params[i]))
        total = squares if isinstance(total, float) else total + squares
    return total


def batch_objective(xp, losses, weights, squared_norm, alpha):
    """The mini-batch objective and the batch's total weight.

    scikit-learn's ``MLPClassifier``/``MLPRegressor`` convention: ``(sum_i
    w_i * loss_i + 0.5 * alpha * ||W||^2) / sum_i w_i``; with unit weights,
    MLP's ``mean(loss) + 0.5 * alpha * ||W||^2 / batch_size``. Rows of zero
    weight (left out, or padding) count for nothing, even where their loss is
    not finite.

    Returns
    -------
    objective, weight_sum : scalars
    """
    weight_sum = xp.maximum(xp.sum(weights), EPS)
    weighted = xp.where(weights > 0, losses, 0.0) * weights
    objective = (xp.sum(weighted) + 0.5 * alpha * squared_norm) / weight_sum
    return objective, weight_sum


def epoch_loss(objective_times_weight_sum, total_weight):
    """The epoch loss: the batches' objectives averaged by batch weight."""
    return objective_times_weight_sum / total_weight


# -- decoding and the validation score -----------------------------------------------
def decode(xp, out, values):
    """What ``predict`` decides from one head's outputs, as indices.

    A one-unit sigmoid head: class 1 where its probability is above 0.5 (a
    tie is class 0, as in ``MLPClassifier``), shape (n,); several sigmoid
    units (multilabel): a 0/1 int matrix, each label above 0.5; softmax: the
    index of the largest probability, shape (n,).
    """
    if out.activation == "sigmoid":
        decided = xp.as_int(xp.greater(values, 0.5))
        return decided[:, 0] if out.units == 1 else decided
    return xp.argmax(values, axis=1)


def correct(xp, outputs, Y, Z):
    """1.0 for each row whose every head decodes to its target, else 0.0."""
    ok = None
    for out, target, z in zip(outputs, _blocks(outputs, Y), Z):
        decided = decode(xp, out, output_values(xp, out.activation, z))
        if out.activation == "sigmoid" and out.units > 1:
            right = xp.all(xp.equal(decided, xp.as_int(target)), axis=1)
        elif out.activation == "sigmoid" or out.sparse_target:
            right = xp.equal(decided, xp.as_int(target[:, 0]))
        else:  # softmax over one-hot (or soft) target rows
            right = xp.equal(decided, xp.argmax(target, axis=1))
        ok = right if ok is None else xp.logical_and(ok, right)
    return xp.as_float(ok)


def validation_metrics(xp, task, outputs, Y, Z, W):
    """(score, loss) on validation data.

    The score is MLP's: accuracy (every head right) for classification, R^2
    averaged over the outputs for regression (on the encoded target); the
    loss is the weighted data loss, without the L2 term.
    """
    weight_sum = xp.maximum(xp.sum(W), EPS)
    losses = xp.where(W > 0, per_sample_loss(xp, outputs, Y, Z), 0.0) * W
    loss = xp.sum(losses) / weight_sum
    if task == "classification":
        return xp.sum(correct(xp, outputs, Y, Z) * W) / weight_sum, loss
    values = [output_values(xp, out.activation, z) for out, z in zip(outputs, Z)]
    prediction = xp.concat(values, axis=1) if len(values) > 1 else values[0]
    w = W[:, None]
    mean = xp.sum(Y * w, axis=0) / weight_sum
    ss_res = xp.sum(w * xp.square(Y - prediction), axis=0)
    ss_tot = xp.sum(w * xp.square(Y - mean), axis=0)
    r2 = xp.where(ss_tot > 0, 1.0 - ss_res / xp.maximum(ss_tot, EPS), 0.0)
    return xp.sum(r2) / sum(out.units for out in outputs), loss
