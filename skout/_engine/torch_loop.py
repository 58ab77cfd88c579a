"""The PyTorch loop: a plain Python loop over epochs and mini-batches.

No ``jit``: what costs here is the Python and dispatch overhead per batch,
so each batch is a handful of PyTorch operations on tensors the loop owns:

- the dense network (:class:`~skout._engine.nets.DenseNet`) with losses that
  carry a hand-written logit gradient runs
  :func:`~skout._engine.network.dense_objective_and_gradients`: the forward
  pass and backpropagation written out over PyTorch's namespace, with no
  autograd graph (held to autograd of the shared objective by
  ``tests/test_engine_network.py``);
- any other network (a Keras body) or loss differentiates the shared
  objective with ``torch.autograd.grad``, through Keras's ``stateless_call``;
- the optimizer step is :func:`skout._engine.optimizers.step` on PyTorch's
  multi-tensor ``_foreach`` kernels.

Between epochs the rule (:mod:`.rule`) runs on NumPy scalars in the
arithmetic's dtype, which is what the compiled loops compute in-graph, and
the batches are :func:`~skout._engine.rule.epoch_orders`', so this loop
trains the network the TensorFlow and JAX loops train.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np

from . import objective, optimizers, rule
from .arrays import numpy_ops, torch_ops
from .cache import ProgramCache
from .contract import Carry, ChunkResult
from .inputs import each, n_rows, rows
from .nets import batch_objective, gradients_by_hand, hand_objective_and_gradients, net_for

__all__ = ["loss_and_gradient", "max_epochs_per_call", "run_chunk"]

#: Below this many (batch rows x parameters), a batch runs on one thread.
SMALL_WORK = 2**22


@contextmanager
def _threads(n):
    """Run torch's operations on ``n`` threads for a while (None: as they are).

    A small network's batch is a few microseconds of work per operation;
    waking torch's thread pool for each costs more than it saves, and on a
    busy machine a hundred times more (measured: 27 ms against 1.6 ms a
    batch with every core taken).
    """
    import torch

    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Program:
    """A net, and how to take a batch's gradient, for one key."""

    def __init__(self, key):
        self.key = key
        self.net = net_for(key.network, deferred=True)
        self.xp = torch_ops(key.dtype)
        self.by_hand = gradients_by_hand(self.net)
        self._lock = threading.Lock()  # a Keras body's model is not re-entrant

    def _gradients(self, trainable, frozen, X, Y, W, alpha, noise):
        """(objective, weight sum, gradients, new frozen state) of one batch."""
        import torch

        xp, net = self.xp, self.net
        if self.by_hand:
            value, weight_sum, grads = hand_objective_and_gradients(
                xp, net, trainable, X, Y, W, alpha, noise
            )
            return value, weight_sum, grads, frozen
        trainable = [p.detach().requires_grad_() for p in trainable]
        value, weight_sum, frozen = batch_objective(xp, net, trainable, frozen, X, Y, W, alpha,
                                                    noise)  # fmt: skip
        grads = torch.autograd.grad(value, trainable)
        return value.detach(), weight_sum, list(grads), [v.detach() for v in frozen]

    def run_chunk(self, weights, data, validation, schedule, carry):
        trainable = sum(int(np.prod(w.shape)) for w in weights)
        work = schedule.batch_size * trainable
        with self._lock, self.net.scope(), _threads(1 if work < SMALL_WORK else None):
            return self._run_chunk(weights, data, validation, schedule, carry)

    def _run_chunk(self, weights, data, validation, schedule, carry):
        import torch

        key, net, xp = self.key, self.net, self.xp
        dtype = np.dtype(key.dtype)
        scalar = dtype.type
        np_ops = numpy_ops(dtype)

        def tensor(value):  # our own copy, in the arithmetic's dtype where it is a float
            array = np.array(value)
            return torch.from_numpy(array.astype(dtype) if array.dtype.kind == "f" else array)

        trainable, frozen = net.split(weights, schedule.seed, schedule.first_epoch, carry.frozen)
        trainable = [tensor(v) for v in trainable]
        frozen = [tensor(v) for v in frozen]
        k = optimizers.slots_per_weight(key.optimizer)
        slots = (
            [torch.zeros_like(p) for p in trainable for _ in range(k)]
            if carry.slots is None
            else [tensor(s) for s in carry.slots]
        )

        def tensors(arrays):  # every input of X alike
            return (each(lambda a: torch.from_numpy(np.ascontiguousarray(a)), a) for a in arrays)

        X, Y, W = tensors(data)
        has_val = key.has_validation and validation is not None
        if has_val:
            Xv, Yv, Wv = tensors(validation)
        n = n_rows(data[0])
        batch_size = int(min(schedule.batch_size, n))
        w_total = max(float(np.sum(data[2], dtype=dtype)), objective.EPS)
        alpha, rate = float(schedule.alpha), float(schedule.dropout)
        stopping = rule.StoppingState(
            scalar(carry.stopping.best_loss), scalar(carry.stopping.best_score),
            np.int32(carry.stopping.no_improvement_count),
        )  # fmt: skip
        lr, count = scalar(carry.learning_rate), int(carry.step)
        curves = ([], [], [])
        best, done, stop, diverged = None, 0, False, False
        while done < schedule.max_epochs and not stop:
            epoch = schedule.first_epoch + done
            if schedule.shuffle:
                order = torch.from_numpy(rule.epoch_orders(schedule.seed, epoch, 1, n)[0]).long()
                # One gather per epoch; each batch is then a slice (a view).
                Xe, Ye, We = rows(X, order), Y[order], W[order]
            else:  # rule.epoch_orders would be 0, 1, ..., n - 1
                Xe, Ye, We = X, Y, W
            total = 0.0
            for b, start in enumerate(range(0, n, batch_size)):
                stop_at = start + batch_size
                noise = {"rate": rate, "seed": schedule.seed, "epoch": epoch, "batch": b}
                # (No autograd context: the by-hand path records no graph, and
                # autograd's gradients and the weights do not require grad.)
                value, weight_sum, grads, frozen = self._gradients(
                    trainable, frozen, rows(Xe, slice(start, stop_at)), Ye[start:stop_at],
                    We[start:stop_at], alpha, noise,
                )  # fmt: skip
                trainable, slots = optimizers.step(
                    xp, key.optimizer, trainable, grads, slots, count, float(lr)
                )
                count += 1
                total = total + value * weight_sum
            loss = scalar(float(total)) / scalar(w_total)
            score = val_loss = scalar(np.nan)
            if has_val:
                Zv, _, _ = net.logits(xp, trainable, frozen, Xv)
                metrics = objective.validation_metrics(
                    xp, key.task, net.outputs, Yv, Zv, Wv, schedule.validation_baseline
                )
                score, val_loss = (scalar(float(v)) for v in metrics)
            done += 1
            verdict = rule.after_epoch(
                np_ops, stopping, loss=loss, score=score, learning_rate=lr,
                tol=scalar(schedule.tol), patience=schedule.n_iter_no_change,
                early_stopping=key.early_stopping, schedule=key.learning_rate,
                lr_init=scalar(schedule.learning_rate), power_t=scalar(schedule.power_t),
                samples_seen=scalar(schedule.samples_seen + done * n),
            )  # fmt: skip
            stopping, stop, diverged = verdict.state, bool(verdict.stop), bool(verdict.diverged)
            lr = scalar(verdict.learning_rate)
            if key.early_stopping and verdict.improved:
                best = _numpy(net.join(trainable, frozen))
            for curve, value in zip(curves, (loss, score, val_loss)):
                curve.append(float(value))
        frozen = _numpy(frozen)
        return ChunkResult(
            weights=_numpy(net.join(trainable, frozen)),
            best_weights=best,
            carry=Carry(
                stopping=rule.StoppingState(
                    float(stopping.best_loss),
                    float(stopping.best_score),
                    int(stopping.no_improvement_count),
                ),  # fmt: skip
                step=count,
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
        import torch

        net = self.net
        with self._lock, net.scope():
            trainable, frozen = net.split(weights, 0, 0)
            X, Y, W = (each(lambda a: torch.from_numpy(np.ascontiguousarray(a)), a) for a in data)
            value, _, grads, _ = self._gradients(
                [torch.from_numpy(np.array(t)) for t in trainable],
                [torch.from_numpy(np.array(v)) for v in frozen], X, Y, W, float(alpha), None,
            )  # fmt: skip
            return float(value), net.join(_numpy(grads), [np.zeros_like(v) for v in frozen])


def _numpy(values):
    return [np.array(v.detach().numpy() if hasattr(v, "detach") else v, copy=True) for v in values]


# Bounded with every other compiled program (skout.set_training_cache_size).
_programs = ProgramCache(_Program)


def max_epochs_per_call(n_rows, batch_size):
    """No bound: this loop holds one epoch's batch order at a time."""
    return np.iinfo(np.int32).max


def run_chunk(key, weights, data, validation, schedule, carry):
    """Train one chunk of epochs; see :class:`~skout._engine.contract.ChunkLoop`."""
    return _programs.get(key).run_chunk(weights, data, validation, schedule, carry)


def loss_and_gradient(key, weights, data, alpha):
    """The full-batch objective and its gradient, for L-BFGS."""
    return _programs.get(key).loss_and_gradient(weights, data, alpha)
