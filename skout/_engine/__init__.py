"""The training engine: how a network is trained, whatever the estimator wants.

The estimators decide *what* to train (the head, the encoded data, the
validation split, the parameters); the engine decides *how*. Its interface is
:func:`train` with :class:`EngineOptions` and, for ``partial_fit``,
:class:`Continuation`; :func:`forward` runs a fitted dense network in NumPy
(the predict path) and :func:`decode` is each head's decision, which the
target encoder turns into labels; :func:`each`, :func:`n_rows` and
:func:`rows` read an ``X`` that is one array or a tuple of them (a body with
several inputs); :func:`set_training_cache_size` bounds the compiled
programs a process keeps.

Layout, from the bottom up (no module here imports anything outside the
engine but :mod:`skout._network`, :mod:`skout._framework`,
:mod:`skout._devices` and :mod:`skout._compat`):

- :mod:`.arrays`: the array namespace each backend (and NumPy) provides;
- written once over it: :mod:`.objective` (each head's output, loss and
  decoding; weighting, the L2 term, the validation score), :mod:`.network`
  (the dense network, its dropout draw, its hand-written gradients),
  :mod:`.optimizers` (Adam, SGD), :mod:`.rule` (stopping, schedules, the
  batch order);
- :mod:`.contract`: the types the driver and the loops exchange, and the
  :class:`~.contract.ChunkLoop` interface;
- :mod:`.nets`: the networks as functions of their weights (dense, or a
  Keras body through ``stateless_call``);
- one loop per backend, each a :class:`~.contract.ChunkLoop`:
  :mod:`.tf_loop`, :mod:`.jax_loop`, :mod:`.torch_loop`;
- :mod:`.cache` (the bounded program cache), :mod:`.observers` and
  :mod:`.keras_callbacks` (who is told about each epoch), :mod:`.driver`
  (one fit: chunks, observers, verdict).
"""

from .arrays import numpy_ops
from .cache import clear_cache, set_training_cache_size, training_cache_size
from .driver import NON_FINITE, Continuation, EngineOptions, TrainOutcome, backend_name, train
from .inputs import each, n_rows, rows
from .network import forward
from .objective import decode, log_output_values, start_from_prior, weighted_quantile

__all__ = [
    "NON_FINITE",
    "Continuation",
    "EngineOptions",
    "TrainOutcome",
    "backend_name",
    "clear_cache",
    "decode",
    "each",
    "forward",
    "log_output_values",
    "n_rows",
    "numpy_ops",
    "rows",
    "set_training_cache_size",
    "start_from_prior",
    "train",
    "training_cache_size",
    "weighted_quantile",
]
