"""``Inputs``: several same-length arrays that scikit-learn splits as one ``X``.

A Keras body with several named ``keras.Input`` layers (an image and a
metadata vector, text and numbers) needs one array per input. scikit-learn
knows one ``X``: cross-validation splits it with
:func:`sklearn.utils._safe_indexing`, a search ships it to its workers by
pickle. :class:`Inputs` is that one ``X``: it has a ``shape`` and a
``len``, and indexing it with an index array, a boolean mask or a slice
indexes every array alike and gives an :class:`Inputs` back, so every
splitter, ``GridSearchCV(n_jobs=2)``, ``cross_val_predict``, joblib's
threading and Dask backends take it as they take an array.

Examples
--------
>>> import numpy as np
>>> from skout import Inputs
>>> X = Inputs(image=np.zeros((6, 8, 8, 1)), meta=np.ones((6, 3)))
>>> X
Inputs(image=(6, 8, 8, 1) float64, meta=(6, 3) float64)
>>> len(X), X.shape
(6, (6, 67))
>>> X[[0, 2]]
Inputs(image=(2, 8, 8, 1) float64, meta=(2, 3) float64)
>>> X["meta"].shape
(6, 3)
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

__all__ = ["Inputs"]


def _n_rows(array):
    shape = getattr(array, "shape", None)
    if shape is not None and len(shape):
        return int(shape[0])
    return len(array)


def _sample_shape(array):
    """One sample's shape: the array's shape without its first axis."""
    shape = getattr(array, "shape", None)
    if shape is None:
        shape = np.shape(array)
    return tuple(int(d) for d in shape[1:])


class Inputs:
    """Named arrays of the same length: the ``X`` of a network with several inputs.

    Parameters
    ----------
    arrays : dict, optional
        ``{name: array}``; names need not be Python identifiers.
    **named : array-like
        More arrays, by keyword. Each is an ndarray, a DataFrame (its column
        names are checked at predict, as ``feature_names_in_``), a sparse
        matrix (read as a dense array) or a list, one row per sample, any
        number of axes; the names are those of the body's
        ``keras.Input(name=...)`` layers.

    Attributes
    ----------
    shape : tuple of int
        ``(n_samples, n_features)``: ``n_features`` counts the numbers of one
        sample over all arrays (what ``n_features_in_`` records).
    names : tuple of str
        The arrays' names, in the order given.

    Notes
    -----
    Indexing takes an index array, a boolean mask or a slice, and returns an
    :class:`Inputs` of those rows (each array indexed by
    :func:`sklearn.utils._safe_indexing`); a string gives the array of that
    name. A single integer is refused: it would drop the sample axis.

    Examples
    --------
    >>> import numpy as np
    >>> from skout import Inputs
    >>> X = Inputs(image=np.zeros((4, 2, 2)), meta=np.arange(8.0).reshape(4, 2))
    >>> X[1:3]["meta"]
    array([[2., 3.],
           [4., 5.]])
    """

    def __init__(self, arrays=None, /, **named):
        if arrays is not None and not isinstance(arrays, dict):
            raise TypeError(
                f"Inputs takes a dict {{name: array}} or arrays by keyword, got a "
                f"{type(arrays).__name__}: e.g. Inputs(image=images, meta=table)."
            )
        both = {**(arrays or {}), **named}
        if arrays and set(arrays) & set(named):
            twice = sorted(set(arrays) & set(named))[0]
            raise ValueError(f"The array {twice!r} is given twice: in the dict and by keyword.")
        if not both:
            raise ValueError("Inputs needs at least one array, e.g. Inputs(image=images).")
        for name, array in both.items():
            if not isinstance(name, str):
                raise TypeError(f"Input names are strings, got {name!r}.")
            if np.ndim(array) == 0:
                raise ValueError(f"The array {name!r} is a scalar; give one row per sample.")
        lengths = {name: _n_rows(array) for name, array in both.items()}
        if len(set(lengths.values())) > 1:
            said = ", ".join(f"{name}: {n}" for name, n in lengths.items())
            raise ValueError(
                f"The arrays of Inputs must have one row per sample, the same number each; "
                f"got {said}. Give every array the same samples, in the same order."
            )
        self._arrays = both

    # -- what scikit-learn reads ---------------------------------------------
    @property
    def names(self):
        return tuple(self._arrays)

    @property
    def shape(self):
        first = next(iter(self._arrays.values()))
        n_features = sum(int(np.prod(_sample_shape(a))) for a in self._arrays.values())
        return (_n_rows(first), n_features)

    @property
    def ndim(self):
        return 2

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return self._arrays[key]
            except KeyError:
                raise KeyError(
                    f"No array named {key!r}; these Inputs hold {list(self._arrays)}."
                ) from None
        if isinstance(key, tuple) and len(key) == 2 and key[1] is Ellipsis:
            key = key[0]  # scikit-learn's _safe_indexing asks for X[key, ...]
        if isinstance(key, (Integral, np.integer)) or (
            isinstance(key, np.ndarray) and key.ndim == 0
        ):
            raise TypeError(
                f"Inputs are indexed by index arrays, masks and slices, not by a single "
                f"integer ({key!r}), which would drop the sample axis of every array: "
                f"use X[[{int(key)}]] or X[{int(key)}:{int(key) + 1}]."
            )
        from sklearn.utils import _safe_indexing

        if isinstance(key, slice):
            key = np.arange(len(self))[key]
        return Inputs({name: _safe_indexing(a, key) for name, a in self._arrays.items()})

    def __iter__(self):
        raise TypeError(
            "Inputs is not iterable: index it with index arrays or slices, or read one "
            "array by name (X['image']); X.names lists them."
        )

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"skout.Inputs holds several arrays ({', '.join(self.names)}) and is not one "
            "array: only an estimator whose network takes several inputs (a skout "
            "estimator with such a body=) reads it. Read one array with X['name']."
        )

    def items(self):
        """``(name, array)`` pairs, in the order given."""
        return self._arrays.items()

    def __repr__(self):
        parts = []
        for name, array in self._arrays.items():
            shape = getattr(array, "shape", None) or np.shape(array)
            dtype = getattr(array, "dtype", None)
            kind = f" {dtype}" if isinstance(dtype, np.dtype) else ""
            parts.append(f"{name}={tuple(int(d) for d in shape)}{kind}")
        return f"Inputs({', '.join(parts)})"
