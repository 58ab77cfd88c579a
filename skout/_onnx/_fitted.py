"""What an export reads from a fitted estimator, in one place.

:func:`fitted_view` is the only function of :mod:`skout.onnx` that touches
skout's fitted state (``estimator._state()``): if that state changes, this is
the function to adapt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..heads import Head


@dataclass(frozen=True)
class DenseLayer:
    """One ``Dense`` layer: ``activation(x @ kernel + bias)``."""

    kernel: np.ndarray
    bias: np.ndarray
    activation: str


@dataclass(frozen=True)
class FittedView:
    """A fitted estimator, as the exporter sees it.

    Attributes
    ----------
    head : Head
        The head: target type, output layers, decoding.
    encoder : TargetEncoder
        Labels (``classes_``, ``dtype_``, ``ndim_``) or the target's scaling
        (``mean_``, ``scale_``).
    hidden : tuple of DenseLayer
        The built-in dense body's hidden layers (empty with a custom body).
    outputs : tuple of DenseLayer
        One per output head, activation included.
    body : callable or None
        For a custom body, ``body() -> keras.Model`` mapping ``X`` to the
        features the output layers read; None for the built-in dense body.
    input_shape : tuple of int
        Shape of one sample.
    columns : Columns or None
        How ``X``'s columns become the network's input when some are
        categorical; None for a plain numeric table.
    """

    head: Head
    encoder: object
    hidden: tuple[DenseLayer, ...]
    outputs: tuple[DenseLayer, ...]
    body: Callable | None
    input_shape: tuple[int, ...]
    columns: Columns | None = None


@dataclass(frozen=True)
class Columns:
    """The categorical side of ``X``: which columns, their categories, their tables.

    Attributes
    ----------
    n_columns : int
        Columns of ``X``.
    order : tuple of int
        ``X``'s columns in the order the network reads them (for the dense
        network: numeric columns, then the categorical ones).
    categories : dict
        ``{column index: categories}``: code ``c`` of the column is
        ``categories[c]``, ``len(categories)`` a category not seen in fit,
        ``len(categories) + 1`` a missing value.
    tables : tuple of ndarray
        The dense network's embedding table of each categorical column, in
        ``order``; empty for a custom body (it reads the codes).
    """

    n_columns: int
    order: tuple[int, ...]
    categories: dict = field(default_factory=dict)
    tables: tuple = ()


def fitted_view(estimator):
    """The :class:`FittedView` of a fitted skout estimator.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    """
    state = estimator._state()  # raises NotFittedError when unfitted
    spec, head = state.spec, state.head
    columns = _columns(state)
    if spec.predicts_in_numpy:
        # The dense body: weights in skout's order, hidden layers, heads, tables.
        weights = [np.asarray(w) for w in state.current_weights()]
        if columns is not None:
            tables = tuple(weights[spec.n_layer_weights :])
            columns = Columns(columns.n_columns, columns.order, columns.categories, tables)
            weights = weights[: spec.n_layer_weights]
        n_hidden = len(spec.hidden_layer_sizes)
        kernels, biases = weights[0::2], weights[1::2]
        layers = [DenseLayer(kernels[i], biases[i], spec.activation) for i in range(n_hidden)]
        outputs = [
            DenseLayer(kernels[n_hidden + j], biases[n_hidden + j], out.activation)
            for j, out in enumerate(head.outputs)
        ]
        return FittedView(head, state.encoder, tuple(layers), tuple(outputs), None,
                          tuple(spec.input_shape), columns)  # fmt: skip
    model = state.keras_model_to_read()
    outputs = []
    for j, out in enumerate(head.outputs):
        kernel, bias = model.get_layer(f"output_{j}").get_weights()
        outputs.append(DenseLayer(np.asarray(kernel), np.asarray(bias), out.activation))

    def body():
        keras = _keras()
        features = keras.Model(model.input, model.get_layer("output_0").input, name="skout_body")
        # Keras exports only a model that has been called (it reads the
        # input signature from that call).
        features(np.zeros((1, *spec.input_shape), dtype=np.float32))
        return features

    return FittedView(
        head, state.encoder, (), tuple(outputs), body, tuple(spec.input_shape), columns
    )


def _columns(state):
    """The :class:`Columns` of a fit on a table with categorical columns."""
    features = state.features
    if features is None:
        return None
    if features.kind != "table":
        raise NotImplementedError(
            "skout.onnx cannot export a network with several named inputs yet (fitted on "
            "skout.Inputs or with inputs=); a network that reads one table, categorical "
            "columns included, exports."
        )
    categories = {c.index: np.asarray(c.categories) for c in features.categorical}
    return Columns(features.n_columns, tuple(features.order), categories)


def _keras():
    import keras

    return keras
