"""The training path on Keras's PyTorch backend, without Keras's ``fit``.

A plain Python loop over epochs and mini-batches: each batch is one forward
pass, one ``torch.autograd.grad`` and one optimizer step. Between epochs the stopping
rule and the learning-rate schedules of :mod:`skout._engine.rule` run on
NumPy float32 scalars (what the compiled loops compute in-graph), and the
batches are :func:`~skout._engine.rule.epoch_orders`', so this loop trains the
same network as the TensorFlow and JAX loops. No ``jit``: what costs here is
the Python overhead per batch. Keras's layer and optimizer calls cost about
2 ms a batch on a small CPU (argument checks, scopes, tree walks), several
times a whole MLPClassifier step, so:

- skout's dense network (:class:`~skout._network.NetworkSpec`, no dropout)
  runs as plain torch operations (``addmm`` and the activation per layer, as
  :func:`skout._network.forward` runs it in NumPy), with torch versions of
  its standard losses (the formulas of Keras's PyTorch backend); any other
  network (a Keras body, dropout) or loss goes through the Keras model's
  ``stateless_call`` and Keras's loss function;
- the optimizer step is the update of Keras's PyTorch ``Adam``/``SGD``
  (``torch._foreach`` operations on the same variables, in the same layout as
  ``optimizer.variables``, so ``partial_fit`` state carries over).

Templates (the model and optimizer, built once per
:class:`~skout._training.TrainerKey`) are kept in a bounded cache
(the one :mod:`skout._engine.cache` bounds, least recently used evicted first).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np

from .. import _training
from .._network import import_keras
from . import rule
from .cache import ProgramCache
from .stateless import Template

#: Below this many (batch rows x parameters), a batch runs on one thread.
SMALL_WORK = 2**22

_F32 = np.float32


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


_ACTIVATIONS = {"linear": None, "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid",
                "softmax": "softmax"}  # fmt: skip
_NATIVE_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy",
                  "binary_crossentropy", "mean_squared_error")  # fmt: skip


def _activate(torch, name, z):
    if name == "linear":
        return z
    if name == "softmax":
        return torch.softmax(z, dim=-1)
    return getattr(torch, name)(z)


def _native_loss(torch, name, target, p, eps):
    """Keras's PyTorch-backend loss ``name`` (probabilities in, per sample out)."""
    if name == "mean_squared_error":
        return torch.mean(torch.square(target - p), dim=-1)
    if name == "binary_crossentropy":
        p = torch.clip(p, eps, 1.0 - eps)
        bce = -(target * torch.log(p) + (1.0 - target) * torch.log(1.0 - p))
        return torch.mean(bce, dim=-1)
    p = torch.clip(p / torch.sum(p, dim=-1, keepdim=True), eps, 1.0 - eps)
    if name == "sparse_categorical_crossentropy":
        return torch.nn.functional.nll_loss(torch.log(p), target.long(), reduction="none")
    return -torch.sum(target * torch.log(p), dim=-1)


class _Network:
    """Forward pass and per-sample loss: plain torch where it can, Keras where not."""

    def __init__(self, template):
        import torch

        from .._network import NetworkSpec

        self.template = template
        self.epsilon = import_keras().config.epsilon()
        self.xp = SimpleNamespace(sum=torch.sum, maximum=lambda a, b: torch.clamp(a, min=b))
        spec = template.key.network
        self.native = (
            isinstance(spec, NetworkSpec)
            and spec.dropout == 0
            and spec.activation in _ACTIVATIONS
            and all(o.activation in _ACTIVATIONS for o in spec.outputs)
        )
        self.native_losses = all(o.loss in _NATIVE_LOSSES for o in spec.outputs)
        if self.native:
            # Trainable variables in skout's order: kernel, bias, kernel, ...
            self.layers = [
                (template.places[2 * i][1], template.places[2 * i + 1][1])
                for i in range(len(spec.layer_shapes()))
            ]

    def outputs(self, torch, trainable, non_trainable, x, training):
        if not self.native:
            return self.template.outputs(trainable, non_trainable, x, training)
        spec = self.template.key.network
        n_hidden = len(spec.hidden_layer_sizes)
        h = x
        for k, b in self.layers[:n_hidden]:
            h = _activate(torch, spec.activation, torch.addmm(trainable[b], h, trainable[k]))
        preds = [
            _activate(torch, out.activation, torch.addmm(trainable[b], h, trainable[k]))
            for (k, b), out in zip(self.layers[n_hidden:], spec.outputs)
        ]
        return preds, non_trainable

    def per_sample_loss(self, torch, Y, preds):
        if not self.native_losses:
            return self.template.per_sample_loss(Y, preds)
        total, start = 0.0, 0
        for out, p in zip(self.template.key.network.outputs, preds):
            target = Y[:, start : start + out.target_width]
            start += out.target_width
            if out.sparse_target:
                target = target[:, 0]
            loss = _native_loss(torch, out.loss, target, p, self.epsilon)
            total = total + loss * out.loss_scale
        return total

    def objective(self, torch, trainable, non_trainable, x, y, w, alpha):
        preds, non_trainable = self.outputs(torch, trainable, non_trainable, x, training=True)
        losses = self.per_sample_loss(torch, y, preds)
        penalty = sum(torch.sum(torch.square(trainable[i])) for i in self.template.kernels)
        objective, weight_sum = rule.batch_objective(self.xp, losses, w, penalty, alpha)
        return objective, weight_sum, non_trainable


class _Optimizer:
    """The update of Keras's PyTorch Adam / SGD, on tensors we own.

    The values are laid out as ``optimizer.variables``: the step counter, the
    learning rate, then each slot variable.
    """

    def __init__(self, template):
        optimizer = template.optimizer
        spec = template.key.optimizer
        variables = optimizer.variables
        self.solver = spec.solver
        self.spec = spec
        self.iteration = next(i for i, v in enumerate(variables) if v is optimizer.iterations)
        self.learning_rate = template.learning_rate_position
        # Slot variables are created per trainable variable, in its order.
        self.momentums = [i for i, v in enumerate(variables) if v.name.endswith("_momentum")]
        self.velocities = [i for i, v in enumerate(variables) if v.name.endswith("_velocity")]
        n = len(template.trainable)
        if (
            self.momentums
            and len(self.momentums) != n
            or (self.solver == "adam" and len(self.velocities) != n)
        ):
            raise RuntimeError(f"unexpected optimizer variables: {[v.path for v in variables]}")

    def step(self, torch, values, grads, params):
        """Update ``params`` and the optimizer ``values`` in place."""
        lr = values[self.learning_rate]
        if self.solver == "adam":
            beta_1, beta_2 = self.spec.beta_1, self.spec.beta_2
            local_step = (values[self.iteration] + 1).to(params[0].dtype)
            beta_1_power = torch.pow(torch.tensor(beta_1, dtype=params[0].dtype), local_step)
            beta_2_power = torch.pow(torch.tensor(beta_2, dtype=params[0].dtype), local_step)
            alpha = lr * torch.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            m = [values[i] for i in self.momentums]
            v = [values[i] for i in self.velocities]
            torch._foreach_mul_(m, beta_1)
            torch._foreach_add_(m, grads, alpha=1 - beta_1)
            torch._foreach_mul_(v, beta_2)
            torch._foreach_add_(v, torch._foreach_mul(grads, grads), alpha=1 - beta_2)
            torch._foreach_add_(
                params,
                torch._foreach_div(
                    torch._foreach_mul(m, alpha),
                    torch._foreach_add(torch._foreach_sqrt(v), self.spec.epsilon),
                ),
                alpha=-1,
            )
        else:
            lr = lr.item()
            if self.momentums:
                momentum = self.spec.momentum
                bufs = [values[i] for i in self.momentums]
                torch._foreach_mul_(bufs, momentum)
                torch._foreach_add_(bufs, grads, alpha=-lr)
                if self.spec.nesterov and momentum > 0:
                    torch._foreach_add_(params, grads, alpha=-lr)
                    torch._foreach_add_(params, bufs, alpha=momentum)
                else:
                    torch._foreach_add_(params, bufs)
            else:
                torch._foreach_add_(params, grads, alpha=-lr)
        values[self.iteration] += 1


class _TorchTrainer:
    def __init__(self, key):
        self.key = key
        self.template = Template(key, deferred=True)
        self.network = _Network(self.template)
        self.optimizer = _Optimizer(self.template)
        self._lock = threading.Lock()  # the template's optimizer is not re-entrant

    def train(self, weights, data, validation, schedule, state, optimizer_state):
        work = schedule.batch_size * sum(int(np.prod(v.shape)) for v in self.template.trainable)
        with self._lock, self.template.scope(), _threads(1 if work < SMALL_WORK else None):
            return self._train(weights, data, validation, schedule, state, optimizer_state)

    def _train(self, weights, data, validation, schedule, state, optimizer_state):
        import torch

        keras = import_keras()
        key, template, network = self.key, self.template, self.network

        def tensor(value):  # our own copy: the loop updates it in place
            return keras.ops.convert_to_tensor(np.array(value))

        trainable, non_trainable = template.split(weights, schedule)
        trainable = [tensor(v) for v in trainable]
        non_trainable = [tensor(v) for v in non_trainable]
        initial = template.optimizer_values(optimizer_state, schedule.learning_rate)
        opt_vars = [tensor(v) for v in initial]
        lr_at = template.learning_rate_position
        X, Y, W = (tensor(a) for a in data)
        has_val = key.has_validation and validation is not None
        if has_val:
            Xv, Yv, Wv = (tensor(a) for a in validation[:3])
        n = len(data[0])
        batch_size = int(min(schedule.batch_size, n))
        w_total = max(float(np.sum(data[2], dtype=np.float32)), rule.EPS)
        alpha = torch.tensor(schedule.alpha, dtype=torch.float32)
        stopping = rule.StoppingState(_F32(state.best_loss), _F32(state.best_score),
                                      np.int32(state.no_improvement_count))  # fmt: skip
        lr = _F32(np.asarray(keras.ops.convert_to_numpy(opt_vars[lr_at])))
        curves = ([], [], [])
        best, done, stop, diverged = None, 0, False, False
        while done < schedule.max_epochs and not stop:
            order = torch.from_numpy(
                rule.epoch_orders(
                    schedule.seed, schedule.first_epoch + done, 1, n, schedule.shuffle
                )[0]
            ).long()
            acc = torch.zeros((), dtype=torch.float32)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                for p in trainable:
                    p.requires_grad_()
                objective, weight_sum, non_trainable = network.objective(
                    torch, trainable, non_trainable, X[idx], Y[idx], W[idx], alpha
                )
                grads = torch.autograd.grad(objective, trainable)
                with torch.no_grad():
                    trainable = [p.detach() for p in trainable]
                    self.optimizer.step(torch, opt_vars, list(grads), trainable)
                    non_trainable = [v.detach() for v in non_trainable]
                    acc += objective.detach() * weight_sum
            loss = _F32(acc.item()) / _F32(w_total)
            score = val_loss = _F32(np.nan)
            if has_val:
                with torch.no_grad():
                    preds, _ = network.outputs(torch, trainable, non_trainable, Xv, False)
                    score, val_loss = (_F32(v.item()) for v in template.metrics(preds, Yv, Wv))
            done += 1
            verdict = rule.after_epoch(
                rule.NUMPY, stopping, loss=loss, score=score, learning_rate=lr,
                tol=_F32(schedule.tol), patience=schedule.n_iter_no_change,
                early_stopping=key.early_stopping, schedule=key.learning_rate,
                lr_init=_F32(schedule.learning_rate), power_t=_F32(schedule.power_t),
                samples_seen=_F32(schedule.samples_seen + done * n),
            )  # fmt: skip
            stopping, stop, diverged = verdict.state, bool(verdict.stop), bool(verdict.diverged)
            if verdict.learning_rate != lr:
                lr = _F32(verdict.learning_rate)
                opt_vars[lr_at] = torch.tensor(lr, dtype=opt_vars[lr_at].dtype)
            if key.early_stopping and verdict.improved:
                best = _numpy(template.join(trainable, non_trainable))
            for curve, value in zip(curves, (loss, score, val_loss)):
                curve.append(float(value))
        return _training.TrainResult(
            weights=_numpy(template.join(trainable, non_trainable)),
            best_weights=best,
            optimizer_state=_numpy(opt_vars),
            loss_curve=curves[0],
            validation_scores=curves[1] if has_val else [],
            validation_losses=curves[2] if has_val else [],
            n_iter=done,
            stopped=stop,
            diverged=diverged,
            state=rule.StoppingState(
                float(stopping.best_loss),
                float(stopping.best_score),
                int(stopping.no_improvement_count),
            ),  # fmt: skip
        )


def _numpy(values):
    keras = import_keras()
    return [np.array(keras.ops.convert_to_numpy(v)) for v in values]


# Bounded with every other compiled program (skout.set_training_cache_size).
_trainers = ProgramCache(_TorchTrainer)


def train(key, weights, data, validation, schedule, state=None, optimizer_state=None):
    """Train one chunk on Keras's PyTorch backend.

    The contract (parameters, returned ``TrainResult``) is that of
    :func:`skout._training.train`, which the driver calls for TensorFlow.
    """
    return _trainers.get(key).train(
        weights, data, validation, schedule, state or rule.StoppingState(), optimizer_state
    )
