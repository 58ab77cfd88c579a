"""Run one fit: pick the backend's loop, feed it chunks, apply the verdict.

The driver owns what happens *between* compiled calls: how many epochs the
next call runs (:class:`ChunkPlanner`, within the loop's own cap), the epoch
observers (verbose output, scikit-learn callbacks, Keras callbacks: one list,
told about each epoch in one place), Ctrl-C between calls, and the verdict at
the end (divergence error, convergence warning, best weights). What happens
*inside* a call is the loop's (:mod:`.contract`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .. import _devices
from .._compat import warn_at_caller
from . import objective, rule
from .contract import Carry, OptimizerSpec, Schedule, TrainerKey
from .inputs import n_rows
from .observers import observers_for

__all__ = ["Continuation", "EngineOptions", "NON_FINITE", "TrainOutcome", "train"]

# scikit-learn's MLP opens its divergence error with this sentence; keep it.
NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain "
    "large values and need to be preprocessed."
)


@dataclass(frozen=True)
class EngineOptions:
    """The estimator parameters that say how to train (not what)."""

    task: str  # "classification" or "regression"
    solver: str
    alpha: float
    batch_size: object  # int or "auto"
    learning_rate: str
    learning_rate_init: float
    power_t: float
    max_iter: int
    shuffle: bool
    tol: float
    verbose: object
    momentum: float
    nesterovs_momentum: bool
    early_stopping: bool
    n_iter_no_change: float
    max_fun: int
    beta_1: float
    beta_2: float
    epsilon: float
    callbacks: object
    device: object
    dtype: str

    @classmethod
    def from_estimator(cls, estimator):
        names = [f.name for f in fields(cls) if f.name != "task"]
        return cls(task=estimator._task, **{n: getattr(estimator, n) for n in names})


@dataclass(frozen=True)
class Continuation:
    """What ``partial_fit`` carries from one call to the next."""

    stopping_state: object  # (best_loss, best_score, no_improvement_count)
    optimizer_state: object  # [step, learning_rate, *slots], or None
    samples_seen: int  # t_
    epochs_done: int  # n_iter_


@dataclass
class TrainOutcome:
    """What one call of :func:`train` produced."""

    weights: list
    loss_curve: list
    validation_scores: list | None
    validation_losses: list | None
    state: rule.StoppingState
    optimizer_state: list | None  # [step, learning_rate, *slots]
    n_iter: int
    n_samples: int


def backend_name():
    """The Keras backend in use ("tensorflow", "jax", "torch", ...)."""
    from .._network import import_keras

    return import_keras().backend.backend()


def loop_for(backend):
    """The loop module of a Keras backend (each implements :class:`~.contract.ChunkLoop`)."""
    if backend == "tensorflow":
        from . import tf_loop as loop
    elif backend == "jax":
        from . import jax_loop as loop
    elif backend == "torch":
        from . import torch_loop as loop
    else:
        raise ValueError(
            f"skout trains on Keras's 'tensorflow', 'jax' and 'torch' backends; "
            f"KERAS_BACKEND is {backend!r}. Set KERAS_BACKEND to one of them."
        )
    return loop


def _batch_size(options, n_samples):
    if options.batch_size == "auto":
        return min(200, n_samples)
    if options.batch_size > n_samples:
        warn_at_caller(
            f"batch_size={options.batch_size} is larger than the {n_samples} "
            "training samples; using one batch of all of them.",
            UserWarning,
        )
    return min(options.batch_size, n_samples)


def _device(options, backend):
    if options.device is None:
        return None
    if backend != "tensorflow":
        raise ValueError(
            f"device={options.device!r} places TensorFlow training; with Keras's "
            f"{backend!r} backend leave device=None and let that backend place it."
        )
    return _devices.training_device(options.device)


def trainer_key(options, spec, validation, backend):
    """The compiled program a fit needs (what its trace depends on)."""
    return TrainerKey(
        network=spec,
        optimizer=OptimizerSpec(
            solver=options.solver,
            beta_1=float(options.beta_1),
            beta_2=float(options.beta_2),
            epsilon=float(options.epsilon),
            momentum=float(options.momentum),
            nesterov=bool(options.nesterovs_momentum),
        ),
        task=options.task,
        has_validation=validation is not None,
        early_stopping=bool(options.early_stopping) and validation is not None,
        # As in MLP, the schedule applies to solver="sgd" only.
        learning_rate=options.learning_rate if options.solver == "sgd" else "constant",
        device=_device(options, backend),
        dtype=options.dtype,
    )


def train(options, spec, weights, data, validation, rng, *, incremental=False,
          continuation=None, hooks=None):  # fmt: skip
    """Train ``spec`` from ``weights``; return a :class:`TrainOutcome`.

    Parameters
    ----------
    options : EngineOptions
    spec : NetworkSpec or BodySpec
    weights : list of ndarray
        Initial weights in skout's order.
    data : tuple (X, Y, W) of arrays in ``options.dtype``
        Training inputs, encoded targets and sample weights; ``X`` is a
        tuple of arrays for a body with several inputs (:mod:`.inputs`).
    validation : tuple (X, Y, W) or None
        Validation data, encoded alike.
    rng : numpy.random.RandomState
    incremental : bool
        One epoch of ``partial_fit``.
    continuation : Continuation or None
        State of the previous ``partial_fit`` call, to go on from.
    hooks : EpochHooks or None
        scikit-learn callbacks to tell about each epoch.
    """
    backend = backend_name()
    loop = loop_for(backend)
    key = trainer_key(options, spec, validation, backend)
    if options.solver == "lbfgs":
        return _train_lbfgs(options, loop, key, weights, data)
    return _train_epochs(options, loop, key, weights, data, validation, rng, incremental,
                         continuation, hooks)  # fmt: skip


def _train_lbfgs(options, loop, key, weights, data):
    """Full-batch L-BFGS (scipy's L-BFGS-B) on the loop's objective and gradient.

    As scikit-learn's MLP does with ``solver="lbfgs"``: ``max_iter``
    iterations, ``max_fun`` objective evaluations, ``tol`` the gradient
    tolerance.
    """
    from scipy.optimize import minimize

    dtype = np.dtype(options.dtype)
    shapes = [w.shape for w in weights]
    splits = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]

    def unflatten(theta):
        return [p.reshape(s).astype(dtype) for p, s in zip(np.split(theta, splits), shapes)]

    curve, last = [], {}

    def fun(theta):
        loss, grads = loop.loss_and_gradient(key, unflatten(theta), data, float(options.alpha))
        last["loss"] = loss
        return loss, np.concatenate([np.ravel(g) for g in grads]).astype(np.float64)

    result = minimize(
        fun,
        np.concatenate([np.ravel(w) for w in weights]).astype(np.float64),
        jac=True,
        method="L-BFGS-B",
        callback=lambda theta: curve.append(last["loss"]),
        options={"maxfun": options.max_fun, "maxiter": options.max_iter, "gtol": options.tol},
    )
    n_iter = int(result.nit)
    if not result.success:
        warn_at_caller(
            f"lbfgs failed to converge after {n_iter} iterations "
            f"(max_iter={options.max_iter}, max_fun={options.max_fun}).",
            ConvergenceWarning,
        )
    state = rule.StoppingState(best_loss=float(min(curve, default=np.inf)))
    n_samples = n_rows(data[0])
    return TrainOutcome(unflatten(result.x), curve, [], [], state, None, n_iter, n_samples)


class ChunkPlanner:
    """How many epochs the next compiled call runs.

    A call should last about :data:`CHUNK_SECONDS`, so that Ctrl-C (which
    Python sees when the call returns) stops a fit within about a second, and
    stay within the loop's own cap (``max_epochs_per_call``: what its batch
    orders may hold). The first call is sized from a cost estimate, the next
    ones from the time per epoch measured so far. A user's body
    (convolutions, recurrences) costs more per weight than the estimate
    knows: its first call runs one epoch.
    """

    def __init__(self, n_samples, n_weights, batch_size, cap, n_validation=0, estimate=True):
        self.n_samples = max(int(n_samples), 1)
        self.cap = max(1, int(cap))
        batches = -(-self.n_samples // max(int(batch_size), 1))
        flops = 6.0 * self.n_samples * n_weights + 2.0 * n_validation * n_weights
        # A cautious guess; without an estimate, a huge one (one epoch first).
        self.per_epoch = batches * 2e-4 + flops / 2e9 if estimate else np.inf
        self.epochs = self.seconds = 0.0

    def next(self, remaining):
        per_epoch = self.seconds / self.epochs if self.epochs else self.per_epoch
        wanted = int(CHUNK_SECONDS / max(per_epoch, 1e-6))
        return int(max(1, min(wanted, self.cap, remaining)))

    def record(self, epochs, seconds):
        if epochs:
            self.epochs, self.seconds = epochs, seconds


#: Target duration of one compiled call (seconds).
CHUNK_SECONDS = 0.5


def as_state(value):
    """A :class:`rule.StoppingState` from the estimator's plain 3-tuple."""
    best_loss, best_score, count = value
    return rule.StoppingState(float(best_loss), float(best_score), int(count))


def _validation_baseline(key, validation):
    """The null loss a D^2 validation score divides by (1.0 where it is unused)."""
    outputs = key.network.outputs
    if validation is None or key.task != "regression" or objective.uses_r2(key.task, outputs):
        return 1.0
    return max(objective.null_loss(outputs, validation[1], validation[2]), objective.EPS)


def _train_epochs(options, loop, key, weights, data, validation, rng, incremental,
                  continuation, hooks):  # fmt: skip
    """Mini-batch training, chunk after chunk of compiled epochs."""
    if continuation is not None and continuation.optimizer_state is not None:
        carry = Carry.from_optimizer_state(
            as_state(continuation.stopping_state), continuation.optimizer_state
        )
    else:
        carry = Carry.fresh(options.learning_rate_init)
        if continuation is not None:
            carry.stopping = as_state(continuation.stopping_state)
    seen = continuation.samples_seen if continuation is not None else 0
    first_epoch = continuation.epochs_done if continuation is not None else 0
    seed = int(rng.randint(np.iinfo(np.int32).max))
    max_epochs = 1 if incremental else options.max_iter
    patience = np.iinfo(np.int32).max
    if not incremental and np.isfinite(options.n_iter_no_change):
        patience = int(options.n_iter_no_change)
    n_samples = n_rows(data[0])
    batch_size = _batch_size(options, n_samples)
    base = Schedule(
        learning_rate=float(options.learning_rate_init),
        alpha=float(options.alpha),
        batch_size=batch_size,
        max_epochs=1,
        tol=float(options.tol),
        n_iter_no_change=patience,
        seed=seed,
        power_t=float(options.power_t),
        dropout=float(getattr(key.network, "dropout", 0.0)),
        # One full batch: the order of its rows changes only the rounding of
        # its sum, so it is left unshuffled.
        shuffle=bool(options.shuffle) and batch_size < n_samples,
        validation_baseline=_validation_baseline(key, validation),
    )
    observers = observers_for(options, key, weights, hooks, max_epochs,
                              -(-n_samples // batch_size))  # fmt: skip
    # Observed fits run one epoch per call, so each epoch is reported as it
    # ends; the others run chunks of about CHUNK_SECONDS.
    planner = ChunkPlanner(
        n_samples, sum(w.size for w in weights), batch_size,
        loop.max_epochs_per_call(n_samples, batch_size),
        0 if validation is None else n_rows(validation[0]),
        estimate=key.network.predicts_in_numpy,
    )  # fmt: skip
    curve, scores, val_losses, best = [], [], [], None
    curves = {"loss": curve, "score": scores, "val_loss": val_losses}  # grown in place
    done, stopped, diverged = 0, False, False
    observers.train_begin()
    while done < max_epochs and not stopped:
        epochs = 1 if observers else planner.next(max_epochs - done)
        observers.epoch_begin(first_epoch + done, weights, curve)
        schedule = replace(
            base, max_epochs=epochs, first_epoch=first_epoch + done,
            samples_seen=seen + done * n_samples,
        )  # fmt: skip
        tick = time.perf_counter()
        result = loop.run_chunk(key, weights, data, validation, schedule, carry)
        planner.record(result.n_iter, time.perf_counter() - tick)
        weights, carry = result.weights, result.carry
        best = result.best_weights or best
        curve += result.loss_curve
        scores += result.validation_scores
        val_losses += result.validation_losses
        done += result.n_iter
        stopped, diverged = result.stopped, result.diverged
        if observers:
            weights, carry.learning_rate, asked = observers.epoch_end(
                first_epoch + done - 1, weights, carry.learning_rate, curves, diverged
            )
            stopped = stopped or asked
    weights = observers.train_end(weights, curves)
    return _finish(options, key, weights, best, curve, scores, val_losses, carry, done, stopped,
                   first_epoch, validation, n_samples, incremental, diverged)  # fmt: skip


def _finish(options, key, weights, best, curve, scores, val_losses, carry, done, stopped,
            first_epoch, validation, n_samples, incremental, diverged):  # fmt: skip
    """Apply the verdict: divergence error, convergence warning, best weights."""
    diverged = diverged or not all(np.isfinite(w).all() for w in weights)
    if diverged:
        message = (
            f"Training diverged at epoch {first_epoch + done}: the loss became "
            f"{curve[-1] if curve else np.nan} (or the weights non-finite). Lower "
            f"learning_rate_init (now {options.learning_rate_init}), scale X (e.g. "
            "StandardScaler) or raise alpha."
        )
        if not (key.early_stopping and best is not None):
            raise ValueError(f"{NON_FINITE} {message}")
        # Early stopping kept the weights of the best (finite) epoch: a
        # grid search can go on with them.
        warn_at_caller(
            f"{message} Kept the weights of the best validation epoch.", ConvergenceWarning
        )
    elif not incremental and not stopped:
        warn_at_caller(
            f"Stochastic Optimizer: Maximum iterations ({options.max_iter}) "
            "reached and the optimization hasn't converged yet.",
            ConvergenceWarning,
        )
    if key.early_stopping and best is not None:
        weights = best
    return TrainOutcome(
        weights, curve, scores if validation is not None else None,
        val_losses if validation is not None else None,
        carry.stopping, carry.optimizer_state(), done, n_samples,
    )  # fmt: skip
