"""The engine's ``X``: one array, or a tuple of arrays (a body with several inputs).

A body with several named ``keras.Input`` layers takes one array per input,
all with the same rows. The loops never look inside: they take rows, pad,
slice and convert through these two functions, which do to each array of a
tuple what they do to a single array.

Examples
--------
>>> import numpy as np
>>> from skout._engine.inputs import n_rows, rows
>>> X = (np.zeros((5, 2, 2)), np.ones((5, 3)))
>>> n_rows(X), [x.shape for x in rows(X, slice(0, 2))]
(5, [(2, 2, 2), (2, 3)])
"""

from __future__ import annotations

__all__ = ["each", "n_rows", "rows"]


def each(fn, X):
    """``fn(X)``, or ``fn`` applied to every array of a tuple of inputs."""
    if isinstance(X, tuple):
        return tuple(fn(x) for x in X)
    return fn(X)


def n_rows(X):
    """Number of rows (samples) of ``X``."""
    return len(X[0]) if isinstance(X, tuple) else len(X)


def rows(X, key):
    """``X[key]``: the rows ``key`` (indices or a slice) of every input."""
    return each(lambda x: x[key], X)
