"""The network: its description, its weights, and the Keras model built from them.

A :class:`NetworkSpec` describes a dense network (hidden layers and output
heads) and is hashable, so compiled training functions can be cached per
architecture. Weights live as a list of NumPy arrays ``[kernel, bias, ...]``
in layer order: hidden layers first, then one (kernel, bias) pair per output.

This is the only module that builds Keras layers, and it imports Keras
lazily: :func:`forward` runs a fitted network in NumPy, so predicting and
unpickling never need TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .heads import OutputHead

#: scikit-learn's MLP activation names -> Keras activation names.
KERAS_ACTIVATIONS = {
    "identity": "linear",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
}


def _sigmoid(z):
    # Two-sided form: exp never overflows.
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _softmax(z):
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


_NUMPY_ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0, out=z),
    "tanh": lambda z: np.tanh(z, out=z),
    "sigmoid": _sigmoid,
    "softmax": _softmax,
}


@dataclass(frozen=True)
class NetworkSpec:
    """Architecture of a dense network with one or more output heads.

    Attributes
    ----------
    n_features : int
        Width of the input.
    hidden_layer_sizes : tuple of int
        Units of each hidden ``Dense`` layer.
    activation : str
        Keras activation of the hidden layers.
    outputs : tuple of OutputHead
        The output layers, all fed by the last hidden layer.
    dropout : float
        Rate of the ``Dropout`` layer after each hidden layer (0: none).
    """

    n_features: int
    hidden_layer_sizes: tuple[int, ...]
    activation: str
    outputs: tuple[OutputHead, ...]
    dropout: float = 0.0

    def layer_shapes(self):
        """(fan_in, fan_out) of every Dense layer, hidden then outputs."""
        sizes = (self.n_features, *self.hidden_layer_sizes)
        shapes = list(zip(sizes[:-1], sizes[1:]))
        shapes += [(sizes[-1], out.units) for out in self.outputs]
        return shapes

    def layer_names(self):
        hidden = [f"hidden_{i}" for i in range(len(self.hidden_layer_sizes))]
        return hidden + [f"output_{j}" for j in range(len(self.outputs))]


def init_weights(spec, rng):
    """Initial weights drawn from ``rng``, as scikit-learn's MLP draws them.

    Kernels and biases are uniform in +-sqrt(f / (fan_in + fan_out)), with
    f = 2 for sigmoid hidden layers and 6 otherwise (Glorot). Drawing in NumPy
    keeps ``random_state`` reproducible without touching TensorFlow's global
    seed.
    """
    factor = 2.0 if spec.activation == "sigmoid" else 6.0
    weights = []
    for fan_in, fan_out in spec.layer_shapes():
        limit = np.sqrt(factor / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
        weights.append(rng.uniform(-limit, limit, fan_out).astype(np.float32))
    return weights


def forward(spec, weights, X):
    """Run the network in NumPy (float64); one array per output head.

    Each layer allocates one array: the bias is added and the activation
    applied in place, as scikit-learn's MLP does.
    """
    h = np.asarray(X, dtype=np.float64)
    n_hidden = len(spec.hidden_layer_sizes)
    act = _NUMPY_ACTIVATIONS[spec.activation]

    def dense(h, k):
        z = h @ weights[k]
        z += weights[k + 1]
        return z

    for i in range(n_hidden):
        h = act(dense(h, 2 * i))
    return [
        _NUMPY_ACTIVATIONS[out.activation](dense(h, 2 * (n_hidden + j)))
        for j, out in enumerate(spec.outputs)
    ]


def import_keras():
    """Import Keras (and its backend) on first use, quietly."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def build_model(spec, l2=0.0):
    """A functional Keras model for ``spec``, with fresh (unset) weights.

    ``l2`` adds a Keras kernel regulariser to every layer; the compiled
    trainer adds its penalty itself and leaves it at 0.
    """
    keras = import_keras()

    def dense(units, activation, name):
        regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
        return keras.layers.Dense(
            units, activation=activation, name=name, kernel_regularizer=regularizer
        )

    inputs = keras.Input(shape=(spec.n_features,), name="features")
    h = inputs
    names = spec.layer_names()
    for i, units in enumerate(spec.hidden_layer_sizes):
        h = dense(units, spec.activation, names[i])(h)
        if spec.dropout > 0:
            h = keras.layers.Dropout(spec.dropout, name=f"dropout_{i}")(h)
    n_hidden = len(spec.hidden_layer_sizes)
    outputs = [
        dense(out.units, out.activation, names[n_hidden + j])(h)
        for j, out in enumerate(spec.outputs)
    ]
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name="skout")


def dense_variables(model, spec):
    """The model's variables in skout's weight order."""
    variables = []
    for name in spec.layer_names():
        layer = model.get_layer(name)
        variables += [layer.kernel, layer.bias]
    return variables


def set_weights(model, spec, weights):
    for variable, value in zip(dense_variables(model, spec), weights):
        variable.assign(value)


def get_weights(model, spec):
    return [np.array(v.numpy()) for v in dense_variables(model, spec)]
