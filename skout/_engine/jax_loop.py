"""The JAX loop: many epochs inside one ``jax.jit``-compiled call.

A ``lax.while_loop`` over epochs (it stops as soon as the stopping rule says
so) around a ``lax.fori_loop`` over mini-batches, each a ``value_and_grad``
of the shared objective (:mod:`.objective`) on the network's logits
(:mod:`.nets`: the dense network, or a body's ``stateless_call``) followed
by the shared optimizer step (:mod:`.optimizers`). The rule is
:mod:`.rule`'s and the batch order :func:`~skout._engine.rule.epoch_orders`',
so this loop trains the network the TensorFlow and PyTorch loops train.

What may differ between fits -- data, learning rate, alpha, batch size, tol,
patience, stopping state -- is a traced argument. Shapes are rounded up
(:func:`bucket`): the data rows, the validation rows and the batch (padded
rows weigh zero and the objective leaves them out), so that the folds of a
cross-validation and data sets of similar size reuse one compiled program.
A program is kept per network (its widths included: XLA compiles per
shape) in the bounded cache shared with every loop (:mod:`.cache`).
"""

from __future__ import annotations

import numpy as np

from . import objective, optimizers, rule
from .arrays import jax_ops
from .cache import ProgramCache
from .contract import MAX_ORDER_ENTRIES, Carry, ChunkResult
from .inputs import each, n_rows
from .nets import DenseNet, batch_objective, net_for

__all__ = ["bucket", "loss_and_gradient", "max_epochs_per_call", "run_chunk"]

#: Most epochs one compiled call runs (its batch orders are an argument).
EPOCHS_PER_CALL = 32

_STATE_DTYPES = ("float", "float", "int32")


def bucket(n, steps=8):
    """``n`` rounded up to one of ``steps`` sizes per power of two.

    Examples
    --------
    >>> [bucket(n) for n in (1, 7, 9, 178, 200, 1797)]
    [1, 7, 9, 192, 208, 1920]
    """
    n = int(n)
    if n <= 2 * steps:
        return max(n, 1)
    grain = 2 ** (int(np.floor(np.log2(n))) - int(np.log2(steps)))
    return -(-n // grain) * grain


def pad_rows(array, rows):
    """``array`` with zero rows appended up to ``rows`` rows."""
    if len(array) == rows:
        return array
    padded = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    padded[: len(array)] = array
    return padded


def _check_dtype(dtype):
    import jax

    if np.dtype(dtype) == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError(
            "dtype='float64' on Keras's JAX backend needs JAX's 64-bit mode, which is "
            "off by default: run jax.config.update('jax_enable_x64', True) before "
            "fitting (or set JAX_ENABLE_X64=1), or use dtype='float32'."
        )


class _Program:
    """A net and its compiled multi-epoch loop for one key."""

    def __init__(self, key):
        import jax

        _check_dtype(key.dtype)
        self.key = key
        self.net = net_for(key.network, deferred=True)
        self.xp = jax_ops(key.dtype)
        self._run = jax.jit(self._build())
        self._value_and_grad = None

    def _objective(self, trainable, frozen, x, y, w, alpha, noise):
        value, weight_sum, frozen = batch_objective(
            self.xp, self.net, trainable, frozen, x, y, w, alpha, noise
        )
        return value, (weight_sum, frozen)

    def _build(self):
        import jax
        import jax.numpy as jnp

        key, net, xp = self.key, self.net, self.xp
        f = xp.dtype

        def step(carry, xb, yb, wb, alpha, lr, noise):
            trainable, frozen, slots, count, acc = carry
            (value, (weight_sum, frozen)), grads = jax.value_and_grad(
                lambda t: self._objective(t, frozen, xb, yb, wb, alpha, noise), has_aux=True
            )(trainable)
            trainable, slots = optimizers.step(xp, key.optimizer, trainable, grads, slots, count,
                                               lr)  # fmt: skip
            return trainable, frozen, slots, count + 1, acc + value * weight_sum

        def run(*args):
            with net.scope():
                return run_epochs(*args)

        def run_epochs(trainable, frozen, slots, count, lr, best, data, validation, orders, s):
            X, Y, W = data
            batch = orders.shape[1] - W.shape[0]  # the static (padded) batch size
            positions = jnp.arange(batch)
            n, batch_size = s["n"], s["batch_size"]
            n_batches = (n + batch_size - 1) // batch_size
            w_total = jnp.maximum(jnp.sum(W), objective.EPS)

            def epoch(carry):
                e, _, _, trainable, frozen, slots, count, lr, best, state, once, curves = carry
                order = orders[e]
                first = s["first_epoch"] + e

                def one_batch(b, c):
                    start = b * batch_size
                    idx = jax.lax.dynamic_slice(order, (start,), (batch,))
                    inside = (positions < batch_size) & (start + positions < n)
                    wb = jnp.where(inside, W[idx], 0.0)
                    noise = {"rate": s["dropout"], "seed": s["seed"], "epoch": first,
                             "batch": b}  # fmt: skip
                    xb = each(lambda x: x[idx], X)
                    return step(c, xb, Y[idx], wb, s["alpha"], lr, noise)

                trainable, frozen, slots, count, acc = jax.lax.fori_loop(
                    0, n_batches, one_batch,
                    (trainable, frozen, slots, count, jnp.zeros((), f)),
                )  # fmt: skip
                loss = objective.epoch_loss(acc, w_total)
                score = val_loss = jnp.asarray(jnp.nan, f)
                if key.has_validation:
                    Xv, Yv, Wv = validation
                    Zv, _, _ = net.logits(xp, trainable, frozen, Xv)
                    score, val_loss = objective.validation_metrics(
                        xp, key.task, net.outputs, Yv, Zv, Wv, s["baseline"]
                    )
                verdict = rule.after_epoch(
                    xp, state, loss=loss, score=score, learning_rate=lr, tol=s["tol"],
                    patience=s["patience"], early_stopping=key.early_stopping,
                    schedule=key.learning_rate, lr_init=s["lr_init"], power_t=s["power_t"],
                    samples_seen=s["seen"] + ((e + 1) * n).astype(f),
                )  # fmt: skip
                if key.early_stopping:
                    best = jax.tree.map(
                        lambda c, b: jnp.where(verdict.improved, c, b), (trainable, frozen), best
                    )
                    once = once | verdict.improved
                state = rule.StoppingState(
                    *(jnp.asarray(v, f if d == "float" else d)
                      for v, d in zip(verdict.state, _STATE_DTYPES))
                )  # fmt: skip
                losses, scores, val_losses = curves
                curves = (losses.at[e].set(loss), scores.at[e].set(score),
                          val_losses.at[e].set(val_loss))  # fmt: skip
                rate = jnp.asarray(verdict.learning_rate, f)
                return (e + 1, verdict.stop, verdict.diverged, trainable, frozen, slots, count,
                        rate, best, state, once, curves)  # fmt: skip

            def going(carry):
                e, stop = carry[0], carry[1]
                return (e < s["n_epochs"]) & ~stop

            k = orders.shape[0]
            curves = tuple(jnp.full((k,), jnp.nan, f) for _ in range(3))
            state = rule.StoppingState(s["best_loss"], s["best_score"], s["count"])
            carry = (jnp.int32(0), jnp.bool_(False), jnp.bool_(False), list(trainable),
                     list(frozen), list(slots), count, lr, best, state, jnp.bool_(False),
                     curves)  # fmt: skip
            return jax.lax.while_loop(going, epoch, carry)

        return run

    def run_chunk(self, weights, data, validation, schedule, carry):
        import jax.numpy as jnp

        key, net = self.key, self.net
        dtype = np.dtype(key.dtype)
        trainable, frozen = net.split(weights, schedule.seed, schedule.first_epoch, carry.frozen)
        trainable = [np.asarray(t, dtype) for t in trainable]
        k = optimizers.slots_per_weight(key.optimizer)
        slots = (
            [np.zeros_like(t) for t in trainable for _ in range(k)]
            if carry.slots is None
            else [np.asarray(s, dtype) for s in carry.slots]
        )
        best = (trainable, frozen) if key.early_stopping else ()
        X, Y, W = data
        n = n_rows(X)
        batch_size = int(min(schedule.batch_size, n))
        # A dense network's batch is padded (padded rows weigh 0); a body's is
        # not, since its layers (batch normalisation) would see the padding.
        batch = bucket(batch_size) if isinstance(net, DenseNet) else batch_size
        rows = bucket(n)

        def on_device(arrays, rows):  # padded, every input of X alike
            return tuple(each(lambda a: jnp.asarray(pad_rows(a, rows)), a) for a in arrays)

        device_data = on_device((X, Y, W), rows)
        device_val = ()
        if validation is not None and key.has_validation:
            device_val = on_device(validation, bucket(n_rows(validation[0])))
        per_call = max_epochs_per_call(rows, batch)
        scalar = dtype.type
        s = {
            "n": np.int32(n), "batch_size": np.int32(batch_size),
            "alpha": scalar(schedule.alpha), "tol": scalar(schedule.tol),
            "patience": np.int32(min(schedule.n_iter_no_change, np.iinfo(np.int32).max)),
            "lr_init": scalar(schedule.learning_rate), "power_t": scalar(schedule.power_t),
            "dropout": scalar(schedule.dropout), "seed": np.int32(schedule.seed),
            "baseline": scalar(schedule.validation_baseline),
            "best_loss": scalar(carry.stopping.best_loss),
            "best_score": scalar(carry.stopping.best_score),
            "count": np.int32(carry.stopping.no_improvement_count),
        }  # fmt: skip
        curves = ([], [], [])
        done, stop, diverged, improved_once = 0, False, False, False
        count, lr = np.int32(carry.step), scalar(carry.learning_rate)
        values = (trainable, frozen, slots)
        while done < schedule.max_epochs and not stop:
            epochs = min(per_call, schedule.max_epochs - done)
            orders = np.zeros((per_call, rows + batch), np.int32)
            orders[:epochs, :n] = rule.epoch_orders(
                schedule.seed, schedule.first_epoch + done, epochs, n, schedule.shuffle
            )
            s["n_epochs"] = np.int32(epochs)
            s["first_epoch"] = np.int32(schedule.first_epoch + done)
            s["seen"] = scalar(schedule.samples_seen + done * n)
            out = self._run(*values, count, lr, best, device_data, device_val, orders, s)
            ran, stop, diverged, *values, count, lr, best, state, once, chunk_curves = out
            values = tuple(values)
            ran = int(ran)
            stop, diverged = bool(stop), bool(diverged)
            improved_once = improved_once or bool(once)
            s["best_loss"], s["best_score"], s["count"] = state
            for curve, run_values in zip(curves, chunk_curves):
                curve += np.asarray(run_values[:ran], dtype=float).tolist()
            done += ran
        trainable, frozen, slots = values
        has_val = key.has_validation
        frozen = _numpy(frozen)
        return ChunkResult(
            weights=_numpy(net.join(trainable, frozen)),
            best_weights=_numpy(net.join(*best)) if improved_once else None,
            carry=Carry(
                stopping=rule.StoppingState(
                    float(s["best_loss"]), float(s["best_score"]), int(s["count"])
                ),
                step=int(count),
                learning_rate=float(lr),
                slots=_numpy(slots),
                frozen=frozen,
            ),
            loss_curve=curves[0],
            validation_scores=curves[1] if has_val else [],
            validation_losses=curves[2] if has_val else [],
            n_iter=done,
            stopped=stop,
            diverged=diverged,
        )

    def loss_and_gradient(self, weights, data, alpha):
        import jax

        net = self.net
        if self._value_and_grad is None:

            def value_and_grad(trainable, frozen, X, Y, W, alpha):
                with net.scope():
                    return jax.value_and_grad(
                        lambda t: self._objective(t, frozen, X, Y, W, alpha, None)[0]
                    )(trainable)

            self._value_and_grad = jax.jit(value_and_grad)
        trainable, frozen = net.split(weights, 0, 0)
        X, Y, W = data
        value, grads = self._value_and_grad(trainable, frozen, X, Y, W, W.dtype.type(alpha))
        return float(value), net.join(_numpy(grads), [np.zeros_like(v) for v in frozen])


def _numpy(values):
    return [np.array(v) for v in values]


# Bounded with every other compiled program (skout.set_training_cache_size).
_programs = ProgramCache(_Program)


def max_epochs_per_call(n_rows, batch_size):
    """Epochs one compiled call runs: at most 32, its batch orders within bounds."""
    return int(max(1, min(EPOCHS_PER_CALL, MAX_ORDER_ENTRIES // (int(n_rows) + int(batch_size)))))


def run_chunk(key, weights, data, validation, schedule, carry):
    """Train one chunk of epochs; see :class:`~skout._engine.contract.ChunkLoop`."""
    return _programs.get(key).run_chunk(weights, data, validation, schedule, carry)


def loss_and_gradient(key, weights, data, alpha):
    """The full-batch objective and its gradient, for L-BFGS."""
    return _programs.get(key).loss_and_gradient(weights, data, alpha)
