"""What an export reads from a fitted estimator, in one place.

:func:`fitted_view` is the only function of :mod:`skout.onnx` that touches
skout's fitted state (``estimator._state()``): if that state changes, this is
the function to adapt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    """

    head: Head
    encoder: object
    hidden: tuple[DenseLayer, ...]
    outputs: tuple[DenseLayer, ...]
    body: Callable | None
    input_shape: tuple[int, ...]


def fitted_view(estimator):
    """The :class:`FittedView` of a fitted skout estimator.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    """
    state = estimator._state()  # raises NotFittedError when unfitted
    spec, head = state.spec, state.head
    if spec.predicts_in_numpy:
        # The dense body: weights in skout's order, hidden layers then heads.
        weights = [np.asarray(w) for w in state.current_weights()]
        n_hidden = len(spec.hidden_layer_sizes)
        kernels, biases = weights[0::2], weights[1::2]
        layers = [DenseLayer(kernels[i], biases[i], spec.activation) for i in range(n_hidden)]
        outputs = [
            DenseLayer(kernels[n_hidden + j], biases[n_hidden + j], out.activation)
            for j, out in enumerate(head.outputs)
        ]
        return FittedView(head, state.encoder, tuple(layers), tuple(outputs), None,
                          tuple(spec.input_shape))  # fmt: skip
    model = state.build_keras_model()
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

    return FittedView(head, state.encoder, (), tuple(outputs), body, tuple(spec.input_shape))


def _keras():
    import keras

    return keras
