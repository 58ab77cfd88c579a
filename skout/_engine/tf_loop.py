"""The TensorFlow loop: a chunk of epochs inside one ``tf.function`` call.

Keras's ``model.fit`` pays a fixed 35-60 ms per epoch on a small CPU machine.
Here a chunk of epochs -- mini-batches, the optimizer, the validation score,
the stopping rule and the best-weights copy for early stopping -- is one
``tf.while_loop``. What it computes is the shared modules': the objective
(:mod:`.objective`), the dense network (:mod:`.network`) or a body's
``stateless_call`` (:mod:`.nets`), the optimizer step (:mod:`.optimizers`)
and the rule (:mod:`.rule`), over TensorFlow's namespace. The dense
network's gradients come from its backpropagation written out, as on
PyTorch (:func:`~skout._engine.nets.gradients_by_hand`); a body's from a
``GradientTape`` of the shared objective.

The compiled program is *stateless*: the weights, the optimizer's slots and
its step count go in as arguments and come back as results, so

- one trace serves every width of a dense network: the weights have unknown
  dimensions (``tf.TensorSpec([None, None])``), and a program is keyed by
  the depth, activations, heads, solver and flags only
  (:class:`~skout._engine.contract.DenseFamily`);
- a program holds no TensorFlow variable, so threads share it safely;
- evicting a program from the bounded cache (:mod:`.cache`) frees it.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from . import objective, optimizers, rule
from .arrays import tensorflow_ops
from .cache import ProgramCache
from .contract import MAX_ORDER_ENTRIES, Carry, ChunkResult, program_network
from .inputs import each, n_rows
from .nets import batch_objective, gradients_by_hand, hand_objective_and_gradients, net_for

__all__ = ["loss_and_gradient", "max_epochs_per_call", "run_chunk", "tracing_count"]


@contextmanager
def _on_device(device):
    """Build and run under TensorFlow device ``device`` (None: TF's default)."""
    if device is None:
        yield
        return
    import tensorflow as tf

    with tf.device(device):
        yield


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


class _Program:
    """The compiled chunk-of-epochs loop (and L-BFGS's objective) for one key."""

    def __init__(self, key):
        import tensorflow as tf

        self.key = key
        self.net = net_for(key.network)
        self.xp = tensorflow_ops(key.dtype)
        self.float = tf.as_dtype(key.dtype)
        self._run = tf.function(_OwnKey(self._chunk), input_signature=self._signature(tf),
                                autograph=False)  # fmt: skip
        self._loss_and_grads = None  # compiled on first use (solver="lbfgs")

    # -- signatures --------------------------------------------------------
    def _weight_specs(self, tf):
        net, f = self.net, self.float
        if hasattr(net, "trainable_shapes"):
            return [tf.TensorSpec(s, f) for s in net.trainable_shapes]
        # Kernels and biases alternate; the embedding tables (2-D) come last.
        n_layers = net.n_weights - net.n_tables
        return [
            tf.TensorSpec([None, None] if i % 2 == 0 or i >= n_layers else [None], f)
            for i in range(net.n_weights)
        ]

    def _frozen_specs(self, tf):
        net = self.net
        if not hasattr(net, "frozen_shapes"):
            return []
        return [
            tf.TensorSpec(s, tf.as_dtype(d)) for s, d in zip(net.frozen_shapes, net.frozen_dtypes)
        ]

    def _input_spec(self, tf):
        """X's signature: one array, or a tuple of them for a body with several inputs."""
        shapes = getattr(self.net, "input_shapes", None)
        if shapes is None:  # a dense network: any width
            return tf.TensorSpec([None, None], self.float)
        specs = tuple(tf.TensorSpec([None, *shape], self.float) for shape in shapes)
        return specs if self.net.several_inputs else specs[0]

    def _signature(self, tf):
        f, i32 = self.float, tf.int32
        y = tf.TensorSpec([None, None], f)
        x = self._input_spec(tf)
        w = tf.TensorSpec([None], f)
        params = self._weight_specs(tf)
        slots = [s for s in params for _ in range(optimizers.slots_per_weight(self.key.optimizer))]
        scalar = tf.TensorSpec([], f)
        count = tf.TensorSpec([], i32)
        return [
            params, self._frozen_specs(tf), slots, tf.TensorSpec([], tf.int64), scalar,
            x, y, w, x, y, w,
            tf.TensorSpec([None, None], i32),  # the batch order of each epoch
            count, count, count,  # batch size, seed, first epoch
            scalar, scalar, count,  # alpha, tol, n_iter_no_change
            scalar, scalar, scalar, scalar,  # lr_init, power_t, samples seen, dropout
            scalar, scalar, count,  # stopping state in
            scalar,  # the validation baseline (D^2)
        ]  # fmt: skip

    # -- the program -------------------------------------------------------
    def _objective(self, params, frozen, X, Y, W, alpha, noise):
        return batch_objective(self.xp, self.net, params, frozen, X, Y, W, alpha, noise)

    def _chunk(self, params, frozen, slots, step, lr, X, Y, W, Xv, Yv, Wv, orders,
               batch_size, seed, first_epoch, alpha, tol, patience,
               lr_init, power_t, seen0, dropout, best_loss0, best_score0, count0,
               baseline):  # fmt: skip
        """Run ``len(orders)`` epochs (or fewer, when the rule stops)."""
        import tensorflow as tf

        key, net, xp, f = self.key, self.net, self.xp, self.float
        by_hand = gradients_by_hand(net)  # decided at trace time
        n = tf.shape(X[0] if isinstance(X, tuple) else X)[0]
        n_epochs = tf.shape(orders)[0]
        n_batches = (n + batch_size - 1) // batch_size
        w_total = tf.maximum(tf.reduce_sum(W), objective.EPS)

        def epoch_body(e, stop, bad, state, lr, p, fr, sl, step, best, improved_any, curves):
            order = orders[e]
            epoch = first_epoch + e

            def batch_body(b, acc, p, fr, sl, step):
                idx = order[b * batch_size : tf.minimum((b + 1) * batch_size, n)]
                noise = {"rate": dropout, "seed": seed, "epoch": epoch, "batch": b}
                Xb = each(lambda x: tf.gather(x, idx), X)
                Yb, Wb = tf.gather(Y, idx), tf.gather(W, idx)
                if by_hand:
                    value, weight_sum, grads = hand_objective_and_gradients(
                        xp, net, p, Xb, Yb, Wb, alpha, noise
                    )
                else:
                    with tf.GradientTape() as tape:
                        tape.watch(p)
                        value, weight_sum, fr = self._objective(p, fr, Xb, Yb, Wb, alpha, noise)
                    grads = _dense_gradients(tf, tape.gradient(value, p), p)
                p, sl = optimizers.step(xp, key.optimizer, p, grads, sl, step, lr)
                return b + 1, acc + value * weight_sum, p, fr, sl, step + 1

            _, acc, p, fr, sl, step = tf.while_loop(
                lambda b, *rest: b < n_batches,
                batch_body,
                (tf.constant(0), tf.constant(0.0, f), p, fr, sl, step),
            )
            loss = objective.epoch_loss(acc, w_total)
            losses, scores, val_losses = curves
            losses = losses.write(e, loss)
            score = tf.constant(0.0, f)
            if key.has_validation:
                Zv, _, _ = net.logits(xp, p, fr, Xv)
                score, val_loss = objective.validation_metrics(
                    xp, key.task, net.outputs, Yv, Zv, Wv, baseline
                )
                scores = scores.write(e, score)
                val_losses = val_losses.write(e, val_loss)
            seen = seen0 + tf.cast((e + 1) * n, f)
            verdict = rule.after_epoch(
                xp, state, loss=loss, score=score, learning_rate=lr, tol=tol, patience=patience,
                early_stopping=key.early_stopping, schedule=key.learning_rate, lr_init=lr_init,
                power_t=power_t, samples_seen=seen,
            )  # fmt: skip
            if key.early_stopping:
                best = [tf.where(verdict.improved, v, b) for v, b in zip(p + fr, best)]
                improved_any = tf.logical_or(improved_any, verdict.improved)
            state = rule.StoppingState(
                *(tf.cast(s, d) for s, d in zip(verdict.state, (f, f, tf.int32)))
            )
            return (e + 1, verdict.stop, verdict.diverged, state,
                    tf.cast(verdict.learning_rate, f), p, fr, sl, step, best, improved_any,
                    (losses, scores, val_losses))  # fmt: skip

        def array():
            return tf.TensorArray(f, size=n_epochs, element_shape=[])

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

    # -- L-BFGS's full-batch objective ---------------------------------------
    def loss_and_gradient(self, weights, data, alpha):
        import tensorflow as tf

        net, f = self.net, self.float
        if self._loss_and_grads is None:

            def loss_and_grads(params, frozen, X, Y, W, alpha):
                params = list(params)
                with tf.GradientTape() as tape:
                    tape.watch(params)
                    value, _, _ = self._objective(params, list(frozen), X, Y, W, alpha, None)
                return value, _dense_gradients(tf, tape.gradient(value, params), params)

            self._loss_and_grads = tf.function(
                _OwnKey(loss_and_grads),
                input_signature=[
                    self._weight_specs(tf), self._frozen_specs(tf), self._input_spec(tf),
                    tf.TensorSpec([None, None], f), tf.TensorSpec([None], f),
                    tf.TensorSpec([], f),
                ],
                autograph=False,
            )  # fmt: skip
        params, frozen = net.split(weights, 0, 0)
        X, Y, W = data
        value, grads = self._loss_and_grads(params, frozen, X, Y, W, np.asarray(alpha, W.dtype))
        grads = [g.numpy() for g in grads]
        return float(value), net.join(grads, [np.zeros_like(v) for v in frozen])

    # -- one chunk -----------------------------------------------------------
    def run_chunk(self, weights, data, validation, schedule, carry):
        net, key = self.net, self.key
        dtype = np.dtype(key.dtype)
        params, frozen = net.split(weights, schedule.seed, schedule.first_epoch, carry.frozen)
        params = [np.asarray(p, dtype) for p in params]
        if carry.slots is None:
            slots = [
                np.zeros_like(p)
                for p in params
                for _ in range(optimizers.slots_per_weight(key.optimizer))
            ]
        else:
            slots = [np.asarray(s, dtype) for s in carry.slots]
        X, Y, W = data
        if validation is None:
            validation = (each(lambda x: x[:0], X), Y[:0], W[:0])
        Xv, Yv, Wv = validation
        orders = rule.epoch_orders(schedule.seed, schedule.first_epoch, schedule.max_epochs,
                                   n_rows(X), schedule.shuffle)  # fmt: skip
        state = carry.stopping
        scalar = dtype.type
        out = self._run(
            params, frozen, slots, np.int64(carry.step), scalar(carry.learning_rate),
            X, Y, W, Xv, Yv, Wv, orders,
            np.int32(schedule.batch_size), np.int32(schedule.seed),
            np.int32(schedule.first_epoch),
            scalar(schedule.alpha), scalar(schedule.tol),
            np.int32(min(schedule.n_iter_no_change, np.iinfo(np.int32).max)),
            scalar(schedule.learning_rate), scalar(schedule.power_t),
            scalar(schedule.samples_seen), scalar(schedule.dropout),
            scalar(state.best_loss), scalar(state.best_score),
            np.int32(state.no_improvement_count), scalar(schedule.validation_baseline),
        )  # fmt: skip
        (params, frozen, slots, step, lr, losses, scores, val_losses, n_run, stop, diverged,
         (best_loss, best_score, count), best, improved_any) = out  # fmt: skip
        params = [p.numpy() for p in params]
        frozen = [v.numpy() for v in frozen]
        best_weights = None
        if key.early_stopping and bool(improved_any):
            best = [b.numpy() for b in best]
            best_weights = net.join(best[: len(params)], best[len(params) :])
        has_val = key.has_validation
        return ChunkResult(
            weights=net.join(params, frozen),
            best_weights=best_weights,
            carry=Carry(
                stopping=rule.StoppingState(float(best_loss), float(best_score), int(count)),
                step=int(step),
                learning_rate=float(lr),
                slots=[s.numpy() for s in slots],
                frozen=frozen,
            ),
            loss_curve=losses.numpy().astype(float).tolist(),
            validation_scores=scores.numpy().astype(float).tolist() if has_val else [],
            validation_losses=val_losses.numpy().astype(float).tolist() if has_val else [],
            n_iter=int(n_run),
            stopped=bool(stop),
            diverged=bool(diverged),
        )


def _dense_gradients(tf, grads, params):
    """Gradients as dense tensors.

    An embedding table's gradient (through ``tf.gather``) comes as
    ``IndexedSlices``; summed into a tensor of the table's shape here, the
    optimizer's arithmetic stays dense, without TensorFlow's warning about
    converting slices of unknown shape.
    """
    return [
        tf.math.unsorted_segment_sum(g.values, g.indices, tf.shape(p)[0])
        if isinstance(g, tf.IndexedSlices)
        else g
        for g, p in zip(grads, params)
    ]


# -- the cache of programs, and the loop's interface ---------------------------------
_programs = ProgramCache(_Program)
#: The cached programs, oldest first: key -> [program].
programs = _programs.entries


def _program(key):
    """The program of ``key``: dense networks share one per family (any widths)."""
    return _programs.get(replace(key, network=program_network(key.network)))


def tracing_count():
    """Traces of the cached programs' training loops, oldest first."""
    return [p._run.experimental_get_tracing_count() for ps in programs.values() for p in ps]


def max_epochs_per_call(n_rows, batch_size):
    """Epochs one call may run: its batch orders stay within MAX_ORDER_ENTRIES."""
    return max(1, MAX_ORDER_ENTRIES // max(int(n_rows), 1))


def run_chunk(key, weights, data, validation, schedule, carry):
    """Train one chunk of epochs; see :class:`~skout._engine.contract.ChunkLoop`."""
    with _on_device(key.device):
        return _program(key).run_chunk(weights, data, validation, schedule, carry)


def loss_and_gradient(key, weights, data, alpha):
    """The full-batch objective and its gradient (skout's weight order), for L-BFGS."""
    with _on_device(key.device):
        return _program(key).loss_and_gradient(weights, data, alpha)
