"""skout: Keras networks as scikit-learn estimators that choose their own head.

Importing skout does not import TensorFlow or Keras; the first ``fit`` (or
the first access to a fitted ``model_``) does, or :func:`skout.warm_up`
when you want that cost paid earlier.
"""

from ._engine import set_training_cache_size, training_cache_size
from ._framework import warm_up
from ._version import __version__
from .body import KerasBody
from .classifier import AutoHeadClassifier
from .display import TrainingCurvesDisplay
from .heads import HEAD_TABLE, Head, OutputHead, check_loss, choose_head
from .regressor import AutoHeadRegressor

__all__ = [
    "HEAD_TABLE",
    "KerasBody",
    "AutoHeadClassifier",
    "AutoHeadRegressor",
    "Head",
    "OutputHead",
    "TrainingCurvesDisplay",
    "__version__",
    "check_loss",
    "choose_head",
    "set_training_cache_size",
    "training_cache_size",
    "warm_up",
]
