"""Targets to training arrays, and network outputs back to the user's format.

A :class:`TargetEncoder` is fitted on ``y`` together with the :class:`Head`
chosen for it. ``transform`` gives one float32 matrix whose column blocks feed
the network's outputs, in order; ``proba`` and ``predict`` turn the network's
outputs into scikit-learn's shapes and the labels, dtype and layout that
``fit`` was given; each head's decision (argmax, or a probability above 0.5)
is the engine's (:func:`skout._engine.decode`), the one its validation score
makes. Nothing here imports Keras.
"""

from __future__ import annotations

import numpy as np

from ._engine import decode, log_output_values, numpy_ops, weighted_quantile
from .heads import Head, loss_rule

_NUMPY = numpy_ops(np.float64)


def _column_indices(column, classes):
    """Index of each label of ``column`` in ``classes`` (sorted)."""
    idx = np.searchsorted(classes, column)
    idx = np.clip(idx, 0, len(classes) - 1)
    unseen = classes[idx] != column
    if np.any(unseen):
        raise ValueError(
            f"y contains labels the model was not fitted on: "
            f"{np.unique(np.asarray(column)[unseen])[:5].tolist()}; known "
            f"classes are {classes.tolist()}."
        )
    return idx


def _weighted_mean_std(y, sample_weight):
    """Column means and (population) standard deviations of ``y``, weighted.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1.0], [2.0], [4.0]])
    >>> _weighted_mean_std(y, np.array([1.0, 2.0, 0.0]))   # as rows 1, 2, 2
    (array([1.66666667]), array([0.47140452]))
    """
    if sample_weight is None or not np.sum(sample_weight) > 0:
        # (weights that are all 0 are refused, with a clear message, before training)
        return y.mean(axis=0), y.std(axis=0)
    mean = np.average(y, axis=0, weights=sample_weight)
    variance = np.average((y - mean) ** 2, axis=0, weights=sample_weight)
    return mean, np.sqrt(variance)


def _weighted_median_spread(y, sample_weight):
    """Column medians and median absolute deviations from them, weighted.

    The scaling of a median or quantile head: robust to the outliers such a
    loss is chosen for (a few huge values move neither), and a quantile of
    the scaled target is the scaled quantile, so the head learns the same
    thing. Where more than half the rows share one value (a median absolute
    deviation of 0), the mean absolute deviation stands in.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1.0], [2.0], [3.0], [4.0], [1000.0]])
    >>> _weighted_median_spread(y, None)
    (array([3.]), array([1.]))
    """
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    if not weights.sum() > 0:
        weights = np.ones(len(y))
    median = weighted_quantile(y, weights, 0.5)
    deviation = np.abs(y - median)
    spread = weighted_quantile(deviation, weights, 0.5)
    mean_deviation = np.average(deviation, axis=0, weights=weights)
    return median, np.where(spread > 0, spread, mean_deviation)


def _common_dtype(dtypes):
    """One dtype that holds labels of every dtype given (object if none does).

    ``<U2`` and ``<U10`` give ``<U10``: a label of ``classes=`` longer than
    those of the first batch is never cut.
    """
    try:
        return np.result_type(*dtypes)
    except TypeError:  # strings and numbers: NumPy's DTypePromotionError
        return np.dtype(object)


def _sigmoid_to_proba(p):
    p = p[:, 0]
    return np.column_stack([1.0 - p, p])


class TargetEncoder:
    """Encode a target for training and decode predictions back.

    Parameters
    ----------
    head : Head
        The head chosen for the target.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Sorted labels (binary, multiclass), ``arange(K)`` for one-hot and
        multilabel targets, one array per column for multiclass-multioutput;
        ``None`` for regression.
    """

    def __init__(self, head: Head):
        self.head = head

    # -- fitting -----------------------------------------------------------
    def fit(
        self, y, *, classes=None, standardize=True, like=None, sample_weight=None, sparse=False
    ):
        """Learn the labels (or the scaling) of ``y``.

        For ``partial_fit``, ``classes`` gives every label up front (one
        array per column for multiclass-multioutput) and ``like`` a batch of
        the target, for its layout and dtype. The standardisation of a
        regression target is weighted by ``sample_weight``, so that a weight
        of 2 standardises as a repeated row does (and a weight of 0 as a row
        left out). ``sparse``: ``y`` was a SciPy sparse matrix (given here
        dense); indicator predictions are then sparse too, as in
        MLPClassifier.
        """
        self.sparse_ = bool(sparse)
        if classes is not None:
            return self._fit_classes(classes, np.asarray(like))
        y = np.asarray(y)
        self.ndim_ = y.ndim
        self.dtype_ = y.dtype
        self.n_columns_ = 1 if y.ndim == 1 else y.shape[1]
        kind = self.head.target_type
        if kind in ("binary", "multiclass"):
            self.classes_ = np.unique(y.reshape(-1))
        elif kind in ("one-hot", "multilabel-indicator"):
            self.classes_ = np.arange(y.shape[1])
        elif kind == "multiclass-multioutput":
            self.classes_ = [np.unique(y[:, j]) for j in range(y.shape[1])]
        else:
            self.classes_ = None
            y2 = y.reshape(len(y), -1).astype(np.float64)
            how = loss_rule(self.head.outputs[0].loss).standardize if standardize else "none"
            if how != "none":
                # Scale by max |y| first, so huge targets do not overflow.
                peak = np.max(np.abs(y2), axis=0)
                peak = np.where(peak > 0, peak, 1.0)
                centre = _weighted_mean_std if how == "moments" else _weighted_median_spread
                mean, spread = centre(y2 / peak, sample_weight)
                self.mean_ = mean * peak
                spread = spread * peak
                self.scale_ = np.where(spread > 0, spread, 1.0)
                if not (np.all(np.isfinite(self.mean_)) and np.all(np.isfinite(self.scale_))):
                    raise ValueError(
                        "y is too large to standardise in float64; rescale it "
                        "(e.g. divide by a constant) before fitting."
                    )
            else:
                self.mean_ = np.zeros(y2.shape[1])
                self.scale_ = np.ones(y2.shape[1])
        return self

    def _fit_classes(self, classes, like):
        self.ndim_ = like.ndim
        self.n_columns_ = 1 if like.ndim == 1 else like.shape[1]
        if self.head.target_type == "multiclass-multioutput":
            self.classes_ = [np.unique(c) for c in classes]
            self.dtype_ = _common_dtype([like.dtype, *(c.dtype for c in self.classes_)])
        else:
            self.classes_ = np.unique(classes)
            self.dtype_ = self.classes_.dtype
        return self

    # -- encoding ----------------------------------------------------------
    def _check_shape(self, y):
        if self.n_columns_ != (1 if y.ndim == 1 else y.shape[1]):
            raise ValueError(
                f"y has {1 if y.ndim == 1 else y.shape[1]} column(s) but the "
                f"model was fitted on {self.n_columns_}."
            )

    def transform(self, y):
        """Encoded target: float32, shape (n_samples, total target width)."""
        y = np.asarray(y)
        self._check_shape(y)
        kind = self.head.target_type
        if self.classes_ is None:
            y2 = y.reshape(len(y), -1).astype(np.float64)
            return ((y2 - self.mean_) / self.scale_).astype(np.float32)
        if kind in ("one-hot", "multilabel-indicator"):
            y2 = y.astype(np.float32)
            if not np.all((y2 == 0) | (y2 == 1)):
                raise ValueError("y must be a 0/1 indicator matrix, as at fit time.")
            return self._to_loss_format([y2])
        if kind == "multiclass-multioutput":
            blocks = [_column_indices(y[:, j], c)[:, None] for j, c in enumerate(self.classes_)]
            return self._to_loss_format(blocks)
        return self._to_loss_format([_column_indices(y.reshape(-1), self.classes_)[:, None]])

    def _to_loss_format(self, blocks):
        """One block per output: indices, or one-hot rows for dense losses."""
        out = []
        for block, head_out in zip(blocks, self.head.outputs):
            if head_out.target_width > 1 and block.shape[1] == 1:
                block = np.eye(head_out.units, dtype=np.float32)[block[:, 0]]
            elif head_out.target_width == 1 and block.shape[1] > 1:
                block = block.argmax(axis=1)[:, None]
            out.append(block.astype(np.float32))
        return np.hstack(out) if len(out) > 1 else out[0]

    # -- decoding ----------------------------------------------------------
    def proba(self, outputs):
        """scikit-learn's ``predict_proba`` from the network's outputs.

        ``outputs`` is a list with one array per output head.
        """
        kind = self.head.target_type
        per_output = []
        # Sigmoid and softmax outputs lie in [0, 1] and softmax rows sum to 1
        # by construction (computed in float64), so no clipping is needed.
        for p, head_out in zip(outputs, self.head.outputs):
            if head_out.activation == "sigmoid" and kind != "multilabel-indicator":
                p = _sigmoid_to_proba(p)
            per_output.append(p)
        return per_output if kind == "multiclass-multioutput" else per_output[0]

    def log_proba(self, logits):
        """scikit-learn's ``predict_log_proba`` from the heads' logits.

        Computed from the logits (the engine's log output functions), so a
        probability that rounds to 0 still has a finite logarithm.
        """
        kind = self.head.target_type
        per_output = []
        for z, head_out in zip(logits, self.head.outputs):
            if head_out.activation == "sigmoid" and kind != "multilabel-indicator":
                z = np.column_stack([-z[:, 0], z[:, 0]])  # log(1 - p), log(p)
            per_output.append(log_output_values(_NUMPY, head_out.activation, z))
        return per_output if kind == "multiclass-multioutput" else per_output[0]

    def decision(self, logits):
        """scikit-learn's ``decision_function`` from the heads' logits.

        A two-class head gives one score per row, shape (n,): its logit (one
        sigmoid unit), or the difference of its two logits (two softmax units),
        positive for ``classes_[1]``; any other head its logits, (n, K). A list,
        one per column, for multiclass-multioutput.
        """
        per_output = []
        for z, head_out in zip(logits, self.head.outputs):
            if head_out.activation == "sigmoid" and head_out.units == 1:
                z = z[:, 0]
            elif (
                head_out.activation == "softmax"
                and head_out.units == 2
                and (self.head.target_type != "one-hot")
            ):
                z = z[:, 1] - z[:, 0]
            per_output.append(z)
        return per_output if self.head.target_type == "multiclass-multioutput" else per_output[0]

    def predict(self, outputs):
        """Predictions in the format ``fit`` was given."""
        kind = self.head.target_type
        if self.classes_ is None:
            with np.errstate(over="ignore", invalid="ignore"):
                values = np.asarray(outputs[0], dtype=np.float64) * self.scale_ + self.mean_
                # The sum is a fast check; it overflows on its own for large values.
                finite = np.isfinite(values.sum()) or np.isfinite(values).all()
            if not finite:
                raise ValueError(
                    "The network produced non-finite predictions for this X (they "
                    "overflow float64): its values are far outside those seen in "
                    "fit. Scale X as at fit time."
                )
            # A 1-D target gives 1-D predictions, but a list of quantile levels
            # gives one column per level.
            return values.ravel() if self.ndim_ == 1 and values.shape[1] == 1 else values
        # Each head decides as the engine's validation score decides (a tie at
        # exactly 0.5 is the negative label for every sigmoid head, as in
        # MLPClassifier); here its decision becomes the user's labels.
        decided = [decode(_NUMPY, out, p) for out, p in zip(self.head.outputs, outputs)]
        if kind in ("multilabel-indicator", "one-hot"):
            if kind == "multilabel-indicator":
                indicator = decided[0].astype(self.dtype_)
            else:
                indicator = np.eye(len(self.classes_), dtype=self.dtype_)[decided[0]]
            if getattr(self, "sparse_", False):
                import scipy.sparse as sp

                return sp.csr_matrix(indicator)
            return indicator
        if kind == "multiclass-multioutput":
            columns = [c[d] for c, d in zip(self.classes_, decided)]
            return np.column_stack(columns).astype(self.dtype_, copy=False)
        labels = self.classes_[decided[0]]
        return labels.reshape(-1, 1) if self.ndim_ == 2 else labels
