"""Importing the deep-learning framework: once per process, on first use.

Everything a process pays to bring Keras and its backend up (the import,
environment settings that must precede it) lives here, so that the cost of a
fresh interpreter or a joblib worker is decided in one place.
"""

from __future__ import annotations

import os


def import_keras():
    """Import Keras (and its backend) on first use, quietly."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras
