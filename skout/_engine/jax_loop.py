"""The compiled training path on Keras's JAX backend.

Many epochs run inside one ``jax.jit``-compiled call: a ``lax.while_loop``
over epochs (it stops as soon as the stopping rule says so) around a
``lax.fori_loop`` over mini-batches, each a ``value_and_grad`` of the Keras
model's ``stateless_call`` followed by the optimizer's ``stateless_apply``.
The rule (objective, stopping, learning-rate schedules) is
:mod:`skout._engine.rule`'s, and the batch order is
:func:`~skout._engine.rule.epoch_orders`', drawn in NumPy, so this loop trains
the same network as the TensorFlow one.

What may differ between fits -- data, learning rate, alpha, batch size, tol,
patience, stopping state -- is a traced argument. Shapes are rounded up
(:func:`~skout._engine.stateless.bucket`): the data rows, the validation rows
and the batch (padded rows weigh zero), so that the folds of a
cross-validation and data sets of similar size reuse one compiled program.
A call runs at most :data:`EPOCHS_PER_CALL` epochs; longer chunks are run as
several calls (so that memory for batch orders stays bounded and Ctrl-C is
seen between calls).

Compiled programs are kept per :class:`~skout._training.TrainerKey` in a
bounded cache shared with every compiled program
(:func:`skout.set_training_cache_size`, least recently used evicted first).
"""

from __future__ import annotations

import numpy as np

from .. import _training
from . import rule
from .cache import ProgramCache
from .stateless import Template, bucket, pad_rows

#: Most epochs one compiled call runs (its batch orders are an argument).
EPOCHS_PER_CALL = 32
#: Most batch-order entries (epochs x rows) passed to one call.
MAX_ORDER_ENTRIES = 2**22


class _JaxTrainer:
    """A template model and its compiled multi-epoch loop for one key."""

    def __init__(self, key):
        import jax

        self.key = key
        self.template = Template(key, deferred=True)
        self._run = jax.jit(self._build())

    def _build(self):
        import jax
        import jax.numpy as jnp

        key, template = self.key, self.template
        optimizer = template.optimizer
        xp = rule.namespace(jnp)
        lr_at = template.learning_rate_position

        def step(carry, xb, yb, wb, alpha):
            trainable, non_trainable, opt_vars, acc = carry
            (objective, (weight_sum, non_trainable)), grads = jax.value_and_grad(
                lambda t: template.objective(xp, t, non_trainable, xb, yb, wb, alpha),
                has_aux=True,
            )(trainable)
            trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
            return trainable, non_trainable, opt_vars, acc + objective * weight_sum

        def run(*args):
            with template.scope():
                return run_epochs(*args)

        def run_epochs(trainable, non_trainable, opt_vars, best, data, validation, orders, s):
            X, Y, W = data
            batch = orders.shape[1] - X.shape[0]  # the static (padded) batch size
            positions = jnp.arange(batch)
            n, batch_size = s["n"], s["batch_size"]
            n_batches = (n + batch_size - 1) // batch_size
            w_total = jnp.maximum(jnp.sum(W), rule.EPS)

            def epoch(carry):
                e, _, _, trainable, non_trainable, opt_vars, best, state, once, curves = carry
                order = orders[e]

                def one_batch(b, c):
                    start = b * batch_size
                    idx = jax.lax.dynamic_slice(order, (start,), (batch,))
                    inside = (positions < batch_size) & (start + positions < n)
                    wb = jnp.where(inside, W[idx], 0.0)
                    return step(c, X[idx], Y[idx], wb, s["alpha"])

                trainable, non_trainable, opt_vars, acc = jax.lax.fori_loop(
                    0, n_batches, one_batch,
                    (trainable, non_trainable, opt_vars, jnp.float32(0.0)),
                )  # fmt: skip
                loss = rule.epoch_loss(acc, w_total)
                score = val_loss = jnp.float32(jnp.nan)
                if key.has_validation:
                    score, val_loss = template.validation_metrics(
                        trainable, non_trainable, *validation
                    )
                verdict = rule.after_epoch(
                    xp, state, loss=loss, score=score,
                    learning_rate=opt_vars[lr_at], tol=s["tol"], patience=s["patience"],
                    early_stopping=key.early_stopping, schedule=key.learning_rate,
                    lr_init=s["lr_init"], power_t=s["power_t"],
                    samples_seen=s["seen"] + ((e + 1) * n).astype(jnp.float32),
                )  # fmt: skip
                opt_vars = list(opt_vars)
                opt_vars[lr_at] = jnp.asarray(verdict.learning_rate, opt_vars[lr_at].dtype)
                if key.early_stopping:
                    current = (trainable, non_trainable)
                    best = jax.tree.map(
                        lambda c, b: jnp.where(verdict.improved, c, b), current, best
                    )
                    once = once | verdict.improved
                state = rule.StoppingState(
                    *(jnp.asarray(v, dt) for v, dt in zip(verdict.state, STATE_DTYPES))
                )
                losses, scores, val_losses = curves
                curves = (losses.at[e].set(loss), scores.at[e].set(score),
                          val_losses.at[e].set(val_loss))  # fmt: skip
                return (e + 1, verdict.stop, verdict.diverged, trainable, non_trainable,
                        opt_vars, best, state, once, curves)  # fmt: skip

            def going(carry):
                e, stop = carry[0], carry[1]
                return (e < s["n_epochs"]) & ~stop

            k = orders.shape[0]
            curves = tuple(jnp.full((k,), jnp.nan, jnp.float32) for _ in range(3))
            state = rule.StoppingState(s["best_loss"], s["best_score"], s["count"])
            carry = (jnp.int32(0), jnp.bool_(False), jnp.bool_(False), list(trainable),
                     list(non_trainable), list(opt_vars), best, state, jnp.bool_(False),
                     curves)  # fmt: skip
            return jax.lax.while_loop(going, epoch, carry)

        return run

    def train(self, weights, data, validation, schedule, state, optimizer_state):
        import jax.numpy as jnp

        template = self.template
        trainable, non_trainable = template.split(weights, schedule)
        opt_vars = template.optimizer_values(optimizer_state, schedule.learning_rate)
        best = (trainable, non_trainable) if self.key.early_stopping else ()
        X, Y, W = data
        n = len(X)
        batch_size = int(min(schedule.batch_size, n))
        batch = bucket(batch_size) if template.key.network.n_layers is not None else batch_size
        rows = bucket(n)
        device_data = tuple(jnp.asarray(pad_rows(a, rows)) for a in (X, Y, W))
        device_val = ()
        if validation is not None and self.key.has_validation:
            val_rows = bucket(len(validation[0]))
            device_val = tuple(jnp.asarray(pad_rows(a, val_rows)) for a in validation[:3])
        epochs_per_call = int(max(1, min(EPOCHS_PER_CALL, MAX_ORDER_ENTRIES // (rows + batch))))
        scalars = {
            "n": np.int32(n), "batch_size": np.int32(batch_size),
            "alpha": np.float32(schedule.alpha), "tol": np.float32(schedule.tol),
            "patience": np.int32(min(schedule.n_iter_no_change, np.iinfo(np.int32).max)),
            "lr_init": np.float32(schedule.learning_rate),
            "power_t": np.float32(schedule.power_t),
            "best_loss": np.float32(state.best_loss), "best_score": np.float32(state.best_score),
            "count": np.int32(state.no_improvement_count),
        }  # fmt: skip
        curves = ([], [], [])
        done, stop, diverged, improved_once = 0, False, False, False
        values = (trainable, non_trainable, opt_vars, best)
        while done < schedule.max_epochs and not stop:
            k = min(epochs_per_call, schedule.max_epochs - done)
            orders = np.zeros((epochs_per_call, rows + batch), np.int32)
            orders[:k, :n] = rule.epoch_orders(
                schedule.seed, schedule.first_epoch + done, k, n, schedule.shuffle
            )
            scalars["n_epochs"] = np.int32(k)
            scalars["seen"] = np.float32(schedule.samples_seen + done * n)
            out = self._run(*values, device_data, device_val, orders, scalars)
            ran, stop, diverged, *values, st, once, chunk_curves = out
            ran = int(ran)
            stop, diverged = bool(stop), bool(diverged)
            improved_once = improved_once or bool(once)
            scalars["best_loss"], scalars["best_score"], scalars["count"] = st
            for curve, values_run in zip(curves, chunk_curves):
                curve += np.asarray(values_run[:ran], dtype=float).tolist()
            done += ran
        trainable, non_trainable, opt_vars, best = values
        has_val = self.key.has_validation
        return _training.TrainResult(
            weights=_numpy(template.join(trainable, non_trainable)),
            best_weights=_numpy(template.join(*best)) if improved_once else None,
            optimizer_state=_numpy(opt_vars),
            loss_curve=curves[0],
            validation_scores=curves[1] if has_val else [],
            validation_losses=curves[2] if has_val else [],
            n_iter=done,
            stopped=stop,
            diverged=diverged,
            state=rule.StoppingState(
                float(scalars["best_loss"]),
                float(scalars["best_score"]),
                int(scalars["count"]),
            ),  # fmt: skip
        )


STATE_DTYPES = ("float32", "float32", "int32")


def _numpy(values):
    return [np.array(v) for v in values]


# Bounded with every other compiled program (skout.set_training_cache_size).
_trainers = ProgramCache(_JaxTrainer)


def train(key, weights, data, validation, schedule, state=None, optimizer_state=None):
    """Train one chunk on Keras's JAX backend.

    The contract (parameters, returned ``TrainResult``) is that of
    :func:`skout._training.train`, which the driver calls for TensorFlow.
    """
    return _trainers.get(key).train(
        weights, data, validation, schedule, state or rule.StoppingState(), optimizer_state
    )
