"""What the driver and the backend loops say to each other: the engine's contract.

The driver (:mod:`.driver`) runs a fit as a sequence of *chunks* of epochs.
Each Keras backend has one loop module (:mod:`.tf_loop`, :mod:`.jax_loop`,
:mod:`.torch_loop`) that implements :class:`ChunkLoop`:

- ``run_chunk(key, weights, data, validation, schedule, carry) -> ChunkResult``
  trains ``schedule.max_epochs`` epochs (fewer when the rule stops) from
  ``weights`` and the :class:`Carry` of the previous chunk;
- ``loss_and_gradient(key, weights, data, alpha) -> (loss, gradients)`` is
  the full-batch objective, for L-BFGS;
- ``max_epochs_per_call(n_rows, batch_size)`` bounds what one compiled call
  may hold (its batch orders); the driver's planner reads it.

Everything they compute -- the objective, the rule, the optimizer step, the
dense network -- comes from the shared modules, never from the loop.

Examples
--------
>>> from skout._engine.contract import Carry
>>> Carry.fresh(0.001).learning_rate
0.001
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .rule import StoppingState

__all__ = [
    "MAX_ORDER_ENTRIES",
    "Carry",
    "ChunkLoop",
    "ChunkResult",
    "DenseFamily",
    "OptimizerSpec",
    "Schedule",
    "TrainerKey",
    "program_network",
]


#: The most batch-order entries (epochs x rows) one compiled call of any loop
#: holds: its per-epoch buffers stay small whatever ``max_iter`` is.
MAX_ORDER_ENTRIES = 2**22


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
        """The Keras optimizer with these constants (for Keras callbacks' model)."""
        from .._network import import_keras

        keras = import_keras()
        if self.solver == "adam":
            return keras.optimizers.Adam(
                learning_rate=learning_rate, beta_1=self.beta_1, beta_2=self.beta_2,
                epsilon=self.epsilon,
            )  # fmt: skip
        return keras.optimizers.SGD(
            learning_rate=learning_rate, momentum=self.momentum,
            nesterov=self.nesterov and self.momentum > 0,
        )  # fmt: skip


@dataclass(frozen=True)
class DenseFamily:
    """What a dense network's compiled program depends on: not its widths."""

    depth: int
    activation: str
    outputs: tuple
    dropout: bool
    n_tables: int = 0  # embedding tables (their sizes do not matter either)


def program_network(spec):
    """The part of a network description a compiled program is keyed by.

    A dense network (:class:`~skout._network.NetworkSpec`) becomes its
    :class:`DenseFamily` where the backend's program does not depend on the
    widths (TensorFlow's); a body stays as it is.
    """
    from .._network import NetworkSpec

    if isinstance(spec, NetworkSpec):
        return DenseFamily(
            len(spec.hidden_layer_sizes), spec.activation, spec.outputs, spec.dropout > 0,
            len(spec.embeddings),
        )  # fmt: skip
    return spec


@dataclass(frozen=True)
class TrainerKey:
    """What a compiled training program depends on."""

    network: object  # NetworkSpec, DenseFamily or BodySpec
    optimizer: OptimizerSpec
    task: str  # "classification" or "regression": which validation score
    has_validation: bool  # score and loss on validation data every epoch
    early_stopping: bool  # stop on, and keep the weights of, the best score
    learning_rate: str = "constant"  # MLP's schedule, for solver="sgd"
    device: str | None = None  # TensorFlow device to build and run on
    dtype: str = "float32"  # what the weights and the arithmetic are


@dataclass
class Schedule:
    """Per-call values: the numbers a compiled program takes as arguments."""

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
    # The validation data's null loss: the baseline of a D^2 validation score.
    validation_baseline: float = 1.0


@dataclass
class Carry:
    """What one chunk hands to the next (and ``partial_fit`` to the next call).

    Attributes
    ----------
    stopping : StoppingState
        The stopping rule's state.
    step : int
        Optimizer steps taken.
    learning_rate : float
        The rate the next epoch runs with (schedules and callbacks change it).
    slots : list of ndarray or None
        The optimizer's slots (:mod:`.optimizers`); None before the first step.
    frozen : list of ndarray or None
        A Keras body's non-trainable state with its random-seed variables, as
        the last chunk left it; None at the start of a fit (the seeds are then
        drawn from ``random_state``).
    """

    stopping: StoppingState
    step: int
    learning_rate: float
    slots: list | None = None
    frozen: list | None = None

    @classmethod
    def fresh(cls, learning_rate):
        return cls(StoppingState(), 0, float(learning_rate))

    def optimizer_state(self):
        """``[step, learning_rate, *slots]``: the fitted state's plain layout."""
        import numpy as np

        return [np.int64(self.step), np.float32(self.learning_rate), *(self.slots or [])]

    @classmethod
    def from_optimizer_state(cls, stopping, state):
        """The carry of a fitted state's ``[step, learning_rate, *slots]``."""
        return cls(stopping, int(state[0]), float(state[1]), list(state[2:]))


@dataclass
class ChunkResult:
    """What one chunk of epochs produced."""

    weights: list  # after the last epoch run
    best_weights: list | None  # at the best validation score, if it improved
    carry: Carry
    loss_curve: list
    validation_scores: list = field(default_factory=list)
    validation_losses: list = field(default_factory=list)
    n_iter: int = 0
    stopped: bool = False
    diverged: bool = False


class ChunkLoop(Protocol):
    """The interface each backend's loop module implements (see the module doc)."""

    def run_chunk(self, key, weights, data, validation, schedule, carry) -> ChunkResult: ...

    def loss_and_gradient(self, key, weights, data, alpha): ...

    def max_epochs_per_call(self, n_rows, batch_size) -> int: ...
