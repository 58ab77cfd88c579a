"""Categorical columns: which they are, their categories, their integer codes.

The columns follow ``HistGradientBoosting*``'s ``categorical_features``:
``"from_dtype"`` (pandas ``category`` columns, polars ``Categorical`` and
``Enum`` columns), a list of column names or indices, a boolean mask, or
None. Each categorical column is read as integer codes:

- ``0 .. n - 1``: its ``n`` categories (a ``category`` column's declared
  categories in their order, else the sorted values seen in ``fit``);
- ``n``: a category never seen in ``fit`` (:data:`UNSEEN`);
- ``n + 1``: a missing value (:data:`MISSING`).

So a column's embedding table has ``n + 2`` rows and no value at predict
time is an error. Categories are kept as plain arrays (str, int, float or
bool), the mapping is done in NumPy (with pandas where it is there: its
lookup is vectorised), and nothing here imports a deep-learning framework.

Examples
--------
>>> import numpy as np
>>> from skout._categorical import codes
>>> codes(np.array(["b", "z", None, "a"], dtype=object), np.array(["a", "b"]))
array([1, 2, 3, 0])
>>> from skout._categorical import embedding_width
>>> [embedding_width(n) for n in (2, 3, 10, 100, 1000)]
[3, 3, 6, 22, 50]
"""

from __future__ import annotations

import math
import sys
from numbers import Integral

import numpy as np

__all__ = [
    "MISSING",
    "UNSEEN",
    "categorical_mask",
    "categories_of",
    "codes",
    "column",
    "embedding_width",
    "is_dataframe",
    "non_numeric_columns",
]

#: Offsets of the two extra rows of a table, after the ``n`` categories.
UNSEEN, MISSING = 0, 1
#: The widest default embedding (skout's default hidden layer is 100 wide).
MAX_AUTO_WIDTH = 50
#: float32, which the network trains in, holds every integer up to 2**24.
MAX_CATEGORIES = 2**24 - 2


# -- what X is ---------------------------------------------------------------------
def _is_pandas(X):
    return hasattr(X, "iloc") and hasattr(X, "dtypes")


def _is_polars(X):
    """A polars DataFrame or Series."""
    return type(X).__module__.split(".")[0] == "polars"


def is_dataframe(X):
    """Whether ``X`` is a pandas or polars DataFrame."""
    return (_is_pandas(X) and getattr(X, "ndim", 2) == 2) or (
        _is_polars(X) and hasattr(X, "schema")
    )


def column_names(X):
    """A DataFrame's column names, as a list (None for an array)."""
    return list(X.columns) if is_dataframe(X) else None


def _categorical_dtype(dtype):
    """A pandas ``category`` dtype, or a polars ``Categorical`` or ``Enum``."""
    if getattr(dtype, "name", None) == "category":  # pandas' CategoricalDtype
        return True
    text = str(dtype)
    return type(dtype).__module__.split(".")[0] == "polars" and text.startswith(
        ("Categorical", "Enum")
    )


def _dtypes(X):
    if _is_polars(X):  # a DataFrame
        return list(X.schema.values())
    return list(X.dtypes)


def column(X, j):
    """Column ``j`` of ``X``: a pandas or polars Series, or a 1-D ndarray."""
    if _is_pandas(X):
        return X.iloc[:, j]
    if _is_polars(X):
        return X.to_series(j)
    return np.asarray(X)[:, j]


# -- which columns ------------------------------------------------------------------
def categorical_mask(X, categorical_features):
    """Which columns of ``X`` are categorical: a bool array, or None for none.

    As ``HistGradientBoosting*`` reads its ``categorical_features``
    (:func:`sklearn.utils.validation._check_categorical_features`), with the
    same messages.
    """
    frame = is_dataframe(X)
    if categorical_features is None:
        return None
    if isinstance(categorical_features, str) and categorical_features == "from_dtype":
        if not frame:
            return None
        mask = np.asarray([_categorical_dtype(d) for d in _dtypes(X)], dtype=bool)
        return mask if mask.any() else None
    features = np.asarray(categorical_features)
    if features.size == 0:
        return None
    if features.dtype.kind not in ("i", "u", "b", "U", "O"):
        raise ValueError(
            "categorical_features must be an array-like of bool, int or "
            f"str, got: {features.dtype.name}."
        )
    if features.dtype.kind == "O":
        types = {type(f) for f in features.ravel()}
        if types != {str}:
            raise ValueError(
                "categorical_features must be an array-like of bool, int or "
                f"str, got: {', '.join(sorted(t.__name__ for t in types))}."
            )
    n_features = np.shape(X)[1] if not frame else len(X.columns)
    mask = np.zeros(n_features, dtype=bool)
    if features.dtype.kind in ("U", "O"):
        names = column_names(X)
        if names is None:
            raise ValueError(
                "categorical_features should be passed as an array of "
                "integers or as a boolean mask when the model is fitted "
                "on data without feature names."
            )
        for name in features.ravel():
            if name not in names:
                raise ValueError(
                    f"categorical_features has an item value '{name}' which is not a "
                    f"valid feature name of the training data. Observed feature "
                    f"names: {names}"
                )
            mask[names.index(name)] = True
    elif features.dtype.kind in ("i", "u"):
        if features.max() >= n_features or features.min() < 0:
            raise ValueError(
                "categorical_features set as integer indices must be in [0, n_features - 1]"
            )
        mask[features] = True
    else:
        if features.shape[0] != n_features:
            raise ValueError(
                "categorical_features set as a boolean mask must have shape "
                f"(n_features,), got: {features.shape}"
            )
        mask = features.astype(bool)
    return mask if mask.any() else None


# -- categories and codes ---------------------------------------------------------
def _values(series):
    """A column's values as a NumPy array (polars and pandas Series alike)."""
    if _is_polars(series):
        return np.asarray(series.to_list(), dtype=object)
    return np.asarray(series) if not _is_pandas(series) else series.to_numpy()


def is_missing(values):
    """Where a column has no value: NaN, None, pandas' NA or NaT, a polars null."""
    if _is_polars(values):
        values = _values(values)
    if _is_pandas(values):
        return np.asarray(values.isna())
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind != "O":
        return np.zeros(len(values), dtype=bool)
    return np.fromiter(
        (
            v is None
            or (isinstance(v, float) and v != v)
            or type(v).__name__ in ("NAType", "NaTType")
            for v in values
        ),
        dtype=bool,
        count=len(values),
    )


def _plain(categories, name):
    """Categories as a plain array: str, int, float or bool (what pickle and
    skops carry as data)."""
    values = list(categories)
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str) if values else np.asarray([], dtype=str)
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.asarray(values, dtype=bool)
    if all(
        isinstance(v, (Integral, np.integer)) and not isinstance(v, (bool, np.bool_))
        for v in values
    ):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (Integral, float, np.number)) for v in values):
        return np.asarray(values, dtype=np.float64)
    kinds = sorted({type(v).__name__ for v in values})
    raise ValueError(
        f"The categorical column {name!r} holds categories of type {', '.join(kinds)}; "
        "skout keeps str, int, float or bool categories. Convert the column, e.g. "
        f"X[{name!r}] = X[{name!r}].astype(str).astype('category')."
    )


def categories_of(series, name):
    """A categorical column's categories, as a plain array.

    A ``category`` (or polars ``Enum``) column's declared categories, in
    their order: every split of a frame then has the same codes, and a
    category absent from one training fold still has its own row. Any
    other column: its values seen, sorted.
    """
    dtype = getattr(series, "dtype", None)
    if getattr(dtype, "name", None) == "category":
        declared = list(dtype.categories)
    elif _is_polars(series) and str(dtype).startswith("Enum"):
        declared = list(dtype.categories.to_list())
    else:
        values = _values(series)
        present = values[~is_missing(values)]
        try:
            declared = sorted(set(present.tolist()))
        except TypeError:  # labels that cannot be ordered (str beside int, say)
            kinds = sorted({type(v).__name__ for v in present.tolist()})
            raise ValueError(
                f"The categorical column {name!r} mixes value types ({', '.join(kinds)}) "
                f"that cannot be sorted into categories. Give it one type, e.g. "
                f"X[{name!r}] = X[{name!r}].astype(str)."
            ) from None
    categories = _plain(declared, name)
    if len(categories) > MAX_CATEGORIES:
        raise ValueError(
            f"The categorical column {name!r} has {len(categories)} categories; skout "
            f"embeds at most {MAX_CATEGORIES} (float32 codes). Group rare categories first."
        )
    return categories


def codes(series, categories):
    """Integer codes of a column's values (see the module doc): int64 array."""
    n = len(categories)
    missing = is_missing(series)
    values = series if _is_pandas(series) else _values(series)
    pandas = sys.modules.get("pandas")
    if pandas is None and _is_pandas(series):  # pragma: no cover - pandas is loaded then
        import pandas
    found = None
    if pandas is not None and len(categories):
        # Vectorised (a hash table): -1 for a value not among the categories.
        try:
            found = np.asarray(pandas.Index(categories).get_indexer(values), dtype=np.int64)
        except TypeError:  # unhashable values: looked up one by one below
            found = None
    if found is None:
        lookup = {v: i for i, v in enumerate(categories.tolist())}
        found = np.fromiter(
            (_find(lookup, v) for v in np.asarray(values, dtype=object)),
            dtype=np.int64,
            count=len(missing),
        )
    result = np.where(found < 0, n + UNSEEN, found)
    result[missing] = n + MISSING
    return result


def foreign_values(series, categories, codes_, name):
    """A warning's text when no value of a column is among its categories
    and its values are of another type (codes where labels were, ``"7"``
    where ``7`` was): every row then reads the "unseen" row, which is
    rarely what was meant. None otherwise (new labels of the same type are
    just unseen)."""
    n = len(categories)
    unseen = codes_ == n + UNSEEN
    if not unseen.any() or (codes_ < n).any():
        return None
    values = _values(series)
    sample = np.asarray(values, dtype=object)[np.flatnonzero(unseen)[:1000]]
    given, kept = _kinds(sample), _kinds(categories.tolist())
    if given == kept:
        return None
    return (
        f"The categorical column {name!r} holds {', '.join(sorted(given))} values here "
        f"(e.g. {_python(sample[0])!r}), but its categories are {', '.join(sorted(kept))} "
        f"(e.g. {categories.tolist()[0]!r}): none of its values is a category, so every row "
        "reads the embedding of an unseen category. Give the column as at fit time."
    )


def _python(value):
    """A NumPy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _kinds(values):
    kinds = set()
    for v in values:
        if isinstance(v, str):
            kinds.add("text")
        elif isinstance(v, (bool, np.bool_)):
            kinds.add("bool")
        elif isinstance(v, (Integral, float, np.number)):
            kinds.add("number")
        else:
            kinds.add(type(v).__name__)
    return kinds


def _find(lookup, value):
    try:
        return lookup.get(value, -1)
    except TypeError:  # an unhashable value is no category
        return -1


# -- the embedding's width ----------------------------------------------------------
def embedding_width(n_categories, embedding_dim="auto", keys=()):
    """Width of a column's embedding.

    ``"auto"``: ``min(50, ceil(1.6 * n_categories ** 0.56))``, fast.ai's rule
    of thumb (Howard and Gugger, 2020) capped at half of skout's default
    hidden layer: 3 for two or three categories, 6 for ten, 22 for a
    hundred, 50 from about 900. An int: that width for every column. A
    dict: the width of the columns it names (by name or index, ``keys``),
    ``"auto"`` for the others.
    """
    if isinstance(embedding_dim, dict):
        for key in keys:
            if key in embedding_dim:
                return int(embedding_dim[key])
        embedding_dim = "auto"
    if isinstance(embedding_dim, str):
        return int(min(MAX_AUTO_WIDTH, math.ceil(1.6 * max(n_categories, 1) ** 0.56)))
    return int(embedding_dim)


def check_embedding_dim(embedding_dim, categorical):
    """A dict ``embedding_dim`` names categorical columns, with ints >= 1."""
    if not isinstance(embedding_dim, dict):
        return
    keys = {k for c in categorical for k in (c.name, c.index) if k is not None}
    for key, width in embedding_dim.items():
        if key not in keys:
            named = [c.name if c.name is not None else c.index for c in categorical]
            raise ValueError(
                f"embedding_dim sets the width of column {key!r}, which is not a categorical "
                f"column; the categorical columns are {named}."
            )
        if isinstance(width, bool) or not isinstance(width, Integral) or width < 1:
            raise ValueError(f"embedding_dim[{key!r}] is {width!r}; give an int >= 1.")


# -- the error for text that is not declared categorical ---------------------------------
def non_numeric_columns(X, only=None):
    """The columns of ``X`` (of ``only``, indices) that cannot be read as
    numbers: their names (or indices) and one value that failed."""
    names = column_names(X)
    n_columns = len(names) if names is not None else np.shape(X)[1]
    found = []
    for j in range(n_columns) if only is None else only:
        values = _values(column(X, j))
        if values.dtype.kind in "biufc":
            continue
        present = values[~is_missing(values)] if len(values) else values
        for v in present.tolist():
            try:
                float(v)
            except (TypeError, ValueError):
                found.append((names[j] if names is not None else j, v))
                break
    return found


def string_columns_error(X, exc, fitted=False, only=None):
    """A ValueError naming the text columns of ``X`` (of ``only``) and the two
    ways out, or None when no column holds text (the original error stands)."""
    try:
        found = non_numeric_columns(X, only)
    except Exception:  # X is not a table we can read column by column
        return None
    if not found:
        return None
    listed = [name for name, _ in found]
    refit = " and refit" if fitted else ""
    if is_dataframe(X):
        where = f"X[{listed[0]!r}]"
        ways = (
            f"give them pandas' 'category' dtype ({where} = {where}.astype('category')) "
            f"or pass categorical_features={listed!r}"
        )
    else:
        ways = (
            f"pass categorical_features={listed!r}, or give X as a DataFrame with "
            "those columns in pandas' 'category' dtype"
        )
    return ValueError(
        f"X has text in column(s) {listed} (e.g. {found[0][1]!r}: {exc}), which this "
        f"network reads as numbers. If they are categories, declare them{refit}: {ways}; "
        "each is then learned as an embedding. If they are numbers, convert them to a "
        "numeric dtype."
    )
