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
>>> from skout.heads import OutputHead
>>> out = OutputHead(1, "sigmoid", "binary_crossentropy")
>>> LOSSES["binary_crossentropy"].value(xp, np.array([[1.0], [0.0]]), z, out).round(4)
array([0.6931, 2.1269])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EPS",
    "LOSSES",
    "Loss",
    "batch_objective",
    "correct",
    "decode",
    "epoch_loss",
    "log_output_values",
    "losses_and_logit_gradients",
    "output_values",
    "null_loss",
    "penalty",
    "per_sample_loss",
    "prior_logits",
    "start_from_prior",
    "validation_metrics",
    "weighted_quantile",
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


def _increasing(xp, z):
    """Values that never decrease along a row: the first logit, then each next
    one above it by softplus of its logit (a list of quantiles never crosses)."""
    first = z[:, :1]
    return xp.concat([first, first + xp.cumsum(_softplus(xp, z[:, 1:]), axis=1)], axis=1)


#: The output layer's activation, from logits to what ``predict_proba`` /
#: ``predict`` read (the inverse link).
OUTPUT_FUNCTIONS = {
    "sigmoid": lambda xp, z: xp.sigmoid(z),
    "softmax": _softmax,
    "linear": lambda xp, z: z,
    "exp": lambda xp, z: xp.exp(z),  # a log link: the values are means
    "increasing": _increasing,
}


def output_values(xp, activation, z):
    """The head's outputs from its logits ``z`` (probabilities, or values)."""
    return OUTPUT_FUNCTIONS[activation](xp, z)


def log_output_values(xp, activation, z):
    """The logarithm of a classification head's probabilities, from its logits:
    log-softmax, or log-sigmoid (``-softplus(-z)``), finite where the
    probability itself rounds to 0.
    """
    if activation == "softmax":
        return z - _logsumexp(xp, z)[:, None]
    if activation == "sigmoid":
        return -_softplus(xp, -z)
    raise ValueError(f"{activation!r} outputs are not probabilities")


# -- the losses -------------------------------------------------------------------------
@dataclass(frozen=True)
class Loss:
    """One loss of the head table, as the engine computes it.

    Attributes
    ----------
    name : str
        Keras's name for the loss (:data:`skout.heads.LOSS_TABLE`).
    value : callable
        ``value(xp, target, z, out)``: the loss of each row, shape (n,).
        ``target`` is the head's block of the encoded target: class indices
        (n, 1) for a sparse loss, else (n, target width); ``out`` is the
        :class:`~skout.heads.OutputHead` (its width, static where a compiled
        program's shapes are not, and its loss parameters).
    value_and_gradient : callable or None
        ``value_and_gradient(xp, target, z, out)``: the value and d value /
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


def _binary_crossentropy(xp, t, z, out):
    return xp.sum(_softplus(xp, z) - t * z, axis=1)


def _binary_crossentropy_and_gradient(xp, t, z, out):
    return _binary_crossentropy(xp, t, z, out), xp.sigmoid(z) - t


def _binary_focal_crossentropy(xp, t, z, out, gamma=2.0):
    # Keras's BinaryFocalCrossentropy(gamma=2.0), apply_class_balancing=False.
    p = xp.sigmoid(z)
    p_t = t * p + (1.0 - t) * (1.0 - p)
    return xp.sum(xp.power(1.0 - p_t, gamma) * (_softplus(xp, z) - t * z), axis=1)


def _sparse_categorical_crossentropy(xp, t, z, out):
    return _logsumexp(xp, z) - xp.sum(_one_hot(xp, t, out.units) * z, axis=1)


def _categorical_crossentropy(xp, t, z, out):
    return xp.sum(t, axis=1) * _logsumexp(xp, z) - xp.sum(t * z, axis=1)


def _softmax_parts(xp, z):
    """(logsumexp of each row, softmax): one exponential for both."""
    top = xp.max(z, axis=1, keepdims=True)
    e = xp.exp(z - top)
    total = xp.sum(e, axis=1)
    return top[:, 0] + xp.log(total), e / total[:, None]


def _sparse_categorical_crossentropy_and_gradient(xp, t, z, out):
    lse, p = _softmax_parts(xp, z)
    one_hot = _one_hot(xp, t, out.units)
    return lse - xp.sum(one_hot * z, axis=1), p - one_hot


def _categorical_crossentropy_and_gradient(xp, t, z, out):
    lse, p = _softmax_parts(xp, z)
    mass = xp.sum(t, axis=1)
    return mass * lse - xp.sum(t * z, axis=1), mass[:, None] * p - t


def _categorical_focal_crossentropy(xp, t, z, out, alpha=0.25, gamma=2.0):
    # Keras's CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0).
    log_p = z - _logsumexp(xp, z)[:, None]
    p = xp.exp(log_p)
    return xp.sum(-alpha * xp.power(1.0 - p, gamma) * t * log_p, axis=1)


def _mean_squared_error(xp, t, z, out):
    return _mean_over_units(xp, xp.square(z - t), out.units)


def _mean_squared_error_and_gradient(xp, t, z, out):
    difference = z - t
    return _mean_over_units(xp, xp.square(difference), out.units), (2.0 / out.units) * difference


def _mean_absolute_error(xp, t, z, out):
    return _mean_over_units(xp, xp.abs(z - t), out.units)


def _mean_absolute_error_and_gradient(xp, t, z, out):
    difference = z - t
    return _mean_over_units(xp, xp.abs(difference), out.units), xp.sign(difference) / out.units


def _huber(xp, t, z, out, delta=1.0):
    error = xp.abs(z - t)
    elementwise = xp.where(error <= delta, 0.5 * xp.square(error), delta * error - 0.5 * delta**2)
    return _mean_over_units(xp, elementwise, out.units)


def _log_cosh(xp, t, z, out):
    x = z - t
    return _mean_over_units(xp, x + _softplus(xp, -2.0 * x) - _LOG2, out.units)


# Regression on a log link (z = log of the mean): half the unit deviance of
# the distribution, constants included, so that it is 0 for a perfect fit
# and its validation D^2 is scikit-learn's d2_tweedie_score.
def _xlogy(xp, t):
    """``t * log(t)``, 0 at ``t = 0``."""
    positive = xp.greater(t, 0.0)
    return xp.where(positive, t * xp.log(xp.where(positive, t, 1.0)), 0.0)


def _tweedie_power(out):
    if out.loss == "poisson":
        return 1.0
    if out.loss == "gamma":
        return 2.0
    return float(out.loss_params[0])


def _half_deviance(xp, t, z, out):
    """Half the Tweedie deviance of the mean exp(z): Poisson (power 1), gamma
    (power 2) or compound Poisson-gamma (1 < power < 2)."""
    power = _tweedie_power(out)
    if power == 1.0:
        elementwise = _xlogy(xp, t) - t * z - t + xp.exp(z)
    elif power == 2.0:
        log_t = xp.log(xp.where(xp.greater(t, 0.0), t, 1.0))
        elementwise = z - log_t + t * xp.exp(-z) - 1.0
    else:
        a, b = 1.0 - power, 2.0 - power
        elementwise = xp.power(t, b) / (a * b) - t * xp.exp(a * z) / a + xp.exp(b * z) / b
    return _mean_over_units(xp, elementwise, out.units)


def _half_deviance_and_gradient(xp, t, z, out):
    power = _tweedie_power(out)
    if power == 1.0:
        gradient = xp.exp(z) - t
    elif power == 2.0:
        gradient = 1.0 - t * xp.exp(-z)
    else:
        gradient = xp.exp((2.0 - power) * z) - t * xp.exp((1.0 - power) * z)
    return _half_deviance(xp, t, z, out), gradient / out.units


def _levels(xp, out):
    """The quantile level of each unit, as a (1, units) row."""
    levels = out.loss_params
    if len(levels) == 1:
        levels = levels * out.units  # one level, several target columns
    return xp.as_float(np.asarray(levels, dtype=np.float64)[None, :])


def _pinball(xp, t, z, out):
    """The pinball (quantile) loss of each unit's level, averaged over units."""
    values = output_values(xp, out.activation, z)
    residual = t - values
    q = _levels(xp, out)
    return _mean_over_units(xp, xp.maximum(q * residual, (q - 1.0) * residual), out.units)


#: Every loss skout trains with, by Keras's name (scikit-learn's for the
#: regression losses Keras does not have).
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
        Loss("mean_absolute_error", _mean_absolute_error, _mean_absolute_error_and_gradient),
        Loss("huber", _huber),
        Loss("log_cosh", _log_cosh),
        Loss("poisson", _half_deviance, _half_deviance_and_gradient),
        Loss("gamma", _half_deviance, _half_deviance_and_gradient),
        Loss("tweedie", _half_deviance, _half_deviance_and_gradient),
        Loss("quantile", _pinball),
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
        value = LOSSES[out.loss].value(xp, target, z, out)
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
        value, gradient = LOSSES[out.loss].value_and_gradient(xp, target, z, out)
        total = value if total is None else total + value
        gradients.append(gradient)
    return total, gradients


# -- the prior: where every head starts ------------------------------------------------
def weighted_quantile(values, weights, level):
    """The weighted ``level``-quantile of each column of ``values`` (NumPy).

    The smallest value whose share of the total weight at or below it reaches
    ``level`` (with unit weights: ``np.quantile(..., method="inverted_cdf")``).

    Examples
    --------
    >>> weighted_quantile(np.array([[1.0], [2.0], [10.0]]), np.array([1.0, 1.0, 3.0]), 0.5)
    array([10.])
    """
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    weights = np.asarray(weights, dtype=np.float64)
    result = []
    for column in values.T:
        order = np.argsort(column, kind="stable")
        cumulative = np.cumsum(weights[order])
        at = np.searchsorted(cumulative, level * cumulative[-1] * (1 - 1e-12))
        result.append(column[order][min(at, len(column) - 1)])
    return np.asarray(result)


def _inverse_softplus(x):
    """The z with softplus(z) = x > 0."""
    x = np.maximum(x, 1e-12)
    return np.where(x > 30.0, x, np.log(np.expm1(np.minimum(x, 30.0))))


#: Smallest probability a prior starts from (a class absent from the data).
PRIOR_FLOOR = 1e-7


def prior_logits(out, target, weights):
    """The logits (shape (units,)) that predict the data's prior, for one head.

    The log class frequencies for softmax, the logit of each label's rate for
    sigmoid, and for regression the constant that minimises the loss, in the
    head's link space: the target's mean (squared error, huber, log-cosh),
    median (absolute error), quantile(s) (pinball), log of the mean (a log
    link). Weighted by ``weights`` (sample and class weights). NumPy only.
    """
    target = np.asarray(target, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    total = max(float(weights.sum()), EPS)
    if out.activation == "sigmoid":
        rate = np.clip(weights @ target / total, PRIOR_FLOOR, 1.0 - PRIOR_FLOOR)
        return np.log(rate) - np.log1p(-rate)
    if out.activation == "softmax":
        if out.sparse_target:
            mass = np.bincount(target[:, 0].astype(int), weights=weights, minlength=out.units)
        else:
            mass = weights @ target
        frequency = np.maximum(mass / max(float(mass.sum()), EPS), PRIOR_FLOOR)
        return np.log(frequency)
    if out.loss in ("poisson", "gamma", "tweedie"):
        return np.log(np.maximum(weights @ target / total, PRIOR_FLOOR))
    if out.loss == "mean_absolute_error":
        return weighted_quantile(target, weights, 0.5)
    if out.loss == "quantile":
        levels = out.loss_params
        if out.activation != "increasing":  # one level, each target column
            return weighted_quantile(target, weights, levels[0])
        values = np.concatenate([weighted_quantile(target, weights, q) for q in levels])
        return np.concatenate([values[:1], _inverse_softplus(np.diff(values))])
    return weights @ target / total


def start_from_prior(weights, outputs, Y, W, start=None, zero_kernels=False):
    """Initial weights whose heads start at the data's prior.

    Each head's bias is its :func:`prior_logits`, so training starts at the
    class balance or the target's level rather than spending its first epochs
    learning it (a 99:1 problem starts near P = 0.01, not 0.5). The kernels
    keep their random draw, or, with ``zero_kernels``, are zero: the untrained
    network then predicts the prior exactly for every row (its loss is the
    prior's entropy, or the best constant's loss), but the output layer must
    grow from nothing, which costs small data sets their first few dozen
    Adam steps. The heads' (kernel, bias) pairs are the ``2 * len(outputs)``
    weights from position ``start`` in skout's order (a spec's ``heads_at``).
    By default they end at the last 1-D weight, the last head's bias: for a
    body they are the last weights; a dense network's embedding tables,
    which follow its heads, are all 2-D.
    """
    weights = list(weights)
    if start is None:
        last_bias = max(i for i, w in enumerate(weights) if np.ndim(w) == 1)
        start = last_bias + 1 - 2 * len(outputs)
    for j, (out, target) in enumerate(zip(outputs, _blocks(outputs, Y))):
        kernel, bias = weights[start + 2 * j], weights[start + 2 * j + 1]
        if zero_kernels:
            weights[start + 2 * j] = np.zeros_like(kernel)
        weights[start + 2 * j + 1] = prior_logits(out, target, W).astype(bias.dtype)
    return weights


def null_loss(outputs, Y, W):
    """The weighted loss of predicting the prior for every row (NumPy).

    The baseline of the D^2 validation score: 1 - loss / null_loss.
    """
    xp = _numpy64()
    n = len(Y)
    Z = [
        np.broadcast_to(prior_logits(out, target, W), (n, out.units))
        for out, target in zip(outputs, _blocks(outputs, Y))
    ]
    losses = per_sample_loss(xp, outputs, np.asarray(Y, np.float64), Z)
    weights = np.asarray(W, np.float64)
    return float(np.sum(np.where(weights > 0, losses, 0.0) * weights) / max(weights.sum(), EPS))


def _numpy64():
    from .arrays import numpy_ops

    return numpy_ops(np.float64)


def uses_r2(task, outputs):
    """Whether the validation score is R^2 (squared error) rather than the D^2
    of the loss's own deviance (every other regression loss)."""
    return task == "regression" and all(out.loss == "mean_squared_error" for out in outputs)


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


def validation_metrics(xp, task, outputs, Y, Z, W, baseline=1.0):
    """(score, loss) on validation data.

    The score is MLP's for classification and squared error: accuracy (every
    head right), R^2 averaged over the outputs (on the encoded target). For
    the other regression losses it is the D^2 of the loss's own deviance,
    ``1 - loss / baseline``, with ``baseline`` the :func:`null_loss` of the
    validation data (scikit-learn's ``d2_tweedie_score``,
    ``d2_pinball_score``, ``d2_absolute_error_score``): R^2 would judge a
    count model or a quantile by squared error. The loss is the weighted data
    loss, without the L2 term.
    """
    weight_sum = xp.maximum(xp.sum(W), EPS)
    losses = xp.where(W > 0, per_sample_loss(xp, outputs, Y, Z), 0.0) * W
    loss = xp.sum(losses) / weight_sum
    if task == "classification":
        return xp.sum(correct(xp, outputs, Y, Z) * W) / weight_sum, loss
    if not uses_r2(task, outputs):
        return 1.0 - loss / baseline, loss
    values = [output_values(xp, out.activation, z) for out, z in zip(outputs, Z)]
    prediction = xp.concat(values, axis=1) if len(values) > 1 else values[0]
    w = W[:, None]
    mean = xp.sum(Y * w, axis=0) / weight_sum
    ss_res = xp.sum(w * xp.square(Y - prediction), axis=0)
    ss_tot = xp.sum(w * xp.square(Y - mean), axis=0)
    r2 = xp.where(ss_tot > 0, 1.0 - ss_res / xp.maximum(ss_tot, EPS), 0.0)
    return xp.sum(r2) / sum(out.units for out in outputs), loss
