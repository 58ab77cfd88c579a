"""The input side of a fit: from the ``X`` a user gives to the ``X`` the engine trains on.

A plain numeric table does not come here: it keeps ``validate_data``'s path.
Three other kinds of ``X`` do, each described by a fitted
:class:`FeatureEncoder` that ``predict`` applies again:

- ``"table"``: a 2-D table with categorical columns
  (:mod:`skout._categorical`). Their values become integer codes. For the
  built-in dense network the numeric columns come first and the codes last,
  where the engine embeds them (:mod:`skout._engine.network`); a custom body
  gets every column in its place, codes where the categories were.
- ``"columns"``: a DataFrame whose column groups the estimator's
  ``inputs={name: columns}`` maps to a body's named inputs; categorical
  columns become codes in place, and a group whose width is the size of
  the body's declared input shape is reshaped to it.
- ``"arrays"``: a :class:`skout.Inputs` container, one array per named input.

For the last two the engine's ``X`` is a tuple of arrays in the order of
the body's inputs (:meth:`FeatureEncoder.arrange`).

The encoder is plain data (:meth:`FeatureEncoder.to_dict`): column indices
and names, categories as arrays of str, int, float or bool, counts.
``n_features_in_`` and ``feature_names_in_`` are recorded by scikit-learn's
``validate_data`` on the ``X`` given, as for any estimator; a group's or
array's sample shape is its own (``input_shapes_``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
from sklearn.utils import _safe_indexing, check_array
from sklearn.utils.validation import check_consistent_length, validate_data

from . import _categorical
from ._compat import check_y
from .inputs import Inputs

__all__ = ["FeatureEncoder", "applies", "check_same_columns", "validate_fit"]

KINDS = ("table", "columns", "arrays")


@dataclass(frozen=True)
class Categorical:
    """One categorical column of ``X``.

    Attributes
    ----------
    index : int
        Its position among ``X``'s columns.
    name : str or None
        Its name, when ``X`` has column names.
    categories : ndarray
        Code ``c`` is ``categories[c]``; ``len(categories)`` is "unseen",
        ``len(categories) + 1`` "missing".
    counts : ndarray of int or None
        Training rows that read each code (``len(categories) + 2``), over
        every fit of a ``partial_fit`` chain: the dense network's table rows
        no row has read are set to the others' mean (:meth:`FeatureEncoder.fill_untrained`).
    """

    index: int
    name: str | None
    categories: np.ndarray
    counts: np.ndarray | None = None

    @property
    def n_rows(self):
        return len(self.categories) + 2

    @property
    def label(self):
        """How messages name the column: its name, else its index."""
        return self.name if self.name is not None else self.index


@dataclass(frozen=True)
class Group:
    """One named input of the body: an array of ``Inputs``, or DataFrame columns."""

    name: str
    columns: tuple[int, ...] | None  # X's columns, in order ("columns"); None ("arrays")
    shape: tuple[int, ...]  # one sample's shape
    feature_names: tuple[str, ...] | None = None  # "arrays": a DataFrame's column names


@dataclass(frozen=True)
class FeatureEncoder:
    """How ``X`` becomes the engine's ``X`` (see the module doc)."""

    kind: str
    n_columns: int  # X's columns ("table", "columns"); its numbers per sample ("arrays")
    categorical: tuple[Categorical, ...] = ()
    order: tuple[int, ...] = ()  # "table": X's columns in the engine's order
    groups: tuple[Group, ...] = ()

    # -- what the estimator shows ----------------------------------------------
    def is_categorical(self):
        """HistGradientBoosting's ``is_categorical_``: a mask over X's columns, or None."""
        if self.kind == "arrays" or not self.categorical:
            return None
        mask = np.zeros(self.n_columns, dtype=bool)
        mask[[c.index for c in self.categorical]] = True
        return mask

    def input_shapes(self):
        """``{name: sample shape}`` of each named input, or None for a table."""
        if self.kind == "table":
            return None
        return {g.name: tuple(g.shape) for g in self.groups}

    def embeddings(self, embedding_dim):
        """``(rows, width)`` of each categorical column's table, in the engine's order."""
        _categorical.check_embedding_dim(embedding_dim, self.categorical)
        by_index = {c.index: c for c in self.categorical}
        return tuple(
            (
                by_index[j].n_rows,
                _categorical.embedding_width(
                    len(by_index[j].categories), embedding_dim, (by_index[j].name, j)
                ),
            )
            for j in self.order
            if j in by_index
        )

    # -- X -> the engine's X ----------------------------------------------------------
    def transform(self, checker, X):
        """Check ``X`` against the fit (``validate_data(reset=False)`` on
        ``checker``) and encode it: an array ("table") or ``{name: array}``."""
        if self.kind == "arrays":
            if not isinstance(X, Inputs):
                names = ", ".join(f"{g.name}=..." for g in self.groups)
                raise ValueError(
                    f"This model was fitted on skout.Inputs({names}); give X the same way "
                    f"(got a {type(X).__name__})."
                )
            # Names and shapes first: they say more than a count of features.
            _same_names([g.name for g in self.groups], list(X.names))
            parts = self._arrays(checker, X)
            validate_data(checker, X, reset=False, skip_check_array=True)
            return parts
        if isinstance(X, Inputs):
            raise ValueError(
                "This model was fitted on a table X (a DataFrame or array), not on "
                "skout.Inputs; give X as at fit time."
            )
        X = _as_table(X)
        validate_data(checker, X, reset=False, skip_check_array=True)
        return self._encode(checker, X)

    def arrange(self, parts, spec):
        """The engine's X: the array, or the inputs' arrays in the body's order."""
        if self.kind == "table":
            return parts
        return tuple(parts[name] for name in spec.input_names)

    def _encode(self, checker, X):
        """A table's columns as floats, categorical ones as codes."""
        codes = {}
        for c in self.categorical:
            column = _categorical.column(X, c.index)
            codes[c.index] = _categorical.codes(column, c.categories)
            foreign = _categorical.foreign_values(column, c.categories, codes[c.index], c.label)
            if foreign is not None:
                warnings.warn(foreign, UserWarning, stacklevel=4)
        if self.kind == "table":
            return _assemble(checker, X, self.order, codes)
        parts = {}
        for g in self.groups:
            part = _assemble(checker, X, g.columns, codes)
            parts[g.name] = part.reshape(len(part), *g.shape)
        return parts

    def _arrays(self, checker, X):
        parts = {}
        for g in self.groups:
            _check_names(g, X[g.name])
            part = _check_array(checker, X[g.name], g.name)
            if tuple(part.shape[1:]) != tuple(g.shape):
                raise ValueError(
                    f"X[{g.name!r}] has samples of shape {tuple(part.shape[1:])}, but the "
                    f"model was fitted on samples of shape {tuple(g.shape)}."
                )
            parts[g.name] = part
        return parts

    # -- the dense network's tables ----------------------------------------------------
    def counted(self, spec, X, W):
        """This encoder with the training rows of ``X`` (weight ``W > 0``) counted
        per code; the counts add up over a ``partial_fit`` chain."""
        k = len(getattr(spec, "embeddings", ()))
        if not k:
            return self
        used = np.asarray(W) > 0
        by_index = {c.index: c for c in self.categorical}
        order = [j for j in self.order if j in by_index]
        counted = []
        for t, j in enumerate(order):
            column = by_index[j]
            codes = np.asarray(X[used, X.shape[1] - k + t], dtype=np.int64)
            counts = np.bincount(codes, minlength=column.n_rows)[: column.n_rows]
            if column.counts is not None:
                counts = counts + column.counts
            counted.append(replace(column, counts=counts.astype(np.int64)))
        by_index.update({c.index: c for c in counted})
        return replace(self, categorical=tuple(by_index[c.index] for c in self.categorical))

    def fill_untrained(self, spec, weights):
        """Weights whose table rows no training row has read (a category absent
        from the training data, "unseen", "missing" when none was) are the
        count-weighted mean of the rows that were: an unseen category is
        predicted as an average one, not from its random initial row."""
        k = len(getattr(spec, "embeddings", ()))
        if not k:
            return weights
        weights = list(weights)
        by_index = {c.index: c for c in self.categorical}
        order = [j for j in self.order if j in by_index]
        for t, j in enumerate(order):
            counts = by_index[j].counts
            at = len(weights) - k + t
            if counts is None or counts.all():
                continue
            table = np.array(weights[at], copy=True)
            mean = counts @ table.astype(np.float64) / counts.sum()
            table[counts == 0] = mean.astype(table.dtype)
            weights[at] = table
        return weights

    # -- plain data ---------------------------------------------------------------------
    def to_dict(self):
        return {
            "kind": self.kind,
            "n_columns": int(self.n_columns),
            "categorical": [
                {
                    "index": int(c.index),
                    "name": c.name,
                    "categories": np.asarray(c.categories),
                    "counts": None if c.counts is None else np.asarray(c.counts, np.int64),
                }
                for c in self.categorical
            ],
            "order": [int(j) for j in self.order],
            "groups": [
                {
                    "name": g.name,
                    "columns": None if g.columns is None else [int(j) for j in g.columns],
                    "shape": [int(d) for d in g.shape],
                    "feature_names": None if g.feature_names is None else list(g.feature_names),
                }
                for g in self.groups
            ],
        }

    @classmethod
    def from_dict(cls, data, damaged):
        """Rebuild an encoder from :meth:`to_dict`'s data, checking every part;
        ``damaged(what)`` makes the error for a part that does not fit."""
        if not isinstance(data, dict) or set(data) != {
            "kind", "n_columns", "categorical", "order", "groups",
        }:  # fmt: skip
            raise damaged("the input description is not the dict skout writes")
        kind = data["kind"]
        if kind not in KINDS:
            raise damaged(f"the input kind {kind!r} is not one of {KINDS}")
        n_columns = _count(data["n_columns"], "n_columns", damaged, minimum=1)
        categorical = tuple(_categorical_from(c, n_columns, damaged) for c in _list(
            data["categorical"], "categorical", damaged))  # fmt: skip
        indices = [c.index for c in categorical]
        if len(set(indices)) != len(indices):
            raise damaged("a categorical column is listed twice")
        order = tuple(_count(j, "order", damaged) for j in _list(data["order"], "order", damaged))
        groups = tuple(_group_from(g, n_columns, damaged) for g in _list(
            data["groups"], "groups", damaged))  # fmt: skip
        if kind == "table":
            if sorted(order) != list(range(n_columns)) or groups:
                raise damaged("the table's column order does not list every column once")
        else:
            if order or not groups:
                raise damaged("several inputs have no groups")
            names = [g.name for g in groups]
            if len(set(names)) != len(names):
                raise damaged("two inputs have one name")
            if kind == "columns":
                listed = [j for g in groups for j in g.columns or ()]
                if any(g.columns is None for g in groups) or len(set(listed)) != len(listed):
                    raise damaged("the inputs' columns are missing or listed twice")
            elif categorical or any(g.columns is not None for g in groups):
                raise damaged("an Inputs container has columns")
        return cls(kind, n_columns, categorical, order, groups)

    def check_against(self, spec, n_features_in, damaged):
        """The network reads what this encoder makes (a loaded state)."""
        if self.kind == "table":
            width = spec.input_shapes[0][0] if not spec.predicts_in_numpy else spec.n_features
            if n_features_in != self.n_columns or width != self.n_columns:
                raise damaged(
                    f"n_features_in is {n_features_in} but the inputs make {self.n_columns}"
                )
            rows = [c.n_rows for c in self._in_order()] if spec.predicts_in_numpy else []
            if [r for r, _ in getattr(spec, "embeddings", ())] != rows:
                raise damaged("the embedding tables do not match the categorical columns")
            return
        if spec.predicts_in_numpy or set(spec.input_names) != {g.name for g in self.groups}:
            raise damaged("the body's inputs do not match the arrays it was fitted on")
        shapes = dict(zip(spec.input_names, spec.input_shape))
        if any(tuple(shapes[g.name]) != tuple(g.shape) for g in self.groups):
            raise damaged("the body's input shapes do not match the arrays it was fitted on")

    def _in_order(self):
        by_index = {c.index: c for c in self.categorical}
        return [by_index[j] for j in self.order if j in by_index]


# -- fitting -------------------------------------------------------------------------
def applies(estimator, X):
    """Whether ``X`` goes through an encoder (else: ``validate_data`` as always)."""
    if isinstance(X, Inputs) or estimator.inputs is not None:
        return True
    features = estimator.categorical_features
    if features is None:
        return False
    if isinstance(features, str) and features == "from_dtype" and not _categorical.is_dataframe(X):
        return False  # a plain array: nothing is categorical by dtype
    return _categorical.categorical_mask(_as_table(X), features) is not None


def check_same_columns(estimator, X, previous):
    """Refuse to continue a fit (warm_start, partial_fit) whose parameters now
    read X's columns otherwise than ``previous`` (a FeatureEncoder, or None for
    a plain table): other categorical columns, or other inputs.

    The parameters are resolved on ``X`` as at fit time. With
    ``categorical_features="from_dtype"``, a column that was categorical may
    come without the dtype (a CSV chunk as text): it is read as before, and
    :func:`_categorical.foreign_values` warns if its values are of another type.
    """
    if isinstance(X, Inputs):
        return  # the arrays are checked against previous by name and shape
    if previous is None and not applies(estimator, X):
        return  # a plain table (or image array) then and now
    was = () if previous is None else tuple(c.index for c in previous.categorical)
    X = _as_table(X)
    names = _categorical.column_names(X)
    mask = _categorical.categorical_mask(X, estimator.categorical_features)
    now = tuple(int(j) for j in np.flatnonzero(mask)) if mask is not None else ()
    if isinstance(estimator.categorical_features, str):  # "from_dtype"
        now = tuple(sorted(set(now) | set(was)))
    changes = []
    if now != was:
        label = [names[j] for j in now] if names is not None else list(now)
        before = [c.label for c in previous.categorical] if previous is not None else []
        changes.append(f"the categorical columns were {before}, they are now {label}")
    had_inputs = previous is not None and previous.kind == "columns"
    if had_inputs != (estimator.inputs is not None):
        changes.append(f"inputs= was {'set' if had_inputs else 'None'}, it is now "
                       f"{'set' if estimator.inputs is not None else 'None'}")  # fmt: skip
    elif had_inputs:
        groups = _groups(X, estimator.inputs, names, None)
        if [(g.name, g.columns) for g in groups] != [(g.name, g.columns) for g in previous.groups]:
            changes.append("inputs= now maps other columns to the inputs")
    if changes:
        raise ValueError(
            f"Continuing training needs the same architecture as before, but {'; '.join(changes)}"
            ". Set the parameters back, or refit from scratch with warm_start=False."
        )


def validate_fit(estimator, checker, X, y, previous=None, reset=True):
    """(X parts, y, encoder): ``X`` encoded (an array, or ``{name: array}``),
    ``y`` checked as ``validate_data`` checks it, and the encoder -- fitted
    here, or ``previous`` for a fit that continues (or validation data).
    ``reset`` as ``validate_data``'s: record ``X``'s features on ``checker``."""
    if previous is not None:
        parts, encoder = previous.transform(checker, X), previous
    else:
        parts, encoder = _fit(estimator, checker, X, reset)
    y = check_y(y, multi_output=True, y_numeric=estimator._task == "regression", estimator=checker)
    first = next(iter(parts.values())) if isinstance(parts, dict) else parts
    check_consistent_length(first, y)
    return parts, y, encoder


def _fit(estimator, checker, X, reset):
    if isinstance(X, Inputs):
        if estimator.inputs is not None:
            raise ValueError(
                "inputs= maps the columns of a DataFrame X to the body's inputs; X is "
                "already skout.Inputs, one array per input. Leave inputs=None."
            )
        validate_data(checker, X, reset=reset, skip_check_array=True)
        parts = {name: _check_array(checker, array, name) for name, array in X.items()}
        groups = tuple(
            Group(name, None, tuple(parts[name].shape[1:]), _feature_names(X[name]))
            for name in X.names
        )
        return parts, FeatureEncoder("arrays", int(X.shape[1]), groups=groups)
    X = _as_table(X)
    validate_data(checker, X, reset=reset, skip_check_array=True)
    names = _categorical.column_names(X)
    n_columns = len(names) if names is not None else X.shape[1]
    mask = _categorical.categorical_mask(X, estimator.categorical_features)
    categorical = tuple(
        Categorical(int(j), None if names is None else str(names[j]),
                    _categorical.categories_of(_categorical.column(X, j),
                                               names[j] if names is not None else int(j)))
        for j in (np.flatnonzero(mask) if mask is not None else ())
    )  # fmt: skip
    if estimator.inputs is not None:
        groups = _groups(X, estimator.inputs, names, estimator.body)
        encoder = FeatureEncoder("columns", n_columns, categorical, (), groups)
    else:
        is_code = mask if mask is not None else np.zeros(n_columns, dtype=bool)
        if estimator.body is None:  # numeric columns, then the codes the engine embeds
            order = [*np.flatnonzero(~is_code), *np.flatnonzero(is_code)]
        else:
            order = range(n_columns)
        encoder = FeatureEncoder("table", n_columns, categorical, tuple(int(j) for j in order))
    return encoder._encode(checker, X), encoder


def _groups(X, mapping, names, body):
    """Each named input's columns (resolved once, at fit) and sample shape: a
    group whose number of columns is the size of the body's declared input
    shape (pixel columns of an image) is reshaped to it."""
    if names is None and np.ndim(X) != 2:
        raise ValueError("inputs= maps the columns of a 2-D table X.")
    n_columns = len(names) if names is not None else X.shape[1]
    selected, owner = {}, {}
    for name, selection in mapping.items():
        if not isinstance(name, str):
            raise ValueError(f"inputs= maps input names (str) to columns; got the key {name!r}.")
        columns = _resolve(X, selection, names, n_columns, name)
        for j in columns:
            label = names[j] if names is not None else j
            if j in owner:
                where = "twice in" if owner[j] == name else f"in {owner[j]!r} and in"
                raise ValueError(
                    f"The column {label!r} is listed {where} {name!r} of inputs=: give each "
                    "column to one input, once (copy it under a new name to feed it twice)."
                )
            owner[j] = name
        selected[name] = tuple(columns)
    if not selected:
        raise ValueError("inputs= is empty: map each input of the body to its columns.")
    declared = {}
    if body is not None:
        from .body import declared_input_shapes

        flat = {name: (len(columns),) for name, columns in selected.items()}
        declared = declared_input_shapes(body, flat) or {}
    groups = []
    for name, columns in selected.items():
        shape = (len(columns),)
        wanted = declared.get(name)
        if wanted is not None and None not in wanted and int(np.prod(wanted)) == len(columns):
            shape = tuple(int(d) for d in wanted)  # e.g. pixel columns -> the image's shape
        groups.append(Group(name, columns, shape))
    return tuple(groups)


def _resolve(X, selection, names, n_columns, name):
    """Column indices of one input's selection: names, indices, a mask, or a
    callable such as ``make_column_selector``."""
    if callable(selection):
        selection = selection(X)
    if isinstance(selection, (str, int, np.integer)):
        selection = [selection]
    values = np.asarray(selection)
    if values.size == 0:
        raise ValueError(f"The input {name!r} of inputs= selects no column.")
    if values.dtype.kind == "b":
        if values.shape != (n_columns,):
            raise ValueError(
                f"The mask of input {name!r} has {values.size} entries for {n_columns} columns."
            )
        return [int(j) for j in np.flatnonzero(values)]
    columns = []
    for v in values.ravel().tolist():
        if isinstance(v, str):
            if names is None or v not in names:
                raise ValueError(
                    f"The input {name!r} of inputs= names the column {v!r}, which X "
                    f"{'does not have' if names is not None else 'cannot have (no column names)'}"
                    f"; its columns are {names if names is not None else list(range(n_columns))}."
                )
            columns.append(names.index(v))
        elif isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n_columns:
            columns.append(v)
        else:
            raise ValueError(
                f"The input {name!r} of inputs= selects {v!r}: give column names, indices "
                f"in [0, {n_columns - 1}], a boolean mask or a column selector."
            )
    return columns


# -- helpers ------------------------------------------------------------------------
def _as_table(X):
    """A DataFrame as it is (its dtypes say what is categorical); anything else
    as a 2-D array, not yet converted to numbers."""
    if not _categorical.is_dataframe(X):
        if not isinstance(X, np.ndarray):
            X = check_array(X, dtype=None, ensure_all_finite=False, ensure_min_samples=0,
                            ensure_2d=False, allow_nd=True)  # fmt: skip
        if X.ndim != 2:
            hint = " (one feature: X.reshape(-1, 1))" if X.ndim == 1 else ""
            raise ValueError(
                f"Columns (categorical ones, or inputs=) are read from a 2-D table X "
                f"(n_samples, n_features), but X has shape {X.shape}{hint}."
            )
    return X


def _numeric(checker, X, columns):
    """X's ``columns`` as a float64 array, checked as ``validate_data`` checks X."""
    if not len(columns):
        return np.empty((_categorical_rows(X), 0))
    part = _safe_indexing(X, list(columns), axis=1)
    try:
        return check_array(part, dtype=np.float64, input_name="X", estimator=checker)
    except ValueError as exc:
        if "convert" not in str(exc):
            raise
        error = _categorical.string_columns_error(X, exc, only=columns)
        if error is None:
            raise
        raise error from exc


def _categorical_rows(X):
    return len(X) if not hasattr(X, "shape") else X.shape[0]


def _assemble(checker, X, columns, codes):
    """``columns`` of X side by side: numbers, and codes for categorical ones."""
    numeric = [j for j in columns if j not in codes]
    values = _numeric(checker, X, numeric)
    if len(values) == 0:
        check_array(np.empty((0, 1)), estimator=checker)  # "0 sample(s)", as validate_data
    out = np.empty((len(values), len(columns)), dtype=np.float64)
    where = {j: i for i, j in enumerate(numeric)}
    for position, j in enumerate(columns):
        out[:, position] = codes[j] if j in codes else values[:, where[j]]
    return out


def _check_array(checker, array, name):
    """One array of an Inputs container, checked as ``validate_data`` checks X."""
    if (
        _categorical.is_dataframe(array)
        and _categorical.categorical_mask(array, "from_dtype") is not None
    ):
        raise ValueError(
            f"X[{name!r}] has categorical columns; an array of skout.Inputs is read as "
            "numbers. Give it their integer codes (e.g. df[c].cat.codes), or give X as one "
            "DataFrame with inputs={name: columns}, which encodes categories itself."
        )
    try:
        array = check_array(
            array, dtype=np.float64, allow_nd=True, ensure_2d=False, input_name=f"X[{name!r}]",
            estimator=checker, accept_sparse=True,
        )  # fmt: skip
        # A sparse matrix is read densely: a body's inputs are dense tensors.
        return array.toarray() if hasattr(array, "toarray") else array
    except ValueError as exc:
        if "convert" not in str(exc):
            raise
        raise ValueError(
            f"X[{name!r}] holds values that are not numbers ({exc}); an array of "
            "skout.Inputs is read as numbers."
        ) from exc


def _feature_names(array):
    """A DataFrame's column names when they are all str (as scikit-learn records
    ``feature_names_in_``), else None."""
    names = _categorical.column_names(array)
    if names is None or not all(isinstance(n, str) for n in names):
        return None
    return tuple(names)


def _check_names(group, array):
    """An array of Inputs has the column names it had at fit, in that order
    (scikit-learn's rule for ``feature_names_in_``, per input)."""
    given = _feature_names(array)
    if group.feature_names is None or given == group.feature_names:
        return
    if given is None:
        warnings.warn(
            f"X[{group.name!r}] has no column names, but the model was fitted on a "
            f"DataFrame with the columns {list(group.feature_names)}; its columns are "
            "read in that order.",
            UserWarning,
            stacklevel=5,
        )
        return
    raise ValueError(
        f"X[{group.name!r}] has the columns {list(given)}, but the model was fitted with "
        f"{list(group.feature_names)}: give the same columns, in that order "
        f"(X[{group.name!r}][{list(group.feature_names)}])."
    )


def _same_names(fitted, given):
    if sorted(fitted) != sorted(given):
        missing = [n for n in fitted if n not in given]
        extra = [n for n in given if n not in fitted]
        said = f"lacks {missing}" if missing else f"has {extra}, which it was not fitted on"
        raise ValueError(
            f"X {said}: this model was fitted on skout.Inputs with the arrays {fitted}. "
            "Give the same arrays, by the same names."
        )


def _list(value, name, damaged):
    if not isinstance(value, (list, tuple)):
        raise damaged(f"the inputs' {name} is not a list")
    return value


def _count(value, name, damaged, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise damaged(f"the inputs' {name} holds {value!r}, not an int >= {minimum}")
    return int(value)


def _categorical_from(data, n_columns, damaged):
    if not isinstance(data, dict) or set(data) != {"index", "name", "categories", "counts"}:
        raise damaged("a categorical column is not the dict skout writes")
    index = _count(data["index"], "categorical index", damaged)
    if index >= n_columns:
        raise damaged(f"the categorical column {index} is beyond X's {n_columns} columns")
    name = data["name"]
    if name is not None and not isinstance(name, str):
        raise damaged(f"a categorical column's name is {name!r}, not a str")
    categories = data["categories"]
    if (
        not isinstance(categories, np.ndarray)
        or categories.ndim != 1
        or categories.dtype.kind not in "biufU"
    ):
        raise damaged("a column's categories are not an array of str, int, float or bool")
    if len(np.unique(categories)) != len(categories):
        raise damaged("a column's categories are not unique")
    counts = data["counts"]
    if counts is not None and (
        not isinstance(counts, np.ndarray)
        or counts.shape != (len(categories) + 2,)
        or counts.dtype.kind not in "iu"
        or (counts < 0).any()
    ):
        raise damaged("a column's counts do not match its categories")
    return Categorical(index, name, categories, counts)


def _group_from(data, n_columns, damaged):
    if not isinstance(data, dict) or set(data) - {"feature_names"} != {"name", "columns", "shape"}:
        raise damaged("an input is not the dict skout writes")
    name = data["name"]
    if not isinstance(name, str):
        raise damaged(f"an input's name is {name!r}, not a str")
    columns = data["columns"]
    if columns is not None:
        columns = tuple(_count(j, "columns", damaged) for j in _list(columns, "columns", damaged))
        if not columns or max(columns) >= n_columns:
            raise damaged(f"the input {name!r} reads columns X does not have")
    shape = tuple(_count(d, "shape", damaged, minimum=1) for d in _list(
        data["shape"], "shape", damaged))  # fmt: skip
    if columns is not None and int(np.prod(shape)) != len(columns):
        raise damaged(f"the input {name!r} has {len(columns)} columns for samples of {shape}")
    names = data.get("feature_names")
    if names is not None:
        names = _list(names, "feature_names", damaged)
        if not all(isinstance(n, str) for n in names) or len(names) != int(np.prod(shape)):
            raise damaged(f"the input {name!r} has feature names that do not fit its samples")
        names = tuple(names)
    return Group(name, columns, shape, names)
