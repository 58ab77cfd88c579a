"""The compiled TensorFlow loop: a chunk of epochs inside one ``tf.function`` call.

Keras's ``model.fit`` pays a fixed 35-60 ms per epoch on a small CPU machine.
Here a chunk of epochs -- mini-batches, the optimizer, the L2 penalty, sample
weights, the validation score, the stopping rule and the best-weights copy for
early stopping -- is one ``tf.while_loop``; the driver
(:mod:`skout._engine.driver`) calls it chunk after chunk. The rule itself
(objective, stopping, schedules, batch order) is :mod:`skout._engine.rule`,
called here with TensorFlow ops.

The compiled program is *stateless*: the weights, the optimizer's slots and
its step count go in as arguments and come back as results, so

- one trace serves every width of a dense network: the weights have unknown
  dimensions (``tf.TensorSpec([None, None])``), and a program is keyed by
  the depth, activations, heads, solver and flags only (:class:`DenseFamily`);
- a program holds no TensorFlow variable, so threads share it safely;
- evicting a program from the bounded cache (:mod:`skout._engine.cache`)
  frees it: nothing else refers to it.

The dense forward pass and the Adam / SGD (momentum, Nesterov) updates are
written in TensorFlow ops with Keras's math (``keras.optimizers.Adam`` and
``SGD``). A user's body (:class:`~skout._network.BodySpec`) runs through
Keras's ``model.stateless_call`` on a template model built once per body
configuration.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np

from ._engine import cache as _cache
from ._engine import rule
from ._network import NetworkSpec, import_keras

_EPS = rule.EPS


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
        """The Keras optimizer with these constants (for Keras's own loops)."""
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

    @property
    def slots_per_weight(self):
        """Optimizer slots per weight: Adam's moments, SGD's momentum."""
        if self.solver == "adam":
            return 2
        return 1 if self.momentum != 0 else 0


@dataclass(frozen=True)
class DenseFamily:
    """What a dense network's compiled program depends on: not its widths."""

    depth: int
    activation: str
    outputs: tuple
    dropout: bool


def program_network(spec):
    """The part of a network spec a compiled program is keyed by."""
    if isinstance(spec, NetworkSpec):
        return DenseFamily(
            len(spec.hidden_layer_sizes), spec.activation, spec.outputs, spec.dropout > 0
        )
    return spec


@dataclass(frozen=True)
class TrainerKey:
    """What a compiled training program depends on."""

    network: object  # DenseFamily or BodySpec (see program_network)
    optimizer: OptimizerSpec
    task: str  # "classification" or "regression": which validation score
    has_validation: bool  # score and loss on validation data every epoch
    early_stopping: bool  # stop on, and keep the weights of, the best score
    shuffle: bool  # (the batch order is an argument; kept for the key's readers)
    learning_rate: str = "constant"  # MLP's schedule, for solver="sgd"
    device: str | None = None  # TensorFlow device to build and run on


@dataclass
class Schedule:
    """Per-call values, passed to the compiled function as tensors."""

    learning_rate: float
    alpha: float
    batch_size: int
    max_epochs: int  # epochs of this chunk
    tol: float
    n_iter_no_change: int
    seed: int
    first_epoch: int = 0  # over the estimator's life (partial_fit goes on)
    power_t: float = 0.5
    samples_seen: int = 0  # t_ before this call, for "invscaling"
    dropout: float = 0.0
    shuffle: bool = True


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
    state: rule.StoppingState


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


def tf_namespace():
    """The rule's array namespace in TensorFlow ops."""
    import tensorflow as tf

    return rule.namespace(tf, isfinite=tf.math.is_finite, power=tf.pow, sum=tf.reduce_sum)


# -- the optimizers, in TensorFlow ops with Keras's math ----------------------------
def _apply_optimizer(tf, opt, params, grads, slots, step, lr):
    """One optimizer step on tensors; returns (params, slots).

    ``slots`` is laid out as Keras lays out its optimizer variables: per
    weight, Adam's (momentum, velocity) or SGD's momentum. ``step`` is the
    number of steps taken before this one.
    """
    new_params, new_slots = [], []
    k = opt.slots_per_weight
    if opt.solver == "adam":
        t = tf.cast(step + 1, tf.float32)
        b1, b2 = tf.constant(opt.beta_1, tf.float32), tf.constant(opt.beta_2, tf.float32)
        alpha = lr * tf.sqrt(1.0 - tf.pow(b2, t)) / (1.0 - tf.pow(b1, t))
        for i, (p, g) in enumerate(zip(params, grads)):
            m, v = slots[k * i], slots[k * i + 1]
            m = m + (g - m) * (1.0 - b1)
            v = v + (tf.square(g) - v) * (1.0 - b2)
            new_params.append(p - alpha * m / (tf.sqrt(v) + opt.epsilon))
            new_slots += [m, v]
        return new_params, new_slots
    for i, (p, g) in enumerate(zip(params, grads)):
        if k == 0:
            new_params.append(p - g * lr)
            continue
        m = slots[i] * opt.momentum - g * lr
        if opt.nesterov:
            new_params.append(p + (m * opt.momentum - g * lr))
        else:
            new_params.append(p + m)
        new_slots.append(m)
    return new_params, new_slots


# -- the networks, as functions of their weights ---------------------------------
class _DenseNet:
    """The built-in dense network as a function of its weight tensors."""

    def __init__(self, family):
        keras = import_keras()
        self.family = family
        self.hidden = keras.activations.get(family.activation)
        self.heads = [keras.activations.get(o.activation) for o in family.outputs]
        self.n_weights = 2 * (family.depth + len(family.outputs))
        self.kernel_indices = list(range(0, self.n_weights, 2))

    def signature(self, tf):
        return [
            tf.TensorSpec([None, None] if i % 2 == 0 else [None], tf.float32)
            for i in range(self.n_weights)
        ]

    def input_spec(self, tf):
        return tf.TensorSpec([None, None], tf.float32)

    def split(self, weights):
        """(trainable, non-trainable) from skout's weight list."""
        return list(weights), []

    def join(self, trainable, frozen):
        return list(trainable)

    def frozen_signature(self, tf):
        return []

    def reseed(self, frozen, seed, first_epoch):
        return frozen

    def forward(self, tf, params, frozen, x, training, noise):
        """Outputs (one per head) and the new non-trainable state (none)."""
        h = x
        for i in range(self.family.depth):
            h = self.hidden(tf.matmul(h, params[2 * i]) + params[2 * i + 1])
            if training and self.family.dropout:
                keep = 1.0 - noise.rate
                seed = tf.stack([noise.seed * 1000 + i, noise.counter])
                mask = tf.random.stateless_uniform(tf.shape(h), seed=seed) < keep
                h = tf.where(mask, h / keep, 0.0)
        start = 2 * self.family.depth
        outputs = [
            act(tf.matmul(h, params[start + 2 * j]) + params[start + 2 * j + 1])
            for j, act in enumerate(self.heads)
        ]
        return outputs, frozen


class _BodyNet:
    """A user's body with skout's heads, run by Keras's ``stateless_call``."""

    def __init__(self, spec):
        keras = import_keras()
        self.model = spec.build()
        weights = list(spec.variables(self.model))
        trainable = list(self.model.trainable_variables)
        frozen = list(self.model.non_trainable_variables)
        position = {id(v): i for i, v in enumerate(weights)}
        # Where each trainable / non-trainable variable sits in skout's list
        # (None: random-seed state, which skout's weights do not hold).
        self.trainable_at = [position[id(v)] for v in trainable]
        self.frozen_at = [position.get(id(v)) for v in frozen]
        self.seed_slots = [
            i
            for i, v in enumerate(frozen)
            if any(v is g.state for g in _seed_generators(keras, self.model))
        ]
        self.frozen_values = [np.array(keras.ops.convert_to_numpy(v)) for v in frozen]
        self.trainable_shapes = [tuple(v.shape) for v in trainable]
        self.frozen_dtypes = [v.dtype for v in frozen]
        self.frozen_shapes = [tuple(v.shape) for v in frozen]
        kernels = {id(v) for v in spec.kernel_variables(self.model)}
        self.kernel_indices = [i for i, v in enumerate(trainable) if id(v) in kernels]
        self.input_shape = spec.input_shape

    def signature(self, tf):
        return [tf.TensorSpec(s, tf.float32) for s in self.trainable_shapes]

    def frozen_signature(self, tf):
        return [
            tf.TensorSpec(s, tf.as_dtype(d))
            for s, d in zip(self.frozen_shapes, self.frozen_dtypes)
        ]

    def input_spec(self, tf):
        return tf.TensorSpec([None, *self.input_shape], tf.float32)

    def split(self, weights):
        trainable = [weights[i] for i in self.trainable_at]
        frozen = [
            weights[i] if i is not None else value
            for i, value in zip(self.frozen_at, self.frozen_values)
        ]
        return trainable, frozen

    def join(self, trainable, frozen):
        weights = [None] * (len(self.trainable_at) + sum(i is not None for i in self.frozen_at))
        for i, value in zip(self.trainable_at, trainable):
            weights[i] = value
        for i, value in zip(self.frozen_at, frozen):
            if i is not None:
                weights[i] = value
        return weights

    def reseed(self, frozen, seed, first_epoch):
        """Random layers (dropout, noise) follow ``random_state``, not TF's seed."""
        frozen = list(frozen)
        for n, i in enumerate(self.seed_slots):
            frozen[i] = np.array([seed + n, first_epoch], self.frozen_values[i].dtype)
        return frozen

    def forward(self, tf, params, frozen, x, training, noise):
        out, frozen = self.model.stateless_call(list(params), list(frozen), x, training=training)
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        return out, list(frozen)


def _seed_generators(keras, model):
    from ._network import walk_layers

    return [
        layer.seed_generator
        for layer in walk_layers(model)
        if isinstance(getattr(layer, "seed_generator", None), keras.random.SeedGenerator)
    ]


# -- the program -----------------------------------------------------------------
class _Trainer:
    """The compiled chunk-of-epochs loop (and L-BFGS's loss) for one key."""

    def __init__(self, key: TrainerKey):
        import tensorflow as tf

        keras = import_keras()
        self.key = key
        network = key.network
        self.net = _DenseNet(network) if isinstance(network, DenseFamily) else _BodyNet(network)
        self.outputs = network.outputs
        self._loss_fns = [keras.losses.get(o.loss) for o in self.outputs]
        self._widths = [o.target_width for o in self.outputs]
        self._run = tf.function(_OwnKey(self._chunk), input_signature=self._signature(tf),
                                autograph=False)  # fmt: skip
        self._loss_and_grads = None  # compiled on first use (solver="lbfgs")

    # -- pieces of the graph ---------------------------------------------
    def _per_sample_loss(self, tf, Y, preds):
        total, start = 0.0, 0
        for fn, out, width, p in zip(self._loss_fns, self.outputs, self._widths, preds):
            target = Y[:, start : start + width]
            if out.sparse_target:
                target = tf.cast(target[:, 0], tf.int32)
            total += fn(target, p) * out.loss_scale
            start += width
        return total

    def _correct(self, tf, Y, preds):
        """Per-sample 1.0/0.0: every output (and label) predicted right."""
        ok, start = None, 0
        for out, width, p in zip(self.outputs, self._widths, preds):
            target = Y[:, start : start + width]
            start += width
            if out.activation == "sigmoid" and out.units == 1:
                # argmax of [1 - p, p]: class 1 only when p > 0.5.
                right = tf.equal(tf.cast(p[:, 0] > 0.5, tf.float32), target[:, 0])
            elif out.activation == "sigmoid":
                pred = tf.cast(p > 0.5, tf.float32)
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

    def _validation_metrics(self, tf, preds, Yv, Wv):
        """(score, loss) on validation data: MLP's accuracy or mean R^2, and
        the data loss without the L2 term."""
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

    def _signature(self, tf):
        f32, i32 = tf.float32, tf.int32
        y = tf.TensorSpec([None, None], f32)
        x = self.net.input_spec(tf)
        w = tf.TensorSpec([None], f32)
        params = self.net.signature(tf)
        slots = [s for s in params for _ in range(self.key.optimizer.slots_per_weight)]
        scalar = tf.TensorSpec([], f32)
        count = tf.TensorSpec([], i32)
        return [
            params, self.net.frozen_signature(tf), slots, tf.TensorSpec([], tf.int64), scalar,
            x, y, w, x, y, w,
            tf.TensorSpec([None, None], i32),  # the batch order of each epoch
            count, count, count,  # batch size, seed, first epoch
            scalar, scalar, count,  # alpha, tol, n_iter_no_change
            scalar, scalar, scalar, scalar,  # lr_init, power_t, samples seen, dropout
            scalar, scalar, count,  # stopping state in
        ]  # fmt: skip

    def _chunk(self, params, frozen, slots, step, lr, X, Y, W, Xv, Yv, Wv, orders,
               batch_size, seed, first_epoch, alpha, tol, patience,
               lr_init, power_t, seen0, dropout, best_loss0, best_score0, count0):  # fmt: skip
        """Run ``len(orders)`` epochs (or fewer, when the rule stops)."""
        import tensorflow as tf

        key, net, xp = self.key, self.net, tf_namespace()
        f32 = tf.float32
        n = tf.shape(X)[0]
        n_epochs = tf.shape(orders)[0]
        n_batches = (n + batch_size - 1) // batch_size
        w_total = tf.maximum(tf.reduce_sum(W), _EPS)

        def objective(p, fr, xb, yb, wb, noise):
            preds, fr = net.forward(tf, p, fr, xb, True, noise)
            penalty = _penalty(tf, p, net.kernel_indices)
            losses = self._per_sample_loss(tf, yb, preds)
            value, wsum = rule.batch_objective(xp, losses, wb, penalty, alpha)
            return value, wsum, fr

        def epoch_body(e, stop, bad, state, lr, p, fr, sl, step, best, improved_any, curves):
            order = orders[e]
            epoch = tf.cast(first_epoch + e, tf.int64)

            def batch_body(b, acc, p, fr, sl, step):
                idx = order[b * batch_size : tf.minimum((b + 1) * batch_size, n)]
                noise = SimpleNamespace(
                    rate=dropout,
                    seed=tf.cast(seed, tf.int64),
                    counter=epoch * 1_000_003 + tf.cast(b, tf.int64),
                )
                with tf.GradientTape() as tape:
                    tape.watch(p)
                    value, wsum, fr = objective(
                        p, fr, tf.gather(X, idx), tf.gather(Y, idx), tf.gather(W, idx), noise
                    )
                grads = tape.gradient(value, p)
                p, sl = _apply_optimizer(tf, key.optimizer, p, grads, sl, step, lr)
                return b + 1, acc + value * wsum, p, fr, sl, step + 1

            _, acc, p, fr, sl, step = tf.while_loop(
                lambda b, *rest: b < n_batches,
                batch_body,
                (tf.constant(0), tf.constant(0.0), p, fr, sl, step),
            )
            loss = rule.epoch_loss(acc, w_total)
            losses, scores, val_losses = curves
            losses = losses.write(e, loss)
            score = tf.constant(0.0)
            if key.has_validation:
                preds, _ = net.forward(tf, p, fr, Xv, False, None)
                score, val_loss = self._validation_metrics(tf, preds, Yv, Wv)
                scores = scores.write(e, score)
                val_losses = val_losses.write(e, val_loss)
            seen = seen0 + tf.cast((e + 1) * n, f32)
            verdict = rule.after_epoch(
                xp, state, loss=loss, score=score, learning_rate=lr, tol=tol, patience=patience,
                early_stopping=key.early_stopping, schedule=key.learning_rate, lr_init=lr_init,
                power_t=power_t, samples_seen=seen,
            )  # fmt: skip
            if key.early_stopping:
                best = [tf.where(verdict.improved, v, b) for v, b in zip(p + fr, best)]
                improved_any = tf.logical_or(improved_any, verdict.improved)
            state = rule.StoppingState(*(tf.convert_to_tensor(s) for s in verdict.state))
            return (e + 1, verdict.stop, verdict.diverged, state,
                    tf.cast(verdict.learning_rate, f32), p, fr, sl, step, best, improved_any,
                    (losses, scores, val_losses))  # fmt: skip

        def array():
            return tf.TensorArray(f32, size=n_epochs, element_shape=[])

        params, frozen, slots = list(params), list(frozen), list(slots)
        best = params + frozen if key.early_stopping else []
        state0 = rule.StoppingState(best_loss0, best_score0, count0)
        loop = (
            tf.constant(0), tf.constant(False), tf.constant(False), state0, lr,
            params, frozen, slots, step, best, tf.constant(False), (array(), array(), array()),
        )  # fmt: skip
        e, stop, bad, state, lr, params, frozen, slots, step, best, improved_any, curves = (
            tf.while_loop(
                lambda e, stop, *rest: tf.logical_and(e < n_epochs, tf.logical_not(stop)),
                epoch_body,
                loop,
            )
        )
        losses, scores, val_losses = (c.stack()[:e] for c in curves)
        return (params, frozen, slots, step, lr, losses, scores, val_losses, e, stop, bad,
                tuple(state), best, improved_any)  # fmt: skip

    def loss_and_grads(self, weights, X, Y, W, alpha):
        """Full-batch loss (with the L2 term) and its gradient, for L-BFGS."""
        import tensorflow as tf

        net = self.net
        if self._loss_and_grads is None:
            width = sum(self._widths)
            xp = tf_namespace()

            def loss_and_grads(params, frozen, X, Y, W, alpha):
                params = list(params)
                with tf.GradientTape() as tape:
                    tape.watch(params)
                    preds, _ = net.forward(tf, params, list(frozen), X, False, None)
                    penalty = _penalty(tf, params, net.kernel_indices)
                    losses = self._per_sample_loss(tf, Y, preds)
                    loss, _ = rule.batch_objective(xp, losses, W, penalty, alpha)
                return loss, tape.gradient(loss, params)

            self._loss_and_grads = tf.function(
                _OwnKey(loss_and_grads),
                input_signature=[
                    net.signature(tf), net.frozen_signature(tf), net.input_spec(tf),
                    tf.TensorSpec([None, width], tf.float32), tf.TensorSpec([None], tf.float32),
                    tf.TensorSpec([], tf.float32),
                ],
                autograph=False,
            )  # fmt: skip
        params, frozen = net.split(weights)
        loss, grads = self._loss_and_grads(params, frozen, X, Y, W, np.float32(alpha))
        grads = [g.numpy() for g in grads]
        zeros = [np.zeros_like(f) for f in frozen]
        return float(loss), net.join(grads, zeros)

    # -- one call --------------------------------------------------------
    def train(self, weights, data, validation, schedule, state, optimizer_state, frozen=None):
        """Run one chunk of ``schedule.max_epochs`` epochs from ``weights``."""
        net, opt = self.net, self.key.optimizer
        params, frozen_w = net.split(weights)
        if frozen is None:  # a fresh fit: random layers reseeded from random_state
            frozen = net.reseed(frozen_w, schedule.seed, schedule.first_epoch)
        else:  # the chunks of one fit: carry the random state on
            frozen = [f if i is None else w for f, w, i in zip(frozen, frozen_w, _at(net))]
        if optimizer_state is None:
            step = np.int64(0)
            lr = np.float32(schedule.learning_rate)
            slots = [np.zeros_like(p) for p in params for _ in range(opt.slots_per_weight)]
        else:
            step, lr = np.int64(optimizer_state[0]), np.float32(optimizer_state[1])
            slots = list(optimizer_state[2:])
        X, Y, W = data
        Xv, Yv, Wv = validation if validation is not None else (X[:0], Y[:0], W[:0])
        orders = rule.epoch_orders(schedule.seed, schedule.first_epoch, schedule.max_epochs,
                                   len(X), schedule.shuffle)  # fmt: skip
        self.last_orders_shape = orders.shape  # what a chunk allocated (tests read it)
        out = self._run(
            params, frozen, slots, step, lr, X, Y, W, Xv, Yv, Wv, orders,
            np.int32(schedule.batch_size), np.int32(schedule.seed),
            np.int32(schedule.first_epoch),
            np.float32(schedule.alpha), np.float32(schedule.tol),
            np.int32(min(schedule.n_iter_no_change, np.iinfo(np.int32).max)),
            np.float32(schedule.learning_rate), np.float32(schedule.power_t),
            np.float32(schedule.samples_seen), np.float32(schedule.dropout),
            np.float32(state.best_loss), np.float32(state.best_score),
            np.int32(state.no_improvement_count),
        )  # fmt: skip
        (params, frozen, slots, step, lr, losses, scores, val_losses, n_run, stop, diverged,
         (best_loss, best_score, count), best, improved_any) = out  # fmt: skip
        has_val = self.key.has_validation
        params = [p.numpy() for p in params]
        frozen = [f.numpy() for f in frozen]
        best_weights = None
        if self.key.early_stopping and bool(improved_any):
            best = [b.numpy() for b in best]
            best_weights = net.join(best[: len(params)], best[len(params) :])
        result = TrainResult(
            weights=net.join(params, frozen),
            best_weights=best_weights,
            optimizer_state=[step.numpy(), lr.numpy(), *(s.numpy() for s in slots)],
            loss_curve=losses.numpy().astype(float).tolist(),
            validation_scores=scores.numpy().astype(float).tolist() if has_val else [],
            validation_losses=val_losses.numpy().astype(float).tolist() if has_val else [],
            n_iter=int(n_run),
            stopped=bool(stop),
            diverged=bool(diverged),
            state=rule.StoppingState(float(best_loss), float(best_score), int(count)),
        )
        result.frozen = frozen
        return result


def _penalty(tf, params, kernel_indices):
    """``||W||^2``: the sum of squared kernel entries (biases are not penalised)."""
    return tf.add_n([tf.reduce_sum(tf.square(params[i])) for i in kernel_indices] + [0.0])


def _at(net):
    return getattr(net, "frozen_at", [])


class _OwnKey:
    """Wrap a function so that TensorFlow counts its traces on their own.

    TensorFlow keys its "frequent retracing" warning by a function's code,
    which every program's loop shares; each program traces once, so a grid
    over architectures would warn although nothing retraces. An object has no
    code of its own and is its own key.
    """

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)


# -- the cache of programs, and the entry points -----------------------------------
_programs = _cache.ProgramCache(_Trainer)
#: The cached programs, oldest first: key -> [program] (tests read it).
_idle = _programs.entries


def clear_cache():
    """Drop every cached compiled program, of every backend's loop (frees them)."""
    _cache.clear_all()


def tracing_count():
    """Traces of the cached programs' training loops, oldest first."""
    return [t._run.experimental_get_tracing_count() for p in _idle.values() for t in p]


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
    with _on_device(key.device):
        trainer = _programs.get(program_key(key))

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


def train(key, weights, data, validation, schedule, state=None, optimizer_state=None,
          frozen=None):  # fmt: skip
    """Train one chunk from ``weights`` on ``data``; see :class:`TrainResult`.

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
        ``[step, learning_rate, *slots]`` to continue from (the layout of
        Keras's ``optimizer.variables``); fresh when None.
    frozen : list of ndarray, optional
        The previous chunk's non-trainable state (random seeds), to go on
        from; None at the start of a fit.
    """
    _require_tensorflow("The compiled training path")
    with _on_device(key.device):
        trainer = _programs.get(program_key(key))
        return trainer.train(
            weights,
            data,
            validation,
            schedule,
            state or rule.StoppingState(),
            optimizer_state,
            frozen,
        )


def program_key(key):
    """``key`` with its network reduced to what the program depends on."""
    return replace(key, network=program_network(key.network))
