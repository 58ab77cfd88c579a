"""Which device a fit trains on.

By default TensorFlow places training on the first GPU when there is one
(and on the CPU otherwise). ``device="spread"`` spreads the fits of parallel
workers (``GridSearchCV(n_jobs=...)``, a Dask cluster) over every visible
GPU, by process, so they do not all pile onto GPU 0; any other string names
a TensorFlow device (``"/GPU:1"``, ``"/CPU:0"``).
"""

from __future__ import annotations

import os


def visible_gpus():
    """Names of the logical GPUs TensorFlow sees (empty on a CPU machine)."""
    from ._framework import import_keras

    import_keras()  # quietly, within the thread budget, before TF's runtime starts
    import tensorflow as tf

    return [d.name for d in tf.config.list_logical_devices("GPU")]


def training_device(device, *, gpus=None, pid=None):
    """The TensorFlow device name to train on, or None for TF's default.

    Parameters
    ----------
    device : None, "spread" or str
        The estimator's ``device`` parameter.
    gpus : list of str, optional
        The visible GPUs (looked up when None; given in tests to simulate).
    pid : int, optional
        The process id that picks a GPU under "spread" (this process's when
        None): worker processes land on GPUs round-robin by pid.

    Examples
    --------
    >>> training_device("spread", gpus=["/GPU:0", "/GPU:1"], pid=7)
    '/GPU:1'
    >>> training_device("spread", gpus=[], pid=7) is None
    True
    >>> training_device("/CPU:0")
    '/CPU:0'
    """
    if device is None:
        return None
    if device != "spread":
        return device
    gpus = visible_gpus() if gpus is None else gpus
    if not gpus:
        return None
    return gpus[(os.getpid() if pid is None else pid) % len(gpus)]
