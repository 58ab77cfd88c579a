"""Run one fit: pick the loop, feed it the schedule, apply the stopping verdict."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .. import _devices
from .._compat import warn_at_caller
from . import rule
from .keras_callbacks import KerasCallbacks

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

    @classmethod
    def from_estimator(cls, estimator):
        names = [f.name for f in fields(cls) if f.name != "task"]
        return cls(task=estimator._task, **{n: getattr(estimator, n) for n in names})


@dataclass(frozen=True)
class Continuation:
    """What ``partial_fit`` carries from one call to the next."""

    stopping_state: object  # (best_loss, best_score, no_improvement_count)
    optimizer_state: object  # list of ndarray, or None
    samples_seen: int  # t_
    epochs_done: int  # n_iter_


@dataclass
class TrainOutcome:
    """What one call of :func:`train` produced."""

    weights: list
    loss_curve: list
    validation_scores: list | None
    validation_losses: list | None
    state: object  # rule.StoppingState: (best_loss, best_score, no_improvement_count)
    optimizer_state: object
    n_iter: int
    n_samples: int


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


def _device(options):
    from .. import _training

    if options.device is None:
        return None
    if _training.backend_name() != "tensorflow":
        raise ValueError(
            f"device={options.device!r} places TensorFlow training; with Keras's "
            f"{_training.backend_name()!r} backend leave device=None and let "
            "that backend place it."
        )
    return _devices.training_device(options.device)


def trainer_key(options, spec, validation):
    """The compiled program a fit needs (what its trace depends on)."""
    from .. import _training

    return _training.TrainerKey(
        network=spec,
        optimizer=_training.OptimizerSpec(
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
        shuffle=bool(options.shuffle),
        # As in MLP, the schedule applies to solver="sgd" only.
        learning_rate=options.learning_rate if options.solver == "sgd" else "constant",
        device=_device(options),
    )


def train(options, spec, weights, data, validation, rng, *, score_fn, incremental=False,
          continuation=None, hooks=None):  # fmt: skip
    """Train ``spec`` from ``weights``; return a :class:`TrainOutcome`.

    Parameters
    ----------
    options : EngineOptions
    spec : NetworkSpec or BodySpec
    weights : list of ndarray
        Initial weights in skout's order.
    data : tuple (X, Y, W) of float32 arrays
        Training inputs, encoded targets and sample weights.
    validation : tuple (X, Y, W, y) or None
        Validation data, with the original target ``y`` last.
    rng : numpy.random.RandomState
    score_fn : callable
        ``score_fn(outputs, validation)``: the validation score of NumPy
        network outputs (used by loops that score outside the graph).
    incremental : bool
        One epoch of ``partial_fit``.
    continuation : Continuation or None
        State of the previous ``partial_fit`` call, to go on from.
    hooks : EpochHooks or None
        scikit-learn callbacks to tell about each epoch.
    """
    from .. import _training

    key = trainer_key(options, spec, validation)
    if options.solver == "lbfgs":
        weights, curve, n_iter, converged = _training.train_lbfgs(
            key, weights, data[:3], alpha=float(options.alpha), max_iter=options.max_iter,
            max_fun=options.max_fun, tol=float(options.tol),
        )  # fmt: skip
        if not converged:
            warn_at_caller(
                f"lbfgs failed to converge after {n_iter} iterations "
                f"(max_iter={options.max_iter}, max_fun={options.max_fun}).",
                ConvergenceWarning,
            )
        state = rule.StoppingState(best_loss=float(min(curve, default=np.inf)))
        return TrainOutcome(weights, curve, [], [], state, None, n_iter, len(data[0]))
    return _train_epochs(
        options, key, weights, data, validation, rng, score_fn, incremental, continuation, hooks
    )


class ChunkPlanner:
    """How many epochs the next compiled call runs.

    A call should last about :data:`CHUNK_SECONDS`, so that Ctrl-C (which
    Python sees when the call returns) stops a fit within about a second, and
    its per-epoch buffers (the batch orders, the curves) stay small: at most
    :data:`MAX_ORDER_ENTRIES` batch-order entries per call. The first call is
    sized from a cost estimate, the next ones from the time per epoch
    measured so far. A user's body (convolutions, recurrences) costs more per
    weight than the estimate knows: its first call runs one epoch.
    """

    def __init__(self, n_samples, n_weights, batch_size, n_validation=0, estimate=True):
        self.n_samples = max(int(n_samples), 1)
        self.cap = max(1, MAX_ORDER_ENTRIES // self.n_samples)
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
#: The most batch-order entries (epochs x samples) one compiled call holds.
MAX_ORDER_ENTRIES = 4_000_000


def as_state(value):
    """A :class:`rule.StoppingState` from the estimator's plain 3-tuple."""
    best_loss, best_score, count = value
    return rule.StoppingState(float(best_loss), float(best_score), int(count))


def _loop_for(backend):
    """The compiled chunk loop of a Keras backend; each calls the same rule.

    Every loop takes ``(key, weights, data, validation, schedule, state,
    optimizer_state, frozen)`` and returns a ``_training.TrainResult`` for
    one chunk of epochs.
    """
    from .. import _training

    if backend == "tensorflow":
        return _training.train
    if backend == "jax":
        from .jax_loop import train
    elif backend == "torch":
        from .torch_loop import train
    else:
        raise ValueError(
            f"skout trains on Keras's 'tensorflow', 'jax' and 'torch' backends; "
            f"KERAS_BACKEND is {backend!r}. Set KERAS_BACKEND to one of them."
        )

    def chunk(key, weights, data, validation, schedule, state, optimizer_state, frozen=None):
        return train(key, weights, data, validation, schedule, state, optimizer_state)

    return chunk


def _train_epochs(options, key, weights, data, validation, rng, score_fn, incremental,
                  continuation, hooks):  # fmt: skip
    """Mini-batch training, chunk after chunk of compiled epochs."""
    from .. import _training

    if continuation is not None:
        state = as_state(continuation.stopping_state)
        optimizer_state = continuation.optimizer_state
        seen, first_epoch = continuation.samples_seen, continuation.epochs_done
    else:
        state, optimizer_state, seen, first_epoch = rule.StoppingState(), None, 0, 0
    seed = int(rng.randint(np.iinfo(np.int32).max))
    max_epochs = 1 if incremental else options.max_iter
    patience = np.iinfo(np.int32).max
    if not incremental and np.isfinite(options.n_iter_no_change):
        patience = int(options.n_iter_no_change)
    n_samples = len(data[0])
    batch_size = _batch_size(options, n_samples)

    def schedule(epochs, done):
        return _training.Schedule(
            learning_rate=float(options.learning_rate_init),
            alpha=float(options.alpha),
            batch_size=batch_size,
            max_epochs=epochs,
            tol=float(options.tol),
            n_iter_no_change=patience,
            seed=seed,
            first_epoch=first_epoch + done,
            power_t=float(options.power_t),
            samples_seen=seen + done * n_samples,
            dropout=float(getattr(key.network, "dropout", 0.0)),
            # One full batch: the order of its rows changes only the rounding
            # of its sum, so it is left unshuffled (a weight of 2 then trains
            # exactly as a repeated row, as scikit-learn's checks expect).
            shuffle=bool(options.shuffle) and batch_size < n_samples,
        )

    loop = _loop_for(_training.backend_name())
    val_triple = None if validation is None else validation[:3]
    keras_callbacks = None
    if options.callbacks:
        keras_callbacks = KerasCallbacks(
            options.callbacks, key.network, weights, key.optimizer,
            float(options.learning_rate_init), max_epochs, -(-n_samples // batch_size),
        )  # fmt: skip
    # Verbose fits and those with callbacks run one epoch per call, so each
    # epoch is reported as it ends; quiet ones run chunks of about
    # CHUNK_SECONDS.
    per_epoch = bool(options.verbose) or hooks is not None or keras_callbacks is not None
    planner = ChunkPlanner(
        n_samples, sum(w.size for w in weights), batch_size,
        0 if validation is None else len(validation[0]), estimate=key.network.predicts_in_numpy,
    )  # fmt: skip
    curve, scores, val_losses, best, frozen, logs = [], [], [], None, None, {}
    started, done, stopped, diverged = time.perf_counter(), 0, False, False
    if keras_callbacks is not None:
        keras_callbacks.train_begin()
    while done < max_epochs and not stopped:
        epochs = 1 if per_epoch else planner.next(max_epochs - done)
        if hooks is not None:
            hooks.begin_epoch(weights, curve)
        if keras_callbacks is not None:
            keras_callbacks.epoch_begin(first_epoch + done)
        tick = time.perf_counter()
        result = loop(
            key, weights, data, val_triple, schedule(epochs, done), state, optimizer_state,
            frozen,
        )  # fmt: skip
        planner.record(result.n_iter, time.perf_counter() - tick)
        weights, optimizer_state, state = result.weights, result.optimizer_state, result.state
        frozen = getattr(result, "frozen", None)
        best = result.best_weights or best
        curve += result.loss_curve
        scores += result.validation_scores
        val_losses += result.validation_losses
        done += result.n_iter
        stopped, diverged = result.stopped, result.diverged
        if hooks is not None and hooks.end_epoch(weights, curve):
            stopped = True  # a callback asked to stop
        if options.verbose:
            _progress(started)(done, {"loss": curve, "score": scores, "val_loss": val_losses})
        if keras_callbacks is not None and not diverged:
            logs = {"loss": curve[-1]}
            if validation is not None:
                logs.update(val_loss=val_losses[-1], val_score=scores[-1])
            weights, rate, asked = keras_callbacks.epoch_end(
                first_epoch + done - 1, weights, float(optimizer_state[1]), logs
            )
            optimizer_state = [optimizer_state[0], np.float32(rate), *optimizer_state[2:]]
            stopped = stopped or asked
    if keras_callbacks is not None:
        weights = keras_callbacks.train_end(weights, logs)
    return _finish(options, key, weights, best, curve, scores, val_losses, state,
                   optimizer_state, done, stopped, first_epoch, validation, n_samples,
                   incremental, diverged)  # fmt: skip


def _finish(options, key, weights, best, curve, scores, val_losses, state,
            optimizer_state, done, stopped, first_epoch, validation, n_samples, incremental,
            diverged):  # fmt: skip
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
        rule.StoppingState(*state), optimizer_state, done, n_samples,
    )  # fmt: skip


def _progress(started):
    """A per-epoch reporter: epoch, loss, validation score and loss, time."""

    def report(epoch, curves):
        line = f"Iteration {epoch}, loss = {curves['loss'][-1]:.8f}"
        if curves["score"]:
            line += f", validation score = {curves['score'][-1]:.6f}"
            line += f", validation loss = {curves['val_loss'][-1]:.6f}"
        print(f"{line}, time = {time.perf_counter() - started:.2f}s")

    return report
