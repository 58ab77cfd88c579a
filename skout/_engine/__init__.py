"""The training engine: how a network is trained, whatever the estimator wants.

The estimators decide *what* to train (the head, the encoded data, the
validation split, the parameters); the engine decides *how*: which loop, which
compiled program, the stopping rule, the schedules. Its interface is
:func:`train` with :class:`EngineOptions` and, for ``partial_fit``,
:class:`Continuation`; :func:`set_training_cache_size` bounds the compiled
programs a process keeps.

Layout: :mod:`.rule` (the training rule, written once), :mod:`.driver` (one
fit: chunks of compiled epochs, callbacks, verdict), :mod:`.cache` (the
bounded program cache), :mod:`.keras_callbacks` (Keras callbacks between
compiled epochs); the compiled TensorFlow loop is :mod:`skout._training`.
"""

from .cache import set_training_cache_size, training_cache_size
from .driver import Continuation, EngineOptions, TrainOutcome, train

__all__ = [
    "Continuation",
    "EngineOptions",
    "TrainOutcome",
    "set_training_cache_size",
    "train",
    "training_cache_size",
]
