"""The head table: which output layer, loss and decoding a target needs.

This module is pure Python and NumPy: it never imports Keras or TensorFlow,
so it can be asked what a target needs without building a network.

The table is kept as data in :data:`HEAD_TABLE`; :func:`choose_head` reads a
target with scikit-learn's :func:`~sklearn.utils.multiclass.type_of_target`
and returns the :class:`Head` that fits it, and :func:`check_loss` tells
whether a loss the user names can train that head.

The vocabulary the rest of skout speaks is kept here too, as data:
:data:`LOSS_TABLE` (every loss skout knows: its family, the activation it
trains, its Keras class) and :data:`DECODINGS` (how outputs become
predictions, with the NumPy line for each). The head doctor and the command
line read both.

Examples
--------
>>> import numpy as np
>>> from skout.heads import choose_head
>>> head = choose_head(np.array(["cat", "dog", "bird", "dog"]))
>>> head.target_type, head.units, head.activation, head.loss
('multiclass', 3, 'softmax', 'sparse_categorical_crossentropy')
>>> choose_head(np.array([0, 1, 1, 0])).units
1
>>> choose_head(np.array([0, 1, 1, 0]), binary_head="softmax").units
2
>>> choose_head(np.array([1.5, 2.0, 3.2]), estimator="regressor").activation
'linear'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from sklearn.utils.multiclass import type_of_target

__all__ = [
    "CLASSIFIER_TARGET_TYPES",
    "DECODINGS",
    "HEAD_TABLE",
    "LOSS_TABLE",
    "TARGET_TYPES",
    "Decoding",
    "Head",
    "HeadRule",
    "LossRule",
    "OutputHead",
    "CLASSIFIER_LOSS_NAMES",
    "REGRESSOR_LOSS_NAMES",
    "check_loss",
    "choose_head",
    "loss_rule",
    "output_decoding",
    "quantile_levels",
    "resolve_loss",
    "suggest_loss",
]


@dataclass(frozen=True)
class HeadRule:
    """One row of the head table, as documentation-friendly text.

    Attributes
    ----------
    target_type : str
        skout's name for the kind of target.
    given_as : str
        What the target looks like when it is passed to ``fit``.
    units : str
        How many output units the head has.
    activation : str
        Keras activation of the output layer.
    loss : str
        Keras loss the head trains with.
    predict : str
        What ``predict`` returns.
    predict_proba : str
        What ``predict_proba`` returns (classifiers only).
    """

    target_type: str
    given_as: str
    units: str
    activation: str
    loss: str
    predict: str
    predict_proba: str


#: The head table, one :class:`HeadRule` per row, in the order of the docs.
HEAD_TABLE: tuple[HeadRule, ...] = (
    HeadRule(
        "binary",
        "1-D, 2 distinct labels (ints, strings, bools, categorical)",
        "1",
        "sigmoid",
        "binary_crossentropy",
        "the original labels",
        "(n, 2), columns in classes_ order",
    ),
    HeadRule(
        "binary",
        "same, with binary_head='softmax'",
        "2",
        "softmax",
        "sparse_categorical_crossentropy",
        "the original labels",
        "(n, 2)",
    ),
    HeadRule(
        "multiclass",
        "1-D, K > 2 labels",
        "K",
        "softmax",
        "sparse_categorical_crossentropy",
        "the original labels",
        "(n, K), rows sum to 1",
    ),
    HeadRule(
        "one-hot",
        "2-D 0/1, exactly one 1 per row, K >= 2 columns",
        "K",
        "softmax",
        "categorical_crossentropy",
        "one-hot rows, same dtype and shape as y",
        "(n, K), rows sum to 1",
    ),
    HeadRule(
        "multilabel-indicator",
        "2-D 0/1, any number of 1s per row",
        "K",
        "sigmoid",
        "binary_crossentropy",
        "0/1 matrix, proba > 0.5",
        "(n, K), independent probabilities",
    ),
    HeadRule(
        "multiclass-multioutput",
        "2-D, each column its own label set",
        "one head per column (K_j units)",
        "per column (sigmoid or softmax)",
        "per column",
        "(n, n_outputs) labels",
        "list of (n, K_j) arrays",
    ),
    HeadRule(
        "continuous",
        "1-D numbers (regressor)",
        "1",
        "linear",
        "mean_squared_error",
        "(n,)",
        "-",
    ),
    HeadRule(
        "continuous-multioutput",
        "2-D numbers (regressor)",
        "n_outputs",
        "linear",
        "mean_squared_error",
        "(n, n_outputs)",
        "-",
    ),
)

#: Every target type skout can train, in the order of :data:`HEAD_TABLE`.
TARGET_TYPES: tuple[str, ...] = tuple(dict.fromkeys(r.target_type for r in HEAD_TABLE))

_CLASSIFIER_TYPES = (
    "binary",
    "multiclass",
    "one-hot",
    "multilabel-indicator",
    "multiclass-multioutput",
)
_REGRESSOR_TYPES = ("continuous", "continuous-multioutput")


@dataclass(frozen=True)
class LossRule:
    """One Keras loss, as the head table and the doctor read it.

    Attributes
    ----------
    name : str
        Keras's name for the loss.
    family : {"binary", "sparse", "categorical", "regression"}
        What it reads: one yes/no probability per unit (``"binary"``), one
        class index per row (``"sparse"``), a row of class probabilities
        (``"categorical"``) or numbers to approach (``"regression"``).
    activation : {"sigmoid", "softmax", "linear"}
        The output activation it trains.
    keras_class : str
        Its class in ``keras.losses``.
    aliases : tuple of str
        Other names ``loss=`` accepts for it.
    other_names : tuple of str
        Further spellings found in saved models (read by the doctor only).
    trainable : bool
        Whether skout's estimators accept it as ``loss=``; the others are
        known to the doctor only.
    standardize : {"moments", "robust", "none"}
        How ``AutoHeadRegressor`` scales the target for it (with
        ``standardize_target=True``): by its mean and standard deviation, by
        its median and median absolute deviation (a median or quantile head:
        robust to outliers, and a quantile of the scaled target is the scaled
        quantile), or not at all (a log link: its scale is the bias's).
    """

    name: str
    family: str
    activation: str
    keras_class: str
    aliases: tuple[str, ...] = ()
    other_names: tuple[str, ...] = ()
    trainable: bool = True
    standardize: str = "moments"


#: Every loss skout knows, one :class:`LossRule` per Keras loss.
LOSS_TABLE: tuple[LossRule, ...] = (
    LossRule("binary_crossentropy", "binary", "sigmoid", "BinaryCrossentropy", ("bce",)),
    LossRule("binary_focal_crossentropy", "binary", "sigmoid", "BinaryFocalCrossentropy"),
    LossRule(
        "sparse_categorical_crossentropy",
        "sparse",
        "softmax",
        "SparseCategoricalCrossentropy",
        ("scce",),
    ),
    LossRule(
        "categorical_crossentropy", "categorical", "softmax", "CategoricalCrossentropy", ("cce",)
    ),
    LossRule(
        "categorical_focal_crossentropy", "categorical", "softmax", "CategoricalFocalCrossentropy"
    ),
    LossRule(
        "kl_divergence",
        "categorical",
        "softmax",
        "KLDivergence",
        other_names=("kld", "kullback_leibler_divergence"),
        trainable=False,
    ),
    LossRule(
        "mean_squared_error", "regression", "linear", "MeanSquaredError", ("mse", "squared_error")
    ),
    LossRule(
        "mean_absolute_error",
        "regression",
        "linear",
        "MeanAbsoluteError",
        ("mae", "absolute_error"),
        standardize="robust",
    ),
    LossRule("huber", "regression", "linear", "Huber", other_names=("huber_loss",)),
    LossRule("log_cosh", "regression", "linear", "LogCosh", other_names=("logcosh",)),
    LossRule(
        "mean_absolute_percentage_error",
        "regression",
        "linear",
        "MeanAbsolutePercentageError",
        other_names=("mape",),
        trainable=False,
    ),
    LossRule(
        "mean_squared_logarithmic_error",
        "regression",
        "linear",
        "MeanSquaredLogarithmicError",
        other_names=("msle",),
        trainable=False,
    ),
    # Regression on a log link (the output is exp of the last layer's value):
    # half the deviance of the distribution (scikit-learn's names and losses;
    # Keras's Poisson differs from skout's by terms that do not depend on the
    # prediction, so it trains the same way).
    LossRule("poisson", "regression", "exp", "Poisson", standardize="none"),
    LossRule("gamma", "regression", "exp", "", standardize="none"),
    LossRule("tweedie", "regression", "exp", "", standardize="none"),
    # The pinball loss of one quantile level, or of a list of levels (then one
    # unit per level, which never cross: the activation is "increasing").
    LossRule("quantile", "regression", "linear", "", ("pinball",), standardize="robust"),
)

_LOSS_ALIASES = {n: r.name for r in LOSS_TABLE if r.trainable for n in (r.name, *r.aliases)}
_LOSS_BY_ANY_NAME = {n: r for r in LOSS_TABLE for n in (r.name, *r.aliases, *r.other_names)}
_SIGMOID_LOSSES, _SOFTMAX_LOSSES = (
    tuple(r.name for r in LOSS_TABLE if r.trainable and r.activation == act)
    for act in ("sigmoid", "softmax")
)
_REGRESSION_LOSSES = tuple(r.name for r in LOSS_TABLE if r.trainable and r.family == "regression")
#: Every loss name ``loss=`` accepts, aliases included.
LOSS_NAMES: tuple[str, ...] = tuple(sorted(_LOSS_ALIASES))
#: The loss names each estimator accepts (aliases included).
CLASSIFIER_LOSS_NAMES: tuple[str, ...] = tuple(
    n for n in LOSS_NAMES if _LOSS_BY_ANY_NAME[n].family != "regression"
)
REGRESSOR_LOSS_NAMES: tuple[str, ...] = tuple(
    n for n in LOSS_NAMES if _LOSS_BY_ANY_NAME[n].family == "regression"
)


def loss_rule(name):
    """The :class:`LossRule` for a loss name or alias, or None if skout does not know it.

    Examples
    --------
    >>> loss_rule("cce").family
    'categorical'
    >>> loss_rule("mape").name, loss_rule("mape").trainable
    ('mean_absolute_percentage_error', False)
    >>> loss_rule("my_loss") is None
    True
    """
    return _LOSS_BY_ANY_NAME.get(str(name).lower())


@dataclass(frozen=True)
class Decoding:
    """How network outputs become predictions: one entry of :data:`DECODINGS`.

    Attributes
    ----------
    name : str
        The value of :attr:`Head.decoding`.
    summary : str
        What it does, in words.
    code : str
        The NumPy line that decodes ``model.predict(X)`` this way: a template
        with ``{pred}`` (the network's output), ``{classes}`` (the class
        labels), ``{cut}`` (``0.5`` on probabilities, ``0`` on logits) and
        ``{k}`` (the number of units).
    """

    name: str
    summary: str
    code: str

    def keras_code(self, *, pred="model.predict(X)", classes="classes", cut="0.5", k="K"):
        """The decoding line, filled in.

        Examples
        --------
        >>> DECODINGS["binary threshold"].keras_code()
        'labels = classes[(model.predict(X)[:, 0] > 0.5).astype(int)]'
        """
        return self.code.format(pred=pred, classes=classes, cut=cut, k=k)


#: The decodings of :attr:`Head.decoding`, by name.
DECODINGS: dict[str, Decoding] = {
    d.name: d
    for d in (
        Decoding(
            "argmax",
            "the most probable of the K classes",
            "labels = {classes}[np.argmax({pred}, axis=1)]",
        ),
        Decoding(
            "binary threshold",
            "class 1 when P(class 1) > 0.5 (the one sigmoid unit), as MLPClassifier",
            "labels = {classes}[({pred}[:, 0] > {cut}).astype(int)]",
        ),
        Decoding(
            "one-hot",
            "one-hot rows of the most probable class",
            "onehot = np.eye({k})[np.argmax({pred}, axis=1)]",
        ),
        Decoding(
            "threshold",
            "a 0/1 matrix: each label's own probability thresholded at 0.5",
            "indicator = ({pred} > {cut}).astype(int)",
        ),
        Decoding(
            "argmax per output",
            "each output on its own: above 0.5 for one sigmoid unit, else argmax",
            "labels = [{classes}[j][(p[:, 0] > {cut}).astype(int) if p.shape[1] == 1 "
            "else np.argmax(p, axis=1)] for j, p in enumerate({pred})]",
        ),
        Decoding("identity", "the network's values, as they are", "values = {pred}"),
    )
}


def output_decoding(target_type, output):
    """The decoding of one output layer of a head for ``target_type``.

    Examples
    --------
    >>> output_decoding("binary", OutputHead(1, "sigmoid", "binary_crossentropy"))
    'binary threshold'
    >>> output_decoding("binary", OutputHead(2, "softmax", "sparse_categorical_crossentropy"))
    'argmax'
    """
    if target_type.startswith("continuous"):
        return "identity"
    if target_type in ("one-hot", "multilabel-indicator"):
        return {"one-hot": "one-hot", "multilabel-indicator": "threshold"}[target_type]
    return "binary threshold" if output.units == 1 else "argmax"


@dataclass(frozen=True)
class OutputHead:
    """One output layer of a network: units, activation and loss.

    Attributes
    ----------
    units : int
        Number of units of the output ``Dense`` layer.
    activation : {"sigmoid", "softmax", "linear"}
        Its activation.
    loss : str
        The Keras loss it trains with.
    """

    units: int
    activation: str
    loss: str
    #: The loss's parameters: ``(power,)`` for "tweedie", the quantile levels
    #: (increasing) for "quantile"; empty for every other loss.
    loss_params: tuple = ()

    @property
    def sparse_target(self):
        """Whether the loss reads one class index per row instead of a row."""
        return self.loss == "sparse_categorical_crossentropy"

    @property
    def loss_scale(self):
        """Factor that turns Keras's per-sample loss into the joint likelihood.

        Keras averages binary cross-entropy over the labels of a multilabel
        row; the negative log-likelihood of the row (what scikit-learn's MLP
        minimises) is their sum.
        """
        return float(self.units) if self.activation == "sigmoid" else 1.0

    @property
    def target_width(self):
        """How many columns of the encoded target this output trains on.

        A list of quantile levels has one unit per level for one target column.
        """
        if self.sparse_target:
            return 1
        if self.loss == "quantile":
            return self.units // len(self.loss_params)
        return self.units

    def keras_code(self):
        """The Keras line that builds this output layer.

        Examples
        --------
        >>> OutputHead(3, "softmax", "sparse_categorical_crossentropy").keras_code()
        "Dense(3, activation='softmax')"
        """
        return f"Dense({self.units}, activation={self.activation!r})"


@dataclass(frozen=True)
class Head:
    """The output head chosen for a target: a row of the head table, filled in.

    Attributes
    ----------
    target_type : str
        One of :data:`TARGET_TYPES`.
    outputs : tuple of OutputHead
        One output layer, or one per target column for
        ``"multiclass-multioutput"``.
    decoding : str
        How network outputs become predictions, a key of :data:`DECODINGS`:
        ``"argmax"`` (labels from the most probable class), ``"binary
        threshold"`` (one sigmoid unit: ``classes[1]`` where P(class 1) >
        0.5), ``"one-hot"`` (one-hot rows of the argmax), ``"threshold"`` (a
        0/1 matrix, probability > 0.5), ``"argmax per output"`` or
        ``"identity"`` (regression).

    Examples
    --------
    >>> head = Head("multilabel-indicator",
    ...             (OutputHead(4, "sigmoid", "binary_crossentropy"),), "threshold")
    >>> head
    Head(target_type='multilabel-indicator', units=4, activation='sigmoid', loss='binary_crossentropy', decoding='threshold')
    """  # noqa: E501

    target_type: str
    outputs: tuple[OutputHead, ...]
    decoding: str
    #: A loss worth considering for this target, and why (regression only,
    #: from :func:`suggest_loss`); not part of the head itself.
    suggestion: str = field(default="", compare=False)

    def _field(self, name):
        values = tuple(getattr(o, name) for o in self.outputs)
        return values[0] if len(values) == 1 else values

    @property
    def units(self):
        """Output units: an int, or a tuple with one entry per output head."""
        return self._field("units")

    @property
    def activation(self):
        """Output activation: a str, or a tuple with one entry per output."""
        return self._field("activation")

    @property
    def loss(self):
        """Training loss: a str, or a tuple with one entry per output."""
        return self._field("loss")

    @property
    def is_classifier(self):
        """Whether this head predicts classes."""
        return self.target_type in _CLASSIFIER_TYPES

    def keras_code(self):
        """The Keras lines for this head: output layer(s), loss, decoding.

        Examples
        --------
        >>> import numpy as np
        >>> print(choose_head(np.array([0, 1, 2, 1])).keras_code())
        outputs = Dense(3, activation='softmax')(hidden)
        model.compile(loss='sparse_categorical_crossentropy', ...)
        labels = classes[np.argmax(model.predict(X), axis=1)]
        """
        if len(self.outputs) == 1:
            layers = f"outputs = {self.outputs[0].keras_code()}(hidden)"
        else:
            layers = (
                "outputs = [" + ", ".join(f"{o.keras_code()}(hidden)" for o in self.outputs) + "]"
            )
        decode = DECODINGS[self.decoding].keras_code(k=self.units)
        return f"{layers}\nmodel.compile(loss={self.loss!r}, ...)\n{decode}"

    def __repr__(self):
        note = f", suggestion={self.suggestion!r}" if self.suggestion else ""
        return (
            f"Head(target_type={self.target_type!r}, units={self.units!r}, "
            f"activation={self.activation!r}, loss={self.loss!r}, "
            f"decoding={self.decoding!r}{note})"
        )


#: A count target with at least this share of zeros gets a Poisson suggestion.
COUNT_ZEROS_SHARE = 0.1


def suggest_loss(y):
    """A loss worth trying for a numeric target, with the reason, or "".

    ``loss="auto"`` stays squared error, because integer-valued targets such
    as ``load_diabetes`` are regressed as they are; but non-negative whole
    numbers with many zeros are counts, whose noise grows with their mean:
    the Poisson deviance (a log link, predictions > 0) fits them.

    Examples
    --------
    >>> suggest_loss(np.array([0, 0, 3, 1, 0, 7, 2, 0, 1, 0]))
    "loss='poisson': y holds counts (whole numbers >= 0, 50% of them 0)"
    >>> suggest_loss(np.array([151.0, 75.0, 141.0, 206.0]))
    ''
    """
    values = np.asarray(y, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return ""
    whole = np.all(values >= 0) and np.all(values == np.round(values))
    zeros = float(np.mean(values == 0))
    if whole and zeros >= COUNT_ZEROS_SHARE and len(np.unique(values)) > 2:
        return f"loss='poisson': y holds counts (whole numbers >= 0, {zeros:.0%} of them 0)"
    return ""


def _label_output(n_classes, binary_head):
    if n_classes == 2 and binary_head == "sigmoid":
        return OutputHead(1, "sigmoid", "binary_crossentropy")
    return OutputHead(n_classes, "softmax", "sparse_categorical_crossentropy")


def _is_one_hot(y):
    y = np.asarray(y)
    return y.shape[1] >= 2 and bool(np.all(y.astype(np.float64).sum(axis=1) == 1))


def _n_unique(column):
    return len(np.unique(column))


def _readable(y):
    """``y`` with an object array of numbers as numbers, for ``type_of_target``.

    ``type_of_target`` calls an object array "unknown" unless it holds
    strings; a pandas Series of ints or bools with dtype object is common
    (``pd.Series([...], dtype=object)``, a column after ``.apply``). The
    labels themselves are kept as they are given.
    """
    if y.dtype != object or y.size == 0:
        return y
    types = {type(v) for v in y.flat}
    if all(issubclass(t, (bool, np.bool_)) for t in types):
        return y.astype(bool)
    numbers = all(issubclass(t, (Real, np.number)) and not issubclass(t, (bool, np.bool_))
                  for t in types)  # fmt: skip
    if numbers:
        whole = all(issubclass(t, (Integral, np.integer)) for t in types)
        try:
            return y.astype(np.int64 if whole else np.float64)
        except OverflowError:  # ints beyond int64: leave them to type_of_target
            return y
    return y


def _mixed_types_error(values, where):
    names = sorted({type(v).__name__ for v in np.ravel(values)})
    return ValueError(
        f"Cannot read the target as class labels: {where} mixes label types "
        f"({names}). Give one label type per column (all strings or all numbers)."
    )


def _object_columns(y):
    """A 2-D object target read column by column: numbers, or per-column labels.

    A DataFrame target with a column of strings and a column of ints becomes
    an object array that ``type_of_target`` cannot read as a whole; each
    column has one label type of its own, which is all skout needs. Returns
    ``y`` as a numeric array when every column holds numbers (to be read as
    a whole: it may be an indicator matrix), else None: a table of labels,
    one type per column.
    """
    columns = []
    for j in range(y.shape[1]):
        column = _readable(y[:, j])
        try:
            kind = type_of_target(column, input_name="y")
        except (ValueError, TypeError):
            raise _mixed_types_error(y[:, j], f"column {j} of y") from None
        if kind == "unknown":
            raise _mixed_types_error(y[:, j], f"column {j} of y")
        if kind == "continuous":
            raise ValueError(
                f"Unknown label type: 'continuous' in column {j} of y. "
                "AutoHeadClassifier needs class labels, but it holds non-integer "
                "numbers; for numeric targets use AutoHeadRegressor."
            )
        columns.append(column)
    if all(c.dtype.kind in "biuf" for c in columns):
        return np.column_stack(columns)
    return None


def _target_kind(y, estimator):
    """skout's target type for ``y``, or a ValueError that says what to do."""
    if estimator == "regressor":
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise ValueError(
                f"AutoHeadRegressor needs a numeric target; got dtype {y.dtype}. "
                "For class labels use AutoHeadClassifier."
            )
        if y.ndim == 2 and y.shape[1] > 1:
            return "continuous-multioutput"
        return "continuous"
    if y.ndim == 2 and y.shape[1] > 1 and y.dtype == object:
        numbers = _object_columns(y)
        if numbers is None:
            return "multiclass-multioutput"
        y = numbers
    y = _readable(y)
    try:
        kind = type_of_target(y, input_name="y")
    except (ValueError, TypeError) as exc:  # np.unique raises TypeError on mixes
        raise ValueError(
            f"Cannot read the target as class labels: {exc}. Give one label "
            "type per column (all strings or all numbers)."
        ) from exc
    if kind == "unknown" and y.dtype == object:
        if len({type(v) for v in np.ravel(y)}) > 1:
            raise _mixed_types_error(y, "it")
    if kind in ("continuous", "continuous-multioutput"):
        raise ValueError(
            f"Unknown label type: {kind!r}. AutoHeadClassifier needs class "
            "labels, but y holds non-integer numbers; for a numeric target use "
            "AutoHeadRegressor (or encode the classes as integers or strings)."
        )
    if kind == "multilabel-indicator":
        return "one-hot" if _is_one_hot(y) else kind
    if kind not in _CLASSIFIER_TYPES:
        raise ValueError(
            f"Unknown label type: {kind!r}. skout supports the target types "
            f"{', '.join(_CLASSIFIER_TYPES)} for classifiers and "
            f"{', '.join(_REGRESSOR_TYPES)} for regressors."
        )
    return kind


#: What ``target_type=`` accepts (besides ``"auto"``): the classifier's kinds.
CLASSIFIER_TARGET_TYPES: tuple[str, ...] = _CLASSIFIER_TYPES

# Which kinds a declared kind accepts y as (the kind read from y alone first).
_DECLARABLE = {
    "binary": ("binary",),
    "multiclass": ("binary", "multiclass"),
    "one-hot": ("one-hot",),
    "multilabel-indicator": ("one-hot", "multilabel-indicator"),
    "multiclass-multioutput": ("one-hot", "multilabel-indicator", "multiclass-multioutput"),
}


def _declared_kind(y, found, declared):
    """``declared``, if ``y`` can be read as it; else a ValueError that says why."""
    if declared not in _DECLARABLE:
        raise ValueError(
            f"target_type must be 'auto' or one of {', '.join(map(repr, _DECLARABLE))}; "
            f"got {declared!r}."
        )
    columns = 1 if y.ndim == 1 else y.shape[1]
    if declared == "multiclass-multioutput" and columns < 2:
        raise ValueError(
            "target_type='multiclass-multioutput' needs a 2-D y with a column per "
            "output; y has one column. Use target_type='multiclass' (or 'binary')."
        )
    if found in _DECLARABLE[declared]:
        return declared
    if declared == "one-hot" and found == "multilabel-indicator":
        sums = np.asarray(y).astype(np.float64).sum(axis=1)
        rows = np.flatnonzero(sums != 1)[:5]
        counts = sorted(set(sums[rows].astype(int).tolist()))
        detail = f"its rows {rows.tolist()} hold {counts} ones, where a one-hot row holds one"
    elif declared == "binary" and found == "multiclass":
        detail = f"it has {_n_unique(y)} classes"
    else:
        detail = f"it reads as a {found} target"
    raise ValueError(
        f"target_type={declared!r} was declared, but y cannot be read so: {detail}. "
        "Fix y, or declare the kind the whole target has (target_type='auto' reads "
        "it from each y)."
    )


def choose_head(y, *, estimator="classifier", binary_head="sigmoid", target_type="auto"):
    """Choose the output head that fits target ``y``.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The target, as it would be passed to ``fit``.
    estimator : {"classifier", "regressor"}, default="classifier"
        Who asks. A regressor treats every numeric target as continuous and
        uses the table only for its shape: integer-valued floats such as
        ``load_diabetes().target`` are regression targets there.
    binary_head : {"sigmoid", "softmax"}, default="sigmoid"
        For two classes: one sigmoid unit with binary cross-entropy, or two
        softmax units with sparse categorical cross-entropy.
    target_type : str, default="auto"
        ``"auto"`` reads the kind of target from ``y`` alone. A kind of
        :data:`CLASSIFIER_TARGET_TYPES` declares it: ``y`` must be readable
        as that kind, and a ``y`` that is also readable as another (a 0/1
        matrix that happens to hold one 1 per row, a multiclass-multioutput
        target whose columns happen to hold only 0 and 1, two classes of a
        multiclass target) gets the declared head. ``"multiclass"`` gives a
        softmax head even over two classes.

    Returns
    -------
    head : Head
        The row of :data:`HEAD_TABLE` for ``y``, with its units filled in.

    Raises
    ------
    ValueError
        If ``y`` is not a target this estimator can learn: one class only,
        a continuous target given to a classifier, mixed label types, ...

    Examples
    --------
    >>> import numpy as np
    >>> choose_head(np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]]))
    Head(target_type='one-hot', units=3, activation='softmax', loss='categorical_crossentropy', decoding='one-hot')
    >>> choose_head(np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0]])).activation
    'sigmoid'
    """  # noqa: E501
    if estimator not in ("classifier", "regressor"):
        raise ValueError(f"estimator must be 'classifier' or 'regressor', got {estimator!r}.")
    if binary_head not in ("sigmoid", "softmax"):
        raise ValueError(f"binary_head must be 'sigmoid' or 'softmax', got {binary_head!r}.")
    y_arr = np.asarray(y)
    kind = _target_kind(y_arr, estimator)
    if target_type != "auto":
        if estimator != "classifier":
            raise ValueError("target_type is declared for classifiers only.")
        kind = _declared_kind(y_arr, kind, target_type)
    if kind == "continuous":
        out = OutputHead(1, "linear", "mean_squared_error")
        return Head(kind, (out,), "identity", suggestion=suggest_loss(y_arr))
    if kind == "continuous-multioutput":
        out = OutputHead(y_arr.shape[1], "linear", "mean_squared_error")
        return Head(kind, (out,), "identity", suggestion=suggest_loss(y_arr))
    if kind in ("binary", "multiclass"):
        n_classes = _n_unique(y_arr.reshape(len(y_arr), -1)[:, 0] if y_arr.ndim == 2 else y_arr)
        _check_n_classes(n_classes, "y")
        # A declared multiclass target keeps its softmax head over two classes.
        out = _label_output(n_classes, "softmax" if kind == "multiclass" else binary_head)
        return Head(kind, (out,), output_decoding(kind, out))
    if kind == "one-hot":
        out = OutputHead(y_arr.shape[1], "softmax", "categorical_crossentropy")
        return Head(kind, (out,), "one-hot")
    if kind == "multilabel-indicator":
        out = OutputHead(y_arr.shape[1], "sigmoid", "binary_crossentropy")
        return Head(kind, (out,), "threshold")
    outputs = []
    for j in range(y_arr.shape[1]):
        n_classes = _n_unique(y_arr[:, j])
        _check_n_classes(n_classes, f"column {j} of y")
        outputs.append(_label_output(n_classes, binary_head))
    return Head(kind, tuple(outputs), "argmax per output")


def _check_n_classes(n_classes, where):
    if n_classes < 2:
        raise ValueError(
            f"{where} has only one class: a classifier needs at least two "
            "classes to learn to tell them apart."
        )


def resolve_loss(loss):
    """Keras's canonical name for ``loss``, or a ValueError listing the names.

    Examples
    --------
    >>> resolve_loss("mse")
    'mean_squared_error'
    """
    try:
        return _LOSS_ALIASES[loss]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown loss {loss!r}. Use 'auto' or one of: {', '.join(LOSS_NAMES)}."
        ) from None


def _suggest(head_out, target_type):
    if head_out.activation == "sigmoid" and head_out.units == 1:
        return (
            "use loss='binary_crossentropy' (or 'auto'), or binary_head='softmax' "
            "for a two-unit softmax head"
        )
    if head_out.activation == "sigmoid":
        return "use loss='binary_crossentropy' (or 'auto'): each label is its own yes/no"
    if head_out.activation == "softmax":
        return (
            "use loss='sparse_categorical_crossentropy' or 'categorical_crossentropy' (or 'auto')"
        )
    return f"use one of {', '.join(_REGRESSION_LOSSES)} (or 'auto')"


def quantile_levels(quantile):
    """The quantile level(s) of ``quantile=``, as a sorted tuple, or a ValueError.

    Examples
    --------
    >>> quantile_levels(0.9), quantile_levels([0.95, 0.05, 0.5])
    ((0.9,), (0.05, 0.5, 0.95))
    """
    values = np.ravel(np.asarray(quantile, dtype=object)).tolist() if quantile is not None else []
    if not values or not all(
        isinstance(q, (int, float, np.number)) and not isinstance(q, bool) and 0 < q < 1
        for q in values
    ):
        raise ValueError(
            f"quantile must be a level strictly between 0 and 1, or a list of such levels "
            f"(e.g. quantile=0.9, or quantile=[0.05, 0.5, 0.95]); got {quantile!r}."
        )
    levels = tuple(sorted(float(q) for q in values))
    if len(set(levels)) != len(levels):
        raise ValueError(f"quantile lists a level twice: {list(levels)}; give each once.")
    return levels


def _regression_output(out, name, quantile, power):
    """The output layer of a regression head trained with loss ``name``."""
    rule = _LOSS_BY_ANY_NAME[name]
    if rule.activation == "exp":
        if name != "tweedie":
            return OutputHead(out.units, "exp", name)
        if (
            isinstance(power, bool)
            or not isinstance(power, (int, float, np.number))
            or not (1 <= power <= 2)
        ):
            raise ValueError(
                f"power must be a number in [1, 2] for loss='tweedie' (1 is Poisson, 2 is "
                f"gamma, in between compound Poisson-gamma); got {power!r}."
            )
        return OutputHead(out.units, "exp", name, (float(power),))
    if name != "quantile":
        return OutputHead(out.units, "linear", name)
    levels = quantile_levels(quantile)
    if len(levels) == 1:
        return OutputHead(out.units, "linear", name, levels)
    if out.units > 1:
        raise ValueError(
            f"A list of quantiles ({list(levels)}) needs a 1-D target; y has {out.units} "
            "columns. Fit one estimator per column, or give quantile a single level."
        )
    return OutputHead(len(levels), "increasing", name, levels)


def check_loss(head, loss, *, quantile=None, power=1.5):
    """Fit ``loss`` to ``head``, or refuse a pairing that cannot learn.

    Parameters
    ----------
    head : Head
        The head chosen by :func:`choose_head`.
    loss : str
        ``"auto"`` for the table's loss, or a loss name (see
        :data:`LOSS_NAMES`).
    quantile : float or list of float, default=None
        For ``loss="quantile"``: the level, or levels (one output unit each,
        which never cross), in (0, 1).
    power : float, default=1.5
        For ``loss="tweedie"``: the power, in [1, 2].

    Returns
    -------
    head : Head
        ``head`` with the loss applied to each output. A softmax head trains
        on class indices with ``sparse_categorical_crossentropy`` and on
        one-hot rows with ``categorical_crossentropy``: either is accepted and
        the target is encoded to match.

    Raises
    ------
    ValueError
        If the loss cannot train this head, with what to use instead.

    Examples
    --------
    >>> import numpy as np
    >>> head = choose_head(np.array(["a", "b", "c"]))
    >>> check_loss(head, "categorical_crossentropy").loss
    'categorical_crossentropy'
    >>> check_loss(head, "binary_crossentropy")
    Traceback (most recent call last):
    ...
    ValueError: loss='binary_crossentropy' cannot train a softmax head over 3 classes (target type 'multiclass'): use loss='sparse_categorical_crossentropy' or 'categorical_crossentropy' (or 'auto').
    """  # noqa: E501
    if loss == "auto":
        return head
    name = resolve_loss(loss)
    outputs = []
    for out in head.outputs:
        if out.activation == "linear" and name in _REGRESSION_LOSSES:
            outputs.append(_regression_output(out, name, quantile, power))
            continue
        allowed = {
            "sigmoid": _SIGMOID_LOSSES,
            "softmax": _SOFTMAX_LOSSES,
            "linear": _REGRESSION_LOSSES,
        }[out.activation]
        if name not in allowed:
            what = (
                f"a linear head with {out.units} output(s)"
                if out.activation == "linear"
                else f"a {out.activation} head over {max(out.units, 2)} classes"
                if head.target_type != "multilabel-indicator"
                else f"a sigmoid head over {out.units} independent labels"
            )
            raise ValueError(
                f"loss={loss!r} cannot train {what} (target type "
                f"{head.target_type!r}): {_suggest(out, head.target_type)}."
            )
        outputs.append(OutputHead(out.units, out.activation, name))
    return Head(head.target_type, tuple(outputs), head.decoding)
