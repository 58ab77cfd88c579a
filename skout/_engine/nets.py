"""The networks the loops train, as functions of their weights.

A loop never calls a Keras layer or a weight by itself: it asks a *net* for
the heads' logits given the values of the weights, and the objective
(:mod:`.objective`) does the rest. Two nets, one interface:

- :class:`DenseNet`: skout's dense network (``hidden_layer_sizes``), the
  function :func:`~skout._engine.network.dense_logits`, on any namespace;
- :class:`KerasNet`: a user's body with skout's heads, run through Keras's
  ``model.stateless_call`` on a model built once per body architecture, with
  the body's own losses (kernel and activity regularisers, ``add_loss``)
  collected and added to the objective, as Keras's ``fit`` adds them.

Both split skout's weight list into the values the loop differentiates
(``trainable``) and the rest (``frozen``: batch-norm statistics, the random
seeds of dropout layers), and join them back.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from .._network import NetworkSpec, import_keras, walk_layers
from . import objective
from .contract import DenseFamily
from .network import dense_logits, dense_objective_and_gradients

__all__ = [
    "DenseNet",
    "KerasNet",
    "batch_objective",
    "gradients_by_hand",
    "hand_objective_and_gradients",
    "net_for",
]


class DenseNet:
    """The built-in dense network (all of its weights are trainable: kernels,
    biases and embedding tables)."""

    def __init__(self, network):
        family = isinstance(network, DenseFamily)
        self.depth = network.depth if family else len(network.hidden_layer_sizes)
        self.activation = network.activation
        self.outputs = tuple(network.outputs)
        self.dropout = network.dropout if family else network.dropout > 0
        self.n_tables = network.n_tables if family else len(network.embeddings)
        n_layer_weights = 2 * (self.depth + len(self.outputs))
        self.n_weights = n_layer_weights + self.n_tables
        # The L2 term covers the kernels and the embedding tables (see .network).
        self.kernel_indices = [
            *range(0, n_layer_weights, 2),
            *range(n_layer_weights, self.n_weights),
        ]

    def scope(self):
        return nullcontext()

    def split(self, weights, seed=None, first_epoch=None, frozen=None):
        return list(weights), []

    def join(self, trainable, frozen):
        return list(trainable)

    def logits(self, xp, trainable, frozen, x, noise=None):
        """(logits per head, frozen, the body's own loss: 0).

        ``noise`` (training only): ``rate``, ``seed``, ``epoch``, ``batch`` of
        the dropout draw, or None for no dropout.
        """
        dropout = noise if self.dropout and noise is not None else None
        logits = dense_logits(xp, self.depth, self.activation, trainable, x, dropout,
                              self.n_tables)  # fmt: skip
        return logits, frozen, 0.0


class KerasNet:
    """A user's body with skout's heads, through Keras's stateless API.

    Parameters
    ----------
    spec : BodySpec
    deferred : bool
        Build the model's variables without values (their initializers never
        run: on JAX each would compile a program per shape). Every value is
        passed in, so none is needed -- but then every stateless call must run
        inside :meth:`scope`.
    """

    def __init__(self, spec, deferred=False):
        keras = import_keras()
        self.outputs = tuple(spec.outputs)
        self.deferred = deferred
        with self.scope():
            # Linear heads: the objective applies each head's activation to
            # its logits (the Dense layers, and so the weights, are the same).
            self.model = spec.build(logits=True)
        trainable = list(self.model.trainable_variables)
        frozen = list(self.model.non_trainable_variables)
        position = {id(v): i for i, v in enumerate(spec.variables(self.model))}
        # Where each variable sits in skout's weight list (None: a random-seed
        # state, which skout's weights do not hold).
        self.trainable_at = [position[id(v)] for v in trainable]
        self.frozen_at = [position.get(id(v)) for v in frozen]
        seeds = {
            id(layer.seed_generator.state)
            for layer in walk_layers(self.model)
            if isinstance(getattr(layer, "seed_generator", None), keras.random.SeedGenerator)
        }
        self.seed_slots = [i for i, v in enumerate(frozen) if id(v) in seeds]
        self.frozen_dtypes = [keras.backend.standardize_dtype(v.dtype) for v in frozen]
        self.frozen_shapes = [tuple(v.shape) for v in frozen]
        self.trainable_shapes = [tuple(v.shape) for v in trainable]
        with self.scope():
            self.frozen_values = [
                None if deferred else np.array(keras.ops.convert_to_numpy(v.value)) for v in frozen
            ]
        kernels = {id(v) for v in spec.kernel_variables(self.model)}
        self.kernel_indices = [i for i, v in enumerate(trainable) if id(v) in kernels]
        # One sample's shape per input; several inputs come as a tuple of arrays.
        self.input_shapes = spec.input_shapes
        self.several_inputs = bool(spec.input_names)

    def scope(self):
        """The scope every use of a deferred model's variables runs in."""
        if not self.deferred:
            return nullcontext()
        return import_keras().StatelessScope(initialize_variables=False)

    def split(self, weights, seed=None, first_epoch=None, frozen=None):
        """(trainable, frozen) NumPy values from skout's weights.

        ``frozen`` is the state the previous chunk of this fit left (its
        random seeds go on); at the start of a fit (None), random layers are
        seeded from ``seed`` and ``first_epoch`` (``random_state``), not from
        the backend's global seed.
        """
        trainable = [np.asarray(weights[i]) for i in self.trainable_at]
        if frozen is not None:
            values = [
                np.asarray(carried if i is None else weights[i])
                for carried, i in zip(frozen, self.frozen_at)
            ]
            return trainable, values
        values = []
        for n, (i, dtype, shape) in enumerate(
            zip(self.frozen_at, self.frozen_dtypes, self.frozen_shapes)
        ):
            if n in self.seed_slots:
                values.append(np.array([seed + self.seed_slots.index(n), first_epoch], dtype))
            elif i is not None:
                values.append(np.asarray(weights[i]))
            elif self.frozen_values[n] is not None:
                values.append(self.frozen_values[n])
            else:
                values.append(np.zeros(shape, dtype))
        return trainable, values

    def join(self, trainable, frozen):
        weights = [None] * (len(self.trainable_at) + sum(i is not None for i in self.frozen_at))
        for i, value in zip(self.trainable_at, trainable):
            weights[i] = value
        for i, value in zip(self.frozen_at, frozen):
            if i is not None:
                weights[i] = value
        return weights

    def logits(self, xp, trainable, frozen, x, noise=None):
        """(logits per head, new frozen state, the sum of the body's own losses)."""
        training = noise is not None
        if isinstance(x, (list, tuple)):
            x = list(x)  # Keras takes several inputs as a list, in the model's order
        out, frozen, losses = self.model.stateless_call(
            list(trainable), list(frozen), x, training=training, return_losses=True
        )
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        extra = 0.0
        for loss in losses or ():
            extra = extra + xp.sum(loss)
        return out, list(frozen), extra


def net_for(network, deferred=False):
    """The net of a key's network: a dense spec or family, or a body."""
    if isinstance(network, (NetworkSpec, DenseFamily)):
        return DenseNet(network)
    return KerasNet(network, deferred=deferred)


def batch_objective(xp, net, params, frozen, X, Y, W, alpha, noise):
    """The mini-batch objective of ``net``, as every loop differentiates it.

    The heads' losses weighted and the L2 term (:func:`objective.batch_objective`),
    plus the body's own losses (its regularisers, ``add_loss``), as Keras's
    ``fit`` adds them. Returns ``(value, weight_sum, frozen)``: the new
    non-trainable state a body's layers (batch normalisation) leave.
    """
    Z, frozen, extra = net.logits(xp, params, frozen, X, noise)
    losses = objective.per_sample_loss(xp, net.outputs, Y, Z)
    squared = objective.penalty(xp, params, net.kernel_indices)
    value, weight_sum = objective.batch_objective(xp, losses, W, squared, alpha)
    return value + extra, weight_sum, frozen


def gradients_by_hand(net):
    """Whether a loop takes ``net``'s gradients from the backpropagation
    written out (:func:`hand_objective_and_gradients`) instead of
    differentiating :func:`batch_objective`: the dense network, when every
    head's loss has its written-out derivative.

    One decision for the TensorFlow and PyTorch loops (JAX differentiates,
    where XLA fuses the graph as well as the hand-written one). By hand skips
    the autodiff tape: on TensorFlow, 10-20 % faster on
    ``benchmarks/backends.py``'s digits and breast_cancer than the tape of
    the shared objective. ``tests/test_engine_network.py`` holds the two
    gradients equal.
    """
    return isinstance(net, DenseNet) and objective.gradients_available(net.outputs)


def hand_objective_and_gradients(xp, net, params, X, Y, W, alpha, noise):
    """(objective, weight sum, gradients) of one batch of the dense ``net``,
    by backpropagation written out; ``noise`` as :meth:`DenseNet.logits`
    takes it."""
    dropout = noise if net.dropout and noise is not None else None
    return dense_objective_and_gradients(
        xp, net.depth, net.activation, net.outputs, params, X, Y, W, alpha, dropout, net.n_tables
    )
