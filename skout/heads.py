"""The head table: which output layer, loss and decoding a target needs.

This module is pure Python and NumPy: it never imports Keras or TensorFlow,
so it can be asked what a target needs without building a network.

The table is kept as data in :data:`HEAD_TABLE`; :func:`choose_head` reads a
target with scikit-learn's :func:`~sklearn.utils.multiclass.type_of_target`
and returns the :class:`Head` that fits it, and :func:`check_loss` tells
whether a loss the user names can train that head.

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

from dataclasses import dataclass

import numpy as np
from sklearn.utils.multiclass import type_of_target

__all__ = [
    "HEAD_TABLE",
    "TARGET_TYPES",
    "Head",
    "HeadRule",
    "OutputHead",
    "check_loss",
    "choose_head",
    "resolve_loss",
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
        "0/1 matrix, proba >= 0.5",
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

# Loss families: which output activation each loss can train, and whether it
# reads class indices ("sparse") or rows of probabilities ("dense").
_LOSS_ALIASES = {
    "bce": "binary_crossentropy",
    "binary_crossentropy": "binary_crossentropy",
    "binary_focal_crossentropy": "binary_focal_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "cce": "categorical_crossentropy",
    "categorical_focal_crossentropy": "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "scce": "sparse_categorical_crossentropy",
    "mse": "mean_squared_error",
    "mean_squared_error": "mean_squared_error",
    "squared_error": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mean_absolute_error": "mean_absolute_error",
    "absolute_error": "mean_absolute_error",
    "huber": "huber",
    "log_cosh": "log_cosh",
}
_SIGMOID_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy")
_SOFTMAX_LOSSES = (
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
)
_LINEAR_LOSSES = ("mean_squared_error", "mean_absolute_error", "huber", "log_cosh")
#: Every loss name ``loss=`` accepts, aliases included.
LOSS_NAMES: tuple[str, ...] = tuple(sorted(_LOSS_ALIASES))


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
        """How many columns of the encoded target this output trains on."""
        return 1 if self.sparse_target else self.units

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
        How network outputs become predictions: ``"argmax"`` (labels from
        the most probable class), ``"one-hot"`` (one-hot rows of the argmax),
        ``"threshold"`` (a 0/1 matrix, probability >= 0.5), ``"argmax per
        output"`` or ``"identity"`` (regression).

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
        decode = {
            "argmax": "labels = classes[np.argmax(model.predict(X), axis=1)]",
            "one-hot": "onehot = np.eye(K)[np.argmax(model.predict(X), axis=1)]",
            "threshold": "indicator = (model.predict(X) >= 0.5).astype(int)",
            "argmax per output": (
                "labels = [classes[j][np.argmax(p, axis=1)] "
                "for j, p in enumerate(model.predict(X))]"
            ),
            "identity": "values = model.predict(X)",
        }[self.decoding]
        if self.decoding == "argmax" and self.outputs[0].units == 1:
            decode = "labels = classes[(model.predict(X)[:, 0] >= 0.5).astype(int)]"
        return f"{layers}\nmodel.compile(loss={self.loss!r}, ...)\n{decode}"

    def __repr__(self):
        return (
            f"Head(target_type={self.target_type!r}, units={self.units!r}, "
            f"activation={self.activation!r}, loss={self.loss!r}, "
            f"decoding={self.decoding!r})"
        )


def _label_output(n_classes, binary_head):
    if n_classes == 2 and binary_head == "sigmoid":
        return OutputHead(1, "sigmoid", "binary_crossentropy")
    return OutputHead(n_classes, "softmax", "sparse_categorical_crossentropy")


def _is_one_hot(y):
    y = np.asarray(y)
    return y.shape[1] >= 2 and bool(np.all(y.astype(np.float64).sum(axis=1) == 1))


def _n_unique(column):
    return len(np.unique(column))


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
    try:
        kind = type_of_target(y, input_name="y")
    except (ValueError, TypeError) as exc:  # np.unique raises TypeError on mixes
        raise ValueError(
            f"Cannot read the target as class labels: {exc}. Give one label "
            "type per column (all strings or all numbers)."
        ) from exc
    if kind == "unknown" and y.dtype == object:
        if len({type(v) for v in np.ravel(y)}) > 1:
            raise ValueError(
                "Cannot read the target as class labels: it mixes label types "
                f"({sorted({type(v).__name__ for v in np.ravel(y)})}). Give one "
                "label type per column (all strings or all numbers)."
            )
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


def choose_head(y, *, estimator="classifier", binary_head="sigmoid"):
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
    if kind == "continuous":
        return Head(kind, (OutputHead(1, "linear", "mean_squared_error"),), "identity")
    if kind == "continuous-multioutput":
        out = OutputHead(y_arr.shape[1], "linear", "mean_squared_error")
        return Head(kind, (out,), "identity")
    if kind in ("binary", "multiclass"):
        n_classes = _n_unique(y_arr.reshape(len(y_arr), -1)[:, 0] if y_arr.ndim == 2 else y_arr)
        _check_n_classes(n_classes, "y")
        return Head(kind, (_label_output(n_classes, binary_head),), "argmax")
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
    return f"use one of {', '.join(_LINEAR_LOSSES)} (or 'auto')"


def check_loss(head, loss):
    """Fit ``loss`` to ``head``, or refuse a pairing that cannot learn.

    Parameters
    ----------
    head : Head
        The head chosen by :func:`choose_head`.
    loss : str
        ``"auto"`` for the table's loss, or a loss name (see
        :data:`LOSS_NAMES`).

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
        allowed = {
            "sigmoid": _SIGMOID_LOSSES,
            "softmax": _SOFTMAX_LOSSES,
            "linear": _LINEAR_LOSSES,
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
