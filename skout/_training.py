"""The fast training path: many epochs inside one compiled TensorFlow call.

Keras's ``model.fit`` pays a fixed 35-60 ms per epoch on a small CPU machine
(callbacks, data adapters, iterators). Here a whole training run -- shuffling,
mini-batches, the optimizer, the L2 penalty, sample weights, the validation
score, scikit-learn's ``tol``/``n_iter_no_change`` stopping rule and the
best-weights copy for early stopping -- is one ``tf.while_loop`` in one
``tf.function``.

Tracing that function costs a few hundred milliseconds, so it is traced once
per *architecture* and reused: a :class:`_Trainer` owns a template Keras model
and optimizer; each fit assigns its own initial weights (and optimizer state)
into the template, runs, and reads the weights back as NumPy arrays. The
folds of a cross-validation and the points of a grid that share an
architecture therefore share one compiled function. Every value that may
differ between fits (data, learning rate, alpha, batch size, tol, seed) is an
argument of the compiled function, never a constant baked into it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ._network import import_keras, walk_layers

# Idle trainers kept per process; each holds a small model and its graph.
_MAX_IDLE_TRAINERS = 16
_EPS = 1e-12


class _OwnKey:
    """Wrap a function so that TensorFlow counts its traces on their own.

    TensorFlow keys its "frequent retracing" warning by a function's code,
    which every trainer's compiled loop shares; each trainer traces once, so a
    grid over architectures would warn although nothing retraces. An object
    has no code of its own and is its own key.
    """

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)


@dataclass(frozen=True)
class OptimizerSpec:
    """The optimizer's constants: everything but the learning rate."""

    solver: str
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    momentum: float = 0.9
    nesterov: bool = True

    def build(self, learning_rate):
        keras = import_keras()
        if self.solver == "adam":
            return keras.optimizers.Adam(
                learning_rate=learning_rate,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
            )
        return keras.optimizers.SGD(
            learning_rate=learning_rate,
            momentum=self.momentum,
            nesterov=self.nesterov and self.momentum > 0,
        )


@dataclass(frozen=True)
class TrainerKey:
    """What a compiled training function depends on."""

    network: object  # NetworkSpec
    optimizer: OptimizerSpec
    task: str  # "classification" or "regression": which validation score
    has_validation: bool  # score and loss on validation data every epoch
    early_stopping: bool  # stop on, and keep the weights of, the best score
    shuffle: bool
    learning_rate: str = "constant"  # MLP's schedule, for solver="sgd"
    device: str | None = None  # TensorFlow device to build and run on


@dataclass
class Schedule:
    """Per-fit values, passed to the compiled function as tensors."""

    learning_rate: float
    alpha: float
    batch_size: int
    max_epochs: int
    tol: float
    n_iter_no_change: int
    seed: int
    first_epoch: int = 0
    power_t: float = 0.5
    samples_seen: int = 0  # t_ before this call, for "invscaling"


@dataclass
class StoppingState:
    """scikit-learn's stopping-rule state, carried between calls."""

    best_loss: float = np.inf
    best_score: float = -np.inf
    no_improvement_count: int = 0


@dataclass
class TrainResult:
    weights: list  # after the last epoch run
    best_weights: list | None  # at the best validation score, if it improved
    optimizer_state: list
    loss_curve: list
    validation_scores: list
    validation_losses: list
    n_iter: int
    stopped: bool
    diverged: bool
    state: StoppingState


def backend_name():
    """The Keras backend in use ("tensorflow", "jax", "torch", ...)."""
    return import_keras().backend.backend()


@contextmanager
def _on_device(device):
    """Build and run under TensorFlow device ``device`` (None: TF's default)."""
    if device is None:
        yield
        return
    import tensorflow as tf

    with tf.device(device):
        yield


class _Trainer:
    """A template model, its optimizer and the compiled multi-epoch loop."""

    def __init__(self, key: TrainerKey):
        import tensorflow as tf

        keras = import_keras()
        self.key = key
        spec = key.network
        self.model = spec.build()
        self.variables = spec.variables(self.model)
        self.kernels = spec.kernel_variables(self.model)
        # Random layers (dropout, noise): reseeded from random_state per fit.
        self.seed_states = [
            layer.seed_generator.state
            for layer in walk_layers(self.model)
            if isinstance(getattr(layer, "seed_generator", None), keras.random.SeedGenerator)
        ]
        self.trainable = list(self.model.trainable_variables)
        self.optimizer = key.optimizer.build(1e-3)
        self.optimizer.build(self.trainable)
        self.best = (
            [tf.Variable(v.value, trainable=False) for v in self.variables]
            if key.early_stopping
            else []
        )
        self._loss_fns = [keras.losses.get(o.loss) for o in spec.outputs]
        self._widths = [o.target_width for o in spec.outputs]
        self._run = self._compile(tf)
        self._loss_and_grads = None  # compiled on first use (solver="lbfgs")

    # -- pieces of the graph ---------------------------------------------
    def _outputs(self, x, training):
        out = self.model(x, training=training)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _per_sample_loss(self, tf, Y, preds):
        total, start = 0.0, 0
        for fn, out, width, p in zip(
            self._loss_fns, self.key.network.outputs, self._widths, preds
        ):
            target = Y[:, start : start + width]
            if out.sparse_target:
                target = tf.cast(target[:, 0], tf.int32)
            total += fn(target, p) * out.loss_scale
            start += width
        return total

    def _correct(self, tf, Y, preds):
        """Per-sample 1.0/0.0: every output (and label) predicted right."""
        ok, start = None, 0
        for out, width, p in zip(self.key.network.outputs, self._widths, preds):
            target = Y[:, start : start + width]
            start += width
            if out.activation == "sigmoid" and out.units == 1:
                # argmax of [1 - p, p]: class 1 only when p > 0.5.
                right = tf.equal(tf.cast(p[:, 0] > 0.5, tf.float32), target[:, 0])
            elif out.activation == "sigmoid":
                pred = tf.cast(p >= 0.5, tf.float32)
                right = tf.reduce_all(tf.equal(pred, target), axis=1)
            else:
                pred = tf.argmax(p, axis=1, output_type=tf.int32)
                truth = (
                    tf.cast(target[:, 0], tf.int32)
                    if out.sparse_target
                    else tf.argmax(target, axis=1, output_type=tf.int32)
                )
                right = tf.equal(pred, truth)
            ok = right if ok is None else tf.logical_and(ok, right)
        return tf.cast(ok, tf.float32)

    def _validation_metrics(self, tf, Xv, Yv, Wv):
        """(score, loss) on validation data.

        The score is accuracy (classification) or R^2 averaged over outputs
        (regression), as scikit-learn's MLP scores; the loss is the data loss
        without the L2 term.
        """
        preds = self._outputs(Xv, training=False)
        wsum = tf.maximum(tf.reduce_sum(Wv), _EPS)
        loss = tf.reduce_sum(self._per_sample_loss(tf, Yv, preds) * Wv) / wsum
        if self.key.task == "classification":
            return tf.reduce_sum(self._correct(tf, Yv, preds) * Wv) / wsum, loss
        pred = tf.concat(preds, axis=1)
        w = Wv[:, None]
        mean = tf.reduce_sum(Yv * w, axis=0) / wsum
        ss_res = tf.reduce_sum(w * tf.square(Yv - pred), axis=0)
        ss_tot = tf.reduce_sum(w * tf.square(Yv - mean), axis=0)
        r2 = tf.where(ss_tot > 0, 1.0 - ss_res / tf.maximum(ss_tot, _EPS), 0.0)
        return tf.reduce_mean(r2), loss

    def _compile(self, tf):
        key = self.key
        spec = key.network
        kernels = self.kernels
        f32, i32 = tf.float32, tf.int32
        y_width = sum(self._widths)

        def matrix(width):
            return tf.TensorSpec([None, width], f32)

        inputs = tf.TensorSpec([None, *spec.input_shape], f32)

        def scalar(dtype):
            return tf.TensorSpec([], dtype)

        signature = [
            inputs, matrix(y_width), tf.TensorSpec([None], f32),
            inputs, matrix(y_width), tf.TensorSpec([None], f32),
            scalar(i32), scalar(i32), scalar(i32), scalar(i32),  # epochs, first, batch, seed
            scalar(f32), scalar(f32), scalar(i32),  # alpha, tol, n_iter_no_change
            scalar(f32), scalar(f32), scalar(f32),  # lr_init, power_t, samples seen
            scalar(f32), scalar(f32), scalar(i32),  # stopping state in
        ]  # fmt: skip

        def train_step(xb, yb, wb, alpha):
            with tf.GradientTape() as tape:
                preds = self._outputs(xb, training=True)
                losses = self._per_sample_loss(tf, yb, preds)
                wsum = tf.maximum(tf.reduce_sum(wb), _EPS)
                # scikit-learn's MLP: 0.5 * alpha * ||W||^2 / (batch weight).
                penalty = tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])
                loss = tf.reduce_sum(losses * wb) / wsum + 0.5 * alpha * penalty / wsum
            grads = tape.gradient(loss, self.trainable)
            self.optimizer.apply(grads, self.trainable)
            return loss, wsum

        def set_learning_rate(value):
            return self.optimizer.learning_rate.assign(value)

        def run(X, Y, W, Xv, Yv, Wv, n_epochs, first_epoch, batch_size, seed,
                alpha, tol, patience, lr_init, power_t, seen0,
                best_loss0, best_score0, count0):  # fmt: skip
            n = tf.shape(X)[0]
            n_batches = (n + batch_size - 1) // batch_size
            w_total = tf.maximum(tf.reduce_sum(W), _EPS)

            def epoch_body(e, stop, bad, best_loss, best_score, count, curves):
                losses, scores, val_losses = curves
                if key.shuffle:
                    noise = tf.random.stateless_uniform(
                        [n], seed=tf.stack([seed, first_epoch + e])
                    )
                    order = tf.argsort(noise)
                else:
                    order = tf.range(n)

                def batch_body(b, acc):
                    idx = order[b * batch_size : tf.minimum((b + 1) * batch_size, n)]
                    loss, wsum = train_step(
                        tf.gather(X, idx), tf.gather(Y, idx), tf.gather(W, idx), alpha
                    )
                    return b + 1, acc + loss * wsum

                _, acc = tf.while_loop(
                    lambda b, acc: b < n_batches,
                    batch_body,
                    (tf.constant(0), tf.constant(0.0)),
                )
                epoch_loss = acc / w_total
                losses = losses.write(e, epoch_loss)
                bad = tf.logical_not(tf.math.is_finite(epoch_loss))
                updates = []
                if key.has_validation:
                    score, val_loss = self._validation_metrics(tf, Xv, Yv, Wv)
                    scores = scores.write(e, score)
                    val_losses = val_losses.write(e, val_loss)
                if key.early_stopping:
                    count = tf.where(score < best_score + tol, count + 1, 0)
                    improved = score > best_score
                    updates += [
                        b.assign(tf.where(improved, v.value, b.read_value()))
                        for v, b in zip(self.variables, self.best)
                    ]
                    best_score = tf.where(improved, score, best_score)
                else:
                    count = tf.where(epoch_loss > best_loss - tol, count + 1, 0)
                    best_loss = tf.minimum(best_loss, epoch_loss)
                lr = self.optimizer.learning_rate
                if key.learning_rate == "invscaling":
                    # MLP: after each epoch, lr = lr_init / (t + 1) ** power_t,
                    # with t the number of samples seen so far.
                    seen = seen0 + tf.cast((e + 1) * n, f32)
                    updates.append(set_learning_rate(lr_init / tf.pow(seen + 1.0, power_t)))
                plateau = count > patience
                if key.learning_rate == "adaptive":
                    # MLP: on a plateau divide lr by 5 and go on, until lr <= 1e-6.
                    shrink = tf.logical_and(plateau, lr > 1e-6)
                    updates.append(set_learning_rate(tf.where(shrink, lr / 5.0, lr)))
                    count = tf.where(shrink, 0, count)
                    plateau = tf.logical_and(plateau, tf.logical_not(shrink))
                with tf.control_dependencies(updates):
                    stop = tf.logical_or(tf.identity(plateau), bad)
                return e + 1, stop, bad, best_loss, best_score, count, (losses, scores, val_losses)

            def array():
                return tf.TensorArray(f32, size=n_epochs, element_shape=[])

            state = (
                tf.constant(0), tf.constant(False), tf.constant(False),
                best_loss0, best_score0, count0, (array(), array(), array()),
            )  # fmt: skip
            e, stop, bad, best_loss, best_score, count, curves = tf.while_loop(
                lambda e, stop, *rest: tf.logical_and(e < n_epochs, tf.logical_not(stop)),
                epoch_body,
                state,
            )
            losses, scores, val_losses = (c.stack()[:e] for c in curves)
            return losses, scores, val_losses, e, stop, bad, best_loss, best_score, count

        return tf.function(_OwnKey(run), input_signature=signature, autograph=False)

    def loss_and_grads(self, weights, X, Y, W, alpha):
        """Full-batch loss (with the L2 term) and its gradient, for L-BFGS."""
        import tensorflow as tf

        if self._loss_and_grads is None:
            spec, width = self.key.network, sum(self._widths)
            kernels = self.kernels

            @tf.function(
                input_signature=[
                    tf.TensorSpec([None, *spec.input_shape], tf.float32),
                    tf.TensorSpec([None, width], tf.float32),
                    tf.TensorSpec([None], tf.float32),
                    tf.TensorSpec([], tf.float32),
                ],
                autograph=False,
            )
            def loss_and_grads(X, Y, W, alpha):
                with tf.GradientTape() as tape:
                    preds = self._outputs(X, training=False)
                    wsum = tf.maximum(tf.reduce_sum(W), _EPS)
                    penalty = tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])
                    loss = (
                        tf.reduce_sum(self._per_sample_loss(tf, Y, preds) * W) / wsum
                        + 0.5 * alpha * penalty / wsum
                    )
                return loss, tape.gradient(loss, self.variables)

            self._loss_and_grads = loss_and_grads
        for variable, value in zip(self.variables, weights):
            variable.assign(value)
        loss, grads = self._loss_and_grads(X, Y, W, np.float32(alpha))
        return float(loss), [g.numpy() for g in grads]

    # -- one call --------------------------------------------------------
    def train(self, weights, data, validation, schedule, state, optimizer_state):
        import tensorflow as tf

        for variable, value in zip(self.variables, weights):
            variable.assign(value)
        for i, seed_state in enumerate(self.seed_states):
            # Dropout masks follow random_state, not TensorFlow's global seed.
            seed_state.assign(np.array([schedule.seed + i, schedule.first_epoch], "int64"))
        if optimizer_state is None:
            for variable in self.optimizer.variables:
                variable.assign(tf.zeros_like(variable))
            self.optimizer.learning_rate = schedule.learning_rate
        else:
            for variable, value in zip(self.optimizer.variables, optimizer_state):
                variable.assign(value)
        for b in self.best:
            b.assign(tf.zeros_like(b))
        X, Y, W = data
        Xv, Yv, Wv = validation if validation is not None else (X[:0], Y[:0], W[:0])
        out = self._run(
            X, Y, W, Xv, Yv, Wv,
            np.int32(schedule.max_epochs), np.int32(schedule.first_epoch),
            np.int32(schedule.batch_size), np.int32(schedule.seed),
            np.float32(schedule.alpha), np.float32(schedule.tol),
            np.int32(schedule.n_iter_no_change),
            np.float32(schedule.learning_rate), np.float32(schedule.power_t),
            np.float32(schedule.samples_seen),
            np.float32(state.best_loss), np.float32(state.best_score),
            np.int32(state.no_improvement_count),
        )  # fmt: skip
        losses, scores, val_losses, n_run, stop, diverged, best_loss, best_score, count = out
        # Without validation data the score arrays were never written.
        has_val = self.key.has_validation
        scores = scores.numpy().astype(float).tolist() if has_val else []
        val_losses = val_losses.numpy().astype(float).tolist() if has_val else []
        improved_once = self.key.early_stopping and max(scores, default=-np.inf) > state.best_score
        return TrainResult(
            weights=[np.array(v.numpy()) for v in self.variables],
            best_weights=[np.array(b.numpy()) for b in self.best] if improved_once else None,
            optimizer_state=[np.array(v.numpy()) for v in self.optimizer.variables],
            loss_curve=losses.numpy().astype(float).tolist(),
            validation_scores=scores,
            validation_losses=val_losses,
            n_iter=int(n_run),
            stopped=bool(stop),
            diverged=bool(diverged),
            state=StoppingState(float(best_loss), float(best_score), int(count)),
        )


_cache_lock = threading.Lock()
_idle: OrderedDict[TrainerKey, list[_Trainer]] = OrderedDict()


@contextmanager
def _checkout(key):
    """Borrow an idle trainer for ``key`` (or build one); give it back after.

    A trainer is used by one thread at a time, so parallel fits never share
    variables; the pool is bounded so memory stays flat over many fits.
    """
    with _cache_lock:
        pool = _idle.get(key)
        trainer = pool.pop() if pool else None
    if trainer is None:
        trainer = _Trainer(key)
    try:
        yield trainer
    finally:
        with _cache_lock:
            _idle.setdefault(key, []).append(trainer)
            _idle.move_to_end(key)
            while sum(len(p) for p in _idle.values()) > _MAX_IDLE_TRAINERS:
                oldest = next(iter(_idle))
                _idle[oldest].pop(0)
                if not _idle[oldest]:
                    del _idle[oldest]


def clear_cache():
    """Drop every cached compiled trainer (frees their memory)."""
    with _cache_lock:
        _idle.clear()


def _require_tensorflow(what):
    backend = backend_name()
    if backend != "tensorflow":
        raise ValueError(
            f"{what} needs Keras's TensorFlow backend; KERAS_BACKEND is "
            f"{backend!r}. Set KERAS_BACKEND=tensorflow before importing keras, "
            "or use solver='adam' or 'sgd', which train on every backend."
        )


def train_lbfgs(key, weights, data, *, alpha, max_iter, max_fun, tol):
    """Full-batch L-BFGS (scipy's L-BFGS-B) on the compiled loss and gradient.

    Returns ``(weights, loss_curve, n_iter, converged)``, as scikit-learn's
    MLP does with ``solver="lbfgs"``: ``max_iter`` iterations, ``max_fun``
    loss evaluations, ``tol`` the gradient tolerance.
    """
    from scipy.optimize import minimize

    _require_tensorflow("solver='lbfgs'")
    shapes = [w.shape for w in weights]
    splits = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]

    def unflatten(theta):
        return [p.reshape(s).astype(np.float32) for p, s in zip(np.split(theta, splits), shapes)]

    X, Y, W = data
    curve, last = [], {}
    with _on_device(key.device), _checkout(key) as trainer:

        def fun(theta):
            loss, grads = trainer.loss_and_grads(unflatten(theta), X, Y, W, alpha)
            last["loss"] = loss
            return loss, np.concatenate([g.ravel() for g in grads]).astype(np.float64)

        result = minimize(
            fun,
            np.concatenate([w.ravel() for w in weights]).astype(np.float64),
            jac=True,
            method="L-BFGS-B",
            callback=lambda theta: curve.append(last["loss"]),
            options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
        )
    return unflatten(result.x), curve, int(result.nit), bool(result.success)


def train(key, weights, data, validation, schedule, state=None, optimizer_state=None):
    """Train from ``weights`` on ``data``; see :class:`TrainResult`.

    Parameters
    ----------
    key : TrainerKey
    weights : list of ndarray
        Initial weights in skout's order.
    data, validation : tuple (X, Y, W) of float32 arrays, or None
        Inputs, encoded targets and sample weights.
    schedule : Schedule
    state : StoppingState, optional
        Stopping-rule state to continue from.
    optimizer_state : list of ndarray, optional
        Optimizer variables to continue from (``partial_fit``); fresh when
        None.
    """
    _require_tensorflow("The compiled training path")
    with _on_device(key.device), _checkout(key) as trainer:
        return trainer.train(
            weights, data, validation, schedule, state or StoppingState(), optimizer_state
        )
