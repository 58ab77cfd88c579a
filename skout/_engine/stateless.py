"""What the stateless training loops (JAX, PyTorch) share.

Both loops train a Keras model through its stateless API: the values of its
variables are plain arrays passed in and returned, never assigned. A
:class:`Template` builds the model and optimizer once per
:class:`~skout._training.TrainerKey` and knows where each of skout's weights
sits among the model's trainable and non-trainable variables, which of them
are kernels (for the L2 term) and which optimizer variable is the learning
rate.

The per-sample loss and the validation metrics are written over
``keras.ops`` so that one definition serves every backend; they are the
definitions of the compiled TensorFlow loop (:mod:`skout._training`): the
score is accuracy (classification) or R^2 averaged over outputs
(regression), the validation loss is the data loss without the L2 term, both
weighted by the sample weights.

The shapes the loops compile for are rounded up (:func:`bucket`) so that data
sets, folds and batch sizes of similar size share one compiled program;
padded rows carry zero weight, and :func:`~skout._engine.rule.batch_objective`
divides by the weight sum, so they change nothing for dense networks.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from .._network import import_keras, walk_layers
from . import rule


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


class Template:
    """A Keras model and optimizer for a key, and where each value lives.

    Attributes
    ----------
    model, optimizer
        Built once; their variables are only read (for initial values and
        the variable structure), never trained in place.
    places : list of (bool, int)
        For each of skout's weights: (trainable?, position in the model's
        trainable or non-trainable variables).
    kernels : list of int
        Positions of the kernels among the trainable variables.
    learning_rate_position : int
        Position of the learning rate among the optimizer variables.
    """

    def __init__(self, key, deferred=False):
        keras = import_keras()
        self.key = key
        spec = key.network
        # Deferred: the variables get shapes but no values (their initializers
        # never run; on JAX each would compile a program per shape). Every
        # value is passed in, so none is needed -- but then every stateless
        # call must run inside :meth:`scope`, or leaving Keras's scope would
        # initialize them there.
        self.deferred = deferred
        self.optimizer = key.optimizer.build(1e-3)  # its own variables have values
        with self.scope():
            self.model = spec.build()
            self.optimizer.build(self.model.trainable_variables)
        self.trainable = list(self.model.trainable_variables)
        self.non_trainable = list(self.model.non_trainable_variables)
        trainable = {id(v): i for i, v in enumerate(self.trainable)}
        non_trainable = {id(v): i for i, v in enumerate(self.non_trainable)}
        self.places = [
            (True, trainable[id(v)]) if id(v) in trainable else (False, non_trainable[id(v)])
            for v in spec.variables(self.model)
        ]
        self.kernels = [trainable[id(v)] for v in spec.kernel_variables(self.model)]
        # Random layers (dropout, noise): reseeded from random_state per call,
        # as the TensorFlow loop does.
        self.seed_positions = [
            non_trainable[id(layer.seed_generator.state)]
            for layer in walk_layers(self.model)
            if isinstance(getattr(layer, "seed_generator", None), keras.random.SeedGenerator)
            and id(layer.seed_generator.state) in non_trainable
        ]
        self.learning_rate_position = next(
            i for i, v in enumerate(self.optimizer.variables) if v is self.optimizer.learning_rate
        )
        self.loss_fns = [keras.losses.get(o.loss) for o in spec.outputs]

    def scope(self):
        """The scope every use of a deferred template's variables runs in."""
        keras = import_keras()
        if not self.deferred:
            return nullcontext()
        return keras.StatelessScope(initialize_variables=False)

    # -- values in and out ------------------------------------------------
    def split(self, weights, schedule):
        """NumPy values of the (trainable, non-trainable) variables."""
        keras = import_keras()
        trainable = [None] * len(self.trainable)
        non_trainable = [None] * len(self.non_trainable)
        for (is_trainable, i), value in zip(self.places, weights):
            (trainable if is_trainable else non_trainable)[i] = np.asarray(value, np.float32)
        for i, position in enumerate(self.seed_positions):
            dtype = keras.backend.standardize_dtype(self.non_trainable[position].dtype)
            non_trainable[position] = np.array([schedule.seed + i, schedule.first_epoch], dtype)
        for i, variable in enumerate(self.non_trainable):
            if non_trainable[i] is None:  # neither a weight nor a seed: its initial value
                non_trainable[i] = np.array(keras.ops.convert_to_numpy(variable.value))
        return trainable, non_trainable

    def join(self, trainable, non_trainable):
        """skout's weight list from the variables' values (any array type)."""
        return [(trainable if t else non_trainable)[i] for t, i in self.places]

    def optimizer_values(self, optimizer_state, learning_rate):
        """Optimizer variables to start from: saved ones, or fresh ones."""
        keras = import_keras()
        if optimizer_state is not None:
            return [np.asarray(v) for v in optimizer_state]
        values = [
            np.zeros(v.shape, keras.backend.standardize_dtype(v.dtype))
            for v in self.optimizer.variables
        ]
        position = self.learning_rate_position
        values[position] = np.asarray(learning_rate, values[position].dtype)
        return values

    # -- the objective and the metrics, over keras.ops -------------------
    def outputs(self, trainable, non_trainable, x, training):
        out, non_trainable = self.model.stateless_call(
            trainable, non_trainable, x, training=training
        )
        return (list(out) if isinstance(out, (list, tuple)) else [out]), non_trainable

    def per_sample_loss(self, Y, preds):
        ops = import_keras().ops
        total, start = 0.0, 0
        for fn, out, p in zip(self.loss_fns, self.key.network.outputs, preds):
            target = Y[:, start : start + out.target_width]
            start += out.target_width
            if out.sparse_target:
                target = ops.cast(target[:, 0], "int32")
            total = total + fn(target, p) * out.loss_scale
        return total

    def penalty(self, trainable):
        ops = import_keras().ops
        return sum(ops.sum(ops.square(trainable[i])) for i in self.kernels)

    def objective(self, xp, trainable, non_trainable, x, y, w, alpha):
        """The mini-batch objective of :func:`rule.batch_objective`.

        Returns ``objective, (weight_sum, non_trainable)``.
        """
        preds, non_trainable = self.outputs(trainable, non_trainable, x, training=True)
        losses = self.per_sample_loss(y, preds)
        # Padded rows weigh 0; keep a non-finite loss there out of the sum.
        losses = xp.where(w > 0, losses, 0.0)
        objective, weight_sum = rule.batch_objective(xp, losses, w, self.penalty(trainable), alpha)
        return objective, (weight_sum, non_trainable)

    def correct(self, Y, preds):
        """Per-sample 1.0/0.0: every output (and label) predicted right."""
        ops = import_keras().ops
        ok, start = None, 0
        for out, p in zip(self.key.network.outputs, preds):
            target = Y[:, start : start + out.target_width]
            start += out.target_width
            if out.activation == "sigmoid" and out.units == 1:
                right = ops.equal(ops.cast(p[:, 0] > 0.5, "float32"), target[:, 0])
            elif out.activation == "sigmoid":
                right = ops.all(ops.equal(ops.cast(p > 0.5, "float32"), target), axis=1)
            else:
                pred = ops.cast(ops.argmax(p, axis=1), "int32")
                truth = (
                    ops.cast(target[:, 0], "int32")
                    if out.sparse_target
                    else ops.cast(ops.argmax(target, axis=1), "int32")
                )
                right = ops.equal(pred, truth)
            ok = right if ok is None else ops.logical_and(ok, right)
        return ops.cast(ok, "float32")

    def validation_metrics(self, trainable, non_trainable, Xv, Yv, Wv):
        """(score, loss) on validation data, as the TensorFlow loop scores."""
        preds, _ = self.outputs(trainable, non_trainable, Xv, training=False)
        return self.metrics(preds, Yv, Wv)

    def metrics(self, preds, Yv, Wv):
        """(score, loss) of the network outputs ``preds`` on validation data."""
        ops = import_keras().ops
        wsum = ops.maximum(ops.sum(Wv), rule.EPS)
        losses = ops.where(Wv > 0, self.per_sample_loss(Yv, preds), 0.0)
        loss = ops.sum(losses * Wv) / wsum
        if self.key.task == "classification":
            return ops.sum(self.correct(Yv, preds) * Wv) / wsum, loss
        pred = ops.concatenate(preds, axis=1)
        w = Wv[:, None]
        mean = ops.sum(Yv * w, axis=0) / wsum
        ss_res = ops.sum(w * ops.square(Yv - pred), axis=0)
        ss_tot = ops.sum(w * ops.square(Yv - mean), axis=0)
        r2 = ops.where(ss_tot > 0, 1.0 - ss_res / ops.maximum(ss_tot, rule.EPS), 0.0)
        return ops.mean(r2), loss
