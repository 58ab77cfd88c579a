"""ONNX nodes for skout's networks: layers, output functions, decodings.

Two tables say everything a head needs in the graph:

- :data:`ACTIVATIONS`: a Keras activation name -> the ONNX node(s) that apply
  it. The hidden layers and each head's *output function* (its
  ``OutputHead.activation``) are looked up here.
- :data:`DECODERS`: a :attr:`skout.heads.Head.decoding` -> the nodes that
  turn the heads' outputs into ``predict``'s values (labels, one-hot rows,
  the regression target) and ``predict_proba``'s probabilities.

A new head adds a line to the first table if its output layer has a new
activation, and a function to the second if it decodes in a new way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto
from onnx.helper import np_dtype_to_tensor_dtype

from ..heads import output_decoding

ML_DOMAIN = "ai.onnx.ml"
# skout's decision rule: class 1 (or label on) where the probability is
# strictly above one half, as MLPClassifier's binary threshold.
THRESHOLD = 0.5


def proto_of(dtype):
    """The ONNX element type of a NumPy dtype."""
    return np_dtype_to_tensor_dtype(np.dtype(dtype))


class GraphWriter:
    """Writes nodes and constants into skl2onnx's container.

    Parameters
    ----------
    scope, container
        skl2onnx's scope (for unique names) and container (for the nodes).
    dtype : {numpy.float32, numpy.float64}
        The type the network computes in.
    """

    def __init__(self, scope, container, dtype):
        self.scope = scope
        self.container = container
        self.dtype = np.dtype(dtype)
        self.proto = proto_of(self.dtype)

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def constant(self, value, hint="const", dtype=None):
        """An initializer holding ``value``; floats in the compute dtype unless told."""
        array = np.asarray(value)
        if dtype is None and array.dtype.kind == "f":
            dtype = self.dtype
        array = array if dtype is None else array.astype(dtype)
        name = self.name(hint)
        if array.dtype.kind in "OUS":
            content = [str(v).encode("utf-8") for v in array.ravel()]
            self.container.add_initializer(name, TensorProto.STRING, list(array.shape), content)
        else:
            proto = np_dtype_to_tensor_dtype(array.dtype)
            self.container.add_initializer(name, proto, list(array.shape), array.ravel())
        return name

    def node(self, op_type, inputs, hint=None, *, output=None, domain="", **attrs):
        """Add one node; return the name of its (single) output."""
        output = output or self.name(hint or op_type.lower())
        self.container.add_node(
            op_type, list(inputs), [output], op_domain=domain,
            name=self.scope.get_unique_operator_name(op_type), **attrs,
        )  # fmt: skip
        return output

    # -- small compositions ----------------------------------------------------
    def cast(self, x, to, output=None):
        return self.node("Cast", [x], "cast", output=output, to=int(to))

    def reshape(self, x, shape, output=None):
        shape = self.constant(np.asarray(shape, dtype=np.int64), "shape")
        return self.node("Reshape", [x, shape], "reshaped", output=output)

    def dense(self, x, layer):
        """``x @ kernel + bias``."""
        kernel = self.constant(layer.kernel, "kernel")
        bias = self.constant(layer.bias, "bias")
        return self.node("Add", [self.node("MatMul", [x, kernel], "matmul"), bias], "dense")

    def identity(self, x, output):
        return self.node("Identity", [x], output=output)


def _increasing(g, z):
    """skout's "increasing" output (a list of quantiles that never cross): the
    first logit, then each next one above it by softplus of its logit."""

    def columns(start, end):
        bounds = [g.constant(np.asarray([v], dtype=np.int64), "bound") for v in (start, end, 1)]
        return g.node("Slice", [z, *bounds], "columns")

    first = columns(0, 1)
    rest = columns(1, np.iinfo(np.int64).max)
    # softplus(x) = max(x, 0) + log(1 + exp(-|x|)): written out, since
    # onnxruntime's Softplus has no double kernel (and this never overflows).
    negative_abs = g.node("Neg", [g.node("Abs", [rest])])
    log1p_exp = g.node("Log", [g.node("Add", [g.node("Exp", [negative_abs]),
                                              g.constant(np.ones(1), "one")])])  # fmt: skip
    steps = g.node("Add", [g.node("Relu", [rest]), log1p_exp], "steps")
    above = g.node("CumSum", [steps, g.constant(np.asarray(1, dtype=np.int64), "axis")], "cumsum")
    return g.node("Concat", [first, g.node("Add", [first, above], "above")], "increasing", axis=1)


#: Keras activation -> ONNX node(s). Hidden layers and output functions alike
#: (skout._engine.objective.OUTPUT_FUNCTIONS has the same names).
ACTIVATIONS = {
    "linear": lambda g, z: z,
    "relu": lambda g, z: g.node("Relu", [z]),
    "tanh": lambda g, z: g.node("Tanh", [z]),
    "sigmoid": lambda g, z: g.node("Sigmoid", [z]),
    # axis=1 is the class axis in every opset (opset 13 changed the default).
    "softmax": lambda g, z: g.node("Softmax", [z], axis=1),
    "exp": lambda g, z: g.node("Exp", [z]),  # a log link: the output is the mean
    "increasing": _increasing,
}


def apply_activation(g, z, activation):
    try:
        function = ACTIVATIONS[activation]
    except KeyError:
        raise NotImplementedError(
            f"skout.onnx cannot export the activation {activation!r} yet; it knows "
            f"{', '.join(ACTIVATIONS)}."
        ) from None
    return function(g, z)


# -- what the outputs decode to -------------------------------------------------
@dataclass(frozen=True)
class Target:
    """What the graph's label (or value) output holds.

    Attributes
    ----------
    classes : tuple of ndarray or None
        Per output head, the labels the graph emits (int64 or str arrays,
        ``arange(n_classes)`` with ``nocl`` or for indicator targets); None
        for regression.
    indicator_dtype : numpy.dtype or None
        For one-hot and multilabel targets, the dtype of ``predict``'s rows.
    mean, scale : ndarray or None
        The regression target's standardisation, undone in the graph.
    """

    classes: tuple | None = None
    indicator_dtype: np.dtype | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None


@dataclass(frozen=True)
class Decoded:
    """Names of the decoded tensors: ``predict``'s and ``predict_proba``'s."""

    prediction: str
    probabilities: tuple[str, ...] = ()


def _binary_proba(g, p):
    """``[1 - p, p]`` from one sigmoid unit, as ``predict_proba`` gives it."""
    one = g.constant(1.0, "one")
    return g.node("Concat", [g.node("Sub", [one, p], "negative"), p], "proba", axis=1)


def _above_threshold(g, p):
    return g.node("Greater", [p, g.constant(THRESHOLD, "threshold")], "above")


def _argmax(g, p):
    """Index of the most probable class, shape (n, 1): the first on ties, as NumPy."""
    return g.node("ArgMax", [p], "argmax", axis=1, keepdims=1)


def _lookup(g, index, classes, shape):
    """Labels ``classes[index]`` in ``shape``, as skl2onnx's classifiers find them."""
    table = g.constant(classes, "classes", dtype=classes.dtype)
    labels = g.node("ArrayFeatureExtractor", [table, index], "labels", domain=ML_DOMAIN)
    return g.reshape(labels, shape)


def _binary_column(g, p):
    """One sigmoid unit: class index (n, 1) from the threshold, and ``[1 - p, p]``."""
    return g.cast(_above_threshold(g, p), TensorProto.INT64), _binary_proba(g, p)


def _argmax_column(g, p):
    """Softmax units: the most probable class, and the probabilities as they are."""
    return _argmax(g, p), p


#: How one label output decodes (``skout.heads.output_decoding``).
_COLUMN_DECODERS = {"binary threshold": _binary_column, "argmax": _argmax_column}


def _decode_labels(g, outputs, head, target):
    """binary, multiclass: ``classes_[index]``, shape (n,)."""
    index, proba = _COLUMN_DECODERS[head.decoding](g, outputs[0])
    return Decoded(_lookup(g, index, target.classes[0], [-1]), (proba,))


def _decode_one_hot(g, outputs, head, target):
    """One-hot rows of the most probable class, in the dtype of ``y``."""
    p = outputs[0]
    columns = g.constant(np.arange(head.outputs[0].units, dtype=np.int64), "columns")
    rows = g.node("Equal", [_argmax(g, p), columns], "one_hot")
    return Decoded(g.cast(rows, np_dtype_to_tensor_dtype(target.indicator_dtype)), (p,))


def _decode_threshold(g, outputs, head, target):
    """Multilabel: each label on where its probability is above one half."""
    p = outputs[0]
    on = _above_threshold(g, p)
    return Decoded(g.cast(on, np_dtype_to_tensor_dtype(target.indicator_dtype)), (p,))


def _decode_per_output(g, outputs, head, target):
    """multiclass-multioutput: each column decoded on its own, then side by side."""
    columns, probabilities = [], []
    for p, out, classes in zip(outputs, head.outputs, target.classes):
        index, proba = _COLUMN_DECODERS[output_decoding(head.target_type, out)](g, p)
        columns.append(_lookup(g, index, classes, [-1, 1]))
        probabilities.append(proba)
    return Decoded(g.node("Concat", columns, "labels", axis=1), tuple(probabilities))


def _decode_identity(g, outputs, head, target):
    """Regression: the standardised target back in the user's units."""
    y = outputs[0]
    if not np.all(target.scale == 1.0):
        y = g.node("Mul", [y, g.constant(target.scale, "scale")], "scaled")
    if not np.all(target.mean == 0.0):
        y = g.node("Add", [y, g.constant(target.mean, "mean")], "shifted")
    return Decoded(y)


#: ``Head.decoding`` -> the nodes from the heads' outputs to the predictions.
DECODERS = {
    "binary threshold": _decode_labels,
    "argmax": _decode_labels,
    "one-hot": _decode_one_hot,
    "threshold": _decode_threshold,
    "argmax per output": _decode_per_output,
    "identity": _decode_identity,
}


def decode(g, head, outputs, target):
    """The predictions and probabilities of ``head`` from its ``outputs``."""
    try:
        decoder = DECODERS[head.decoding]
    except KeyError:
        raise NotImplementedError(
            f"skout.onnx cannot export the decoding {head.decoding!r} yet; it knows "
            f"{', '.join(DECODERS)}."
        ) from None
    return decoder(g, outputs, head, target)
