"""scikit-learn's private and experimental names, imported in one place.

skout needs a few of scikit-learn's private helpers (parameter constraints,
the fit context, sample-weight checks) and its experimental callback API.
Each can move or change in any release; importing them only here means a
scikit-learn release can break at most this file, and the fallback for an
older or newer release is written once.
"""

from __future__ import annotations

import sklearn
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight
from sklearn.utils.validation import _check_y as check_y  # y as validate_data checks it


class _CallbackStandIn:
    """Stand-in that says which scikit-learn the callbacks need."""

    def set_callbacks(self, *callbacks):
        """scikit-learn's callbacks need scikit-learn >= 1.9."""
        raise NotImplementedError(
            "set_callbacks needs scikit-learn >= 1.9 (sklearn.callback); "
            f"scikit-learn {sklearn.__version__} is installed. Upgrade it, or "
            "use verbose=True for a per-epoch progress display."
        )


def callback_support_mixin():
    """scikit-learn's ``CallbackSupportMixin`` (experimental, >= 1.9), or a
    stand-in whose ``set_callbacks`` says which release is needed."""
    try:
        from sklearn.callback import CallbackSupportMixin
    except ImportError:  # scikit-learn < 1.9
        return _CallbackStandIn
    return CallbackSupportMixin


def warn_at_caller(message, category=UserWarning):
    """Warn at the user's line: the first frame outside skout and scikit-learn.

    ``warnings.warn(skip_file_prefixes=...)`` does this on Python >= 3.12;
    older Pythons get the equivalent computed ``stacklevel``.
    """
    import os
    import sys
    import warnings

    prefixes = tuple(
        os.path.dirname(m.__file__) + os.sep
        for m in (sys.modules["skout"], sklearn)
        if getattr(m, "__file__", None)
    )
    if sys.version_info >= (3, 12):
        warnings.warn(message, category, skip_file_prefixes=prefixes)
        return
    level, frame = 2, sys._getframe(1)  # 2: warn_at_caller's caller
    while frame is not None and frame.f_code.co_filename.startswith(prefixes):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)


__all__ = [
    "callback_support_mixin",
    "check_y",
    "warn_at_caller",
    "Interval",
    "Options",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
]
