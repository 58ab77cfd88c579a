"""Run one fit: pick the loop, feed it the schedule, apply the stopping verdict."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, fields

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .. import _devices, _keras_fit, _training

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

    stopping_state: object  # _training.StoppingState
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
    state: object
    optimizer_state: object
    n_iter: int
    n_samples: int


def _batch_size(options, n_samples):
    if options.batch_size == "auto":
        return min(200, n_samples)
    if options.batch_size > n_samples:
        warnings.warn(
            f"batch_size={options.batch_size} is larger than the {n_samples} "
            "training samples; using one batch of all of them.",
            UserWarning,
            stacklevel=7,  # the user's call to fit
        )
    return min(options.batch_size, n_samples)


def _device(options):
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
    key = trainer_key(options, spec, validation)
    if options.solver == "lbfgs":
        weights, curve, n_iter, converged = _training.train_lbfgs(
            key, weights, data[:3], alpha=float(options.alpha), max_iter=options.max_iter,
            max_fun=options.max_fun, tol=float(options.tol),
        )  # fmt: skip
        if not converged:
            warnings.warn(
                f"lbfgs failed to converge after {n_iter} iterations "
                f"(max_iter={options.max_iter}, max_fun={options.max_fun}).",
                ConvergenceWarning,
                stacklevel=5,  # the user's call to fit
            )
        state = _training.StoppingState(best_loss=min(curve, default=np.inf))
        return TrainOutcome(weights, curve, [], [], state, None, n_iter, len(data[0]))
    return _train_epochs(
        options, key, weights, data, validation, rng, score_fn, incremental, continuation, hooks
    )


def _train_epochs(options, key, weights, data, validation, rng, score_fn, incremental,
                  continuation, hooks):  # fmt: skip
    """Mini-batch training: the compiled path, or Keras's fit for callbacks."""
    if continuation is not None:
        state = continuation.stopping_state
        optimizer_state = continuation.optimizer_state
        seen, first_epoch = continuation.samples_seen, continuation.epochs_done
    else:
        state, optimizer_state, seen, first_epoch = _training.StoppingState(), None, 0, 0
    seed = int(rng.randint(np.iinfo(np.int32).max))
    max_epochs = 1 if incremental else options.max_iter
    patience = np.iinfo(np.int32).max
    if not incremental and np.isfinite(options.n_iter_no_change):
        patience = int(options.n_iter_no_change)
    val_triple = None if validation is None else validation[:3]
    # Quiet fits run every epoch in one compiled call; verbose ones, and
    # those with scikit-learn callbacks, one epoch per call, so each epoch
    # can be reported as it ends.
    # Keras callbacks need Keras's own loop; so do backends other than
    # TensorFlow, which the compiled path does not serve. Keras's loop runs
    # every epoch in one call and reports each itself.
    keras_loop = bool(options.callbacks) or _training.backend_name() != "tensorflow"
    if keras_loop:
        chunk = max_epochs
    else:
        chunk = 1 if options.verbose or hooks is not None else max_epochs
    curve, scores, val_losses, best, result = [], [], [], None, None
    started, done = time.perf_counter(), 0
    while done < max_epochs:
        schedule = _training.Schedule(
            learning_rate=float(options.learning_rate_init),
            alpha=float(options.alpha),
            batch_size=_batch_size(options, len(data[0])),
            max_epochs=min(chunk, max_epochs - done),
            tol=float(options.tol),
            n_iter_no_change=patience,
            seed=seed,
            first_epoch=first_epoch + done,
            power_t=float(options.power_t),
            samples_seen=seen + done * len(data[0]),
        )
        if keras_loop:
            result = _keras_fit.train(
                key, weights, data, validation, schedule,
                callbacks=options.callbacks or [],
                score_fn=score_fn,
                verbose=_progress(started) if options.verbose else None,
                state=state,
                hooks=hooks,
                optimizer_state=optimizer_state,
            )  # fmt: skip
        else:
            if hooks is not None:
                hooks.begin_epoch(weights, curve)
            result = _training.train(
                key, weights, data, val_triple, schedule, state, optimizer_state
            )
        weights, optimizer_state, state = (
            result.weights, result.optimizer_state, result.state,
        )  # fmt: skip
        best = result.best_weights or best
        curve += result.loss_curve
        scores += result.validation_scores
        val_losses += result.validation_losses
        done += result.n_iter
        if not keras_loop and hooks is not None and hooks.end_epoch(result.weights, curve):
            result.stopped = True  # a callback asked to stop
            break
        if options.verbose and not keras_loop:
            _progress(started)(done, {"loss": curve, "score": scores, "val_loss": val_losses})
        if result.stopped:
            break
    diverged = result.diverged or not all(np.isfinite(w).all() for w in weights)
    if diverged:
        message = (
            f"Training diverged at epoch {first_epoch + done}: the loss became "
            f"{curve[-1]} (or the weights non-finite). Lower learning_rate_init (now "
            f"{options.learning_rate_init}), scale X (e.g. StandardScaler) or "
            "raise alpha."
        )
        if not (key.early_stopping and best is not None):
            raise ValueError(f"{NON_FINITE} {message}")
        # Early stopping kept the weights of the best (finite) epoch: a
        # grid search can go on with them.
        warnings.warn(
            f"{message} Kept the weights of the best validation epoch.",
            ConvergenceWarning,
            stacklevel=6,
        )
    elif not incremental and not result.stopped:
        warnings.warn(
            f"Stochastic Optimizer: Maximum iterations ({options.max_iter}) "
            "reached and the optimization hasn't converged yet.",
            ConvergenceWarning,
            stacklevel=6,  # the user's call to fit
        )
    if key.early_stopping and best is not None:
        weights = best
    return TrainOutcome(
        weights, curve, scores if validation is not None else None,
        val_losses if validation is not None else None,
        state, optimizer_state, done, len(data[0]),
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
