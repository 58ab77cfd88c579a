"""The training engine: how a network is trained, whatever the estimator wants.

The estimators decide *what* to train (the head, the encoded data, the
validation split, the parameters); the engine decides *how*: which loop, which
compiled program, the stopping rule, the schedules. Its interface is
:func:`train` with :class:`EngineOptions` and, for ``partial_fit``,
:class:`Continuation`.
"""

from .driver import Continuation, EngineOptions, TrainOutcome, train

__all__ = ["Continuation", "EngineOptions", "TrainOutcome", "train"]
