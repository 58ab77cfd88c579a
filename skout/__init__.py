"""skout: Keras networks as scikit-learn estimators that choose their own head.

Importing skout imports nothing heavy: each public name is loaded on first
use (PEP 562), so ``skout --version`` answers without scikit-learn, and
TensorFlow or Keras come up only with the first ``fit`` (or the first access
to a fitted ``model_``), or with :func:`skout.warm_up` when you want that
cost paid earlier.
"""

from importlib import import_module

from ._version import __version__ as __version__  # re-exported

# Public name -> the module that defines it.
_PUBLIC = {
    "AutoHeadClassifier": ".classifier",
    "AutoHeadRegressor": ".regressor",
    "HEAD_TABLE": ".heads",
    "Head": ".heads",
    "Inputs": ".inputs",
    "KerasBody": ".body",
    "OutputHead": ".heads",
    "TrainingCurvesDisplay": ".display",
    "check_loss": ".heads",
    "choose_head": ".heads",
    "load_skops": "._files",
    "set_training_cache_size": "._engine",
    "training_cache_size": "._engine",
    "warm_up": "._framework",
}

__all__ = sorted([*_PUBLIC, "__version__"])


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'skout' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted({*globals(), *_PUBLIC})
