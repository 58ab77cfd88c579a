"""The training rule, written once: stopping, schedules and the batch order.

Every training loop calls these functions; none restates them. They are
written over an array namespace ``xp`` (:mod:`.arrays`) so that the same code
runs as NumPy between epochs of a Python loop and as graph operations inside
a compiled loop (TensorFlow, JAX). What is minimised each batch -- the
weighted loss and the L2 term -- is the objective's (:mod:`.objective`).

The conventions are scikit-learn's ``MLPClassifier``/``MLPRegressor``:

- the batches of an epoch are consecutive slices of :func:`epoch_orders`,
  drawn in NumPy from ``random_state`` so that every loop and backend sees
  the same batches in the same order;
- after each epoch, :func:`after_epoch` applies the ``tol`` /
  ``n_iter_no_change`` rule (on the training loss, or on the validation score
  with early stopping), the ``"invscaling"`` and ``"adaptive"`` learning-rate
  schedules, and says whether to stop.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: The smallest learning rate "adaptive" divides down to, as in MLP.
MIN_ADAPTIVE_LR = 1e-6


class StoppingState(NamedTuple):
    """scikit-learn's stopping-rule state, carried from epoch to epoch."""

    best_loss: float = np.inf
    best_score: float = -np.inf
    no_improvement_count: int = 0


class Verdict(NamedTuple):
    """What :func:`after_epoch` decided."""

    state: StoppingState
    learning_rate: object  # the rate for the next epoch
    stop: object  # bool: stop training now
    improved: object  # bool: the validation score is a new best (early stopping)
    diverged: object  # bool: the epoch loss is not finite


def epoch_orders(seed, first_epoch, n_epochs, n_samples, shuffle=True):
    """The sample order of each epoch: shape (n_epochs, n_samples), int32.

    Epoch ``e`` (counted over the estimator's life, so ``partial_fit`` and
    chunked runs continue the sequence) is a permutation drawn from
    ``(seed, e)`` alone; batch ``b`` is ``order[b * batch_size:(b + 1) *
    batch_size]``.

    Examples
    --------
    >>> from skout._engine.rule import epoch_orders
    >>> a = epoch_orders(7, 0, 3, 5)
    >>> b = epoch_orders(7, 2, 1, 5)   # the third epoch, on its own
    >>> bool((a[2] == b[0]).all()), epoch_orders(7, 0, 1, 4, shuffle=False).tolist()
    (True, [[0, 1, 2, 3]])
    """
    if not shuffle:
        return np.tile(np.arange(n_samples, dtype=np.int32), (n_epochs, 1))
    return np.stack(
        [
            np.random.default_rng([seed, first_epoch + e]).permutation(n_samples).astype(np.int32)
            for e in range(n_epochs)
        ]
    ).reshape(n_epochs, n_samples)


def after_epoch(xp, state, *, loss, score, learning_rate, tol, patience, early_stopping,
                schedule="constant", lr_init=None, power_t=0.5, samples_seen=None):  # fmt: skip
    """Apply the stopping rule and the learning-rate schedule after an epoch.

    Parameters
    ----------
    xp : namespace
    state : StoppingState
    loss : scalar
        This epoch's training loss.
    score : scalar
        This epoch's validation score (ignored unless ``early_stopping``).
    learning_rate : scalar
        The rate this epoch ran with.
    tol, patience : scalars
        ``tol`` and ``n_iter_no_change``.
    early_stopping : bool (static)
        Judge the validation score rather than the training loss.
    schedule : {"constant", "invscaling", "adaptive"} (static)
    lr_init, power_t, samples_seen : scalars
        For ``"invscaling"``: ``lr = lr_init / (samples_seen + 1) ** power_t``
        with ``samples_seen`` counted to the end of this epoch.

    Returns
    -------
    Verdict

    Examples
    --------
    >>> import numpy as np
    >>> from skout._engine.arrays import numpy_ops
    >>> from skout._engine.rule import StoppingState, after_epoch
    >>> state = StoppingState(best_loss=1.0, no_improvement_count=2)
    >>> v = after_epoch(numpy_ops(np.float32), state,
    ...                 loss=0.99995, score=None, learning_rate=0.1, tol=1e-4,
    ...                 patience=2, early_stopping=False)
    >>> bool(v.stop), int(v.state.no_improvement_count)
    (True, 3)
    """
    best_loss, best_score, count = state
    diverged = xp.logical_not(xp.isfinite(loss))
    if early_stopping:
        count = xp.where(score < best_score + tol, count + 1, 0)
        improved = score > best_score
        best_score = xp.where(improved, score, best_score)
    else:
        count = xp.where(loss > best_loss - tol, count + 1, 0)
        improved = False
        best_loss = xp.minimum(best_loss, loss)
    plateau = count > patience
    if schedule == "invscaling":
        learning_rate = lr_init / xp.power(samples_seen + 1.0, power_t)
    elif schedule == "adaptive":
        # MLP: on a plateau divide the rate by 5 and go on, until it is tiny.
        shrink = xp.logical_and(plateau, learning_rate > MIN_ADAPTIVE_LR)
        learning_rate = xp.where(shrink, learning_rate / 5.0, learning_rate)
        count = xp.where(shrink, 0, count)
        plateau = xp.logical_and(plateau, xp.logical_not(shrink))
    stop = xp.logical_or(plateau, diverged)
    return Verdict(StoppingState(best_loss, best_score, count), learning_rate, stop, improved,
                   diverged)  # fmt: skip
