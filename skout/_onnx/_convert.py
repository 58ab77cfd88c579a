"""What skl2onnx calls for skout's estimators: parser, shape calculators, converters.

The outputs follow skl2onnx's conventions for classifiers and regressors:

- a classifier has a label output and a probability output, named ``label``
  and ``probabilities``, or ``output_label`` and ``output_probability`` (a
  list of dicts) with the ``zipmap`` option (the default), or one output per
  class with ``zipmap="columns"``; ``nocl=True`` gives class indices instead
  of labels;
- a multiclass-multioutput classifier has ``label`` (n, n_outputs) and
  ``probabilities``, a sequence of one (n, K_j) tensor per column, as
  skl2onnx's ``MultiOutputClassifier`` (``zipmap`` does not apply);
- a regressor has ``variable``, (n, n_outputs): (n, 1) for a 1-D target.

Double inputs compute in double, as skl2onnx's MLP converters do; other
inputs in float. A Keras body computes in float32 whatever the input.

A model fitted on a table with categorical columns takes either one input
per column, as skl2onnx makes them from a DataFrame (``to_onnx(model,
frame[:1])``: a ``category`` or text column is a string input), or one 2-D
numeric input whose categorical columns hold their categories as numbers.
Each categorical column's values become its codes in the graph (a
``LabelEncoder`` from the categories; a value not among them is "unseen", a
NaN in a numeric column "missing", and so is the empty string in a text
column, which holds no NaN), and the dense network reads its rows of each
embedding table with a ``Gather``.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DictionaryType,
    DoubleTensorType,
    FloatTensorType,
    Int8TensorType,
    Int16TensorType,
    Int32TensorType,
    Int64TensorType,
    SequenceType,
    StringTensorType,
    UInt8TensorType,
    UInt16TensorType,
    UInt32TensorType,
    UInt64TensorType,
)

from . import _graph
from ._body import splice_body
from ._fitted import fitted_view

CLASSIFIER_ALIAS = "SkoutAutoHeadClassifier"
REGRESSOR_ALIAS = "SkoutAutoHeadRegressor"
#: The lowest main-domain opset written (SequenceConstruct, for multioutput
#: probabilities, came in opset 11); tested from there to skl2onnx's latest.
MIN_OPSET = 11
#: The options ``to_onnx(..., options=...)`` accepts for a skout classifier.
CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [False, True],
    # decision_function's scores in place of the probabilities (skl2onnx sets it
    # for a CalibratedClassifierCV, which calibrates decision_function).
    "raw_scores": [False, True],
}

_TENSOR_TYPES = {
    np.dtype(np.bool_): BooleanTensorType,
    np.dtype(np.int8): Int8TensorType,
    np.dtype(np.int16): Int16TensorType,
    np.dtype(np.int32): Int32TensorType,
    np.dtype(np.int64): Int64TensorType,
    np.dtype(np.uint8): UInt8TensorType,
    np.dtype(np.uint16): UInt16TensorType,
    np.dtype(np.uint32): UInt32TensorType,
    np.dtype(np.uint64): UInt64TensorType,
    np.dtype(np.float32): FloatTensorType,
    np.dtype(np.float64): DoubleTensorType,
}


# -- types ------------------------------------------------------------------------
def _main_type(inputs):
    """The input type that decides float or double: the first numeric one
    (a categorical column given as text decides nothing)."""
    for variable in inputs:
        if isinstance(variable.type, (FloatTensorType, DoubleTensorType)):
            return variable.type
    return inputs[0].type


def _output_dtype(input_type):
    """The probabilities' and regression values' dtype: double for double input."""
    return np.float64 if isinstance(input_type, DoubleTensorType) else np.float32


def _compute_dtype(view, input_type):
    # A Keras body runs in float32 (skout trains and predicts it so).
    return np.float32 if view.body is not None else _output_dtype(input_type)


def _float_type(input_type):
    return _TENSOR_TYPES[np.dtype(_output_dtype(input_type))]


def _exported_labels(classes):
    """Labels as the graph holds them: int64 for integer, bool and integral
    float labels, str for text (skl2onnx's rule for class labels)."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        if not np.all(classes == np.round(classes)):
            raise ValueError(
                f"Cannot export the class labels {classes.tolist()}: ONNX classifiers "
                "give integer or string labels."
            )
        return classes.astype(np.int64)
    values = classes.tolist()
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str)
    if all(isinstance(v, (int, np.integer)) for v in values):
        return np.asarray(values, dtype=np.int64)
    raise ValueError(
        f"Cannot export the class labels {values[:5]}: ONNX labels are all integers "
        "or all strings."
    )


def target_of(view, nocl=False):
    """The :class:`~skout._onnx._graph.Target` the graph decodes to."""
    encoder, kind = view.encoder, view.head.target_type
    if encoder.classes_ is None:
        return _graph.Target(mean=encoder.mean_, scale=encoder.scale_)
    if kind in ("one-hot", "multilabel-indicator"):
        dtype = np.dtype(encoder.dtype_)
        return _graph.Target(
            classes=(np.arange(len(encoder.classes_), dtype=np.int64),),
            indicator_dtype=dtype if dtype in _TENSOR_TYPES else np.dtype(np.int64),
        )
    per_output = encoder.classes_ if isinstance(encoder.classes_, list) else [encoder.classes_]
    if nocl:
        return _graph.Target(classes=tuple(np.arange(len(c), dtype=np.int64) for c in per_output))
    classes = tuple(_exported_labels(c) for c in per_output)
    if len({c.dtype.kind for c in classes}) > 1:
        raise ValueError("Cannot export labels that are integers in one column, text in another.")
    return _graph.Target(classes=classes)


def _label_type(view, target, n):
    kind = view.head.target_type
    if kind in ("one-hot", "multilabel-indicator"):
        return _TENSOR_TYPES[target.indicator_dtype]([n, view.head.outputs[0].units])
    label = StringTensorType if target.classes[0].dtype.kind == "U" else Int64TensorType
    if kind == "multiclass-multioutput":
        return label([n, len(view.head.outputs)])
    return label([n])


def _key_type(target):
    return StringTensorType([]) if target.classes[0].dtype.kind == "U" else Int64TensorType([])


def _n_probabilities(view):
    out = view.head.outputs[0]
    return 2 if out.units == 1 and view.head.target_type != "multilabel-indicator" else out.units


def _column_names(target):
    """Output names with ``zipmap="columns"``: skl2onnx's ``i<label>``/``s<label>``."""
    prefix = "s" if target.classes[0].dtype.kind == "U" else "i"
    return [f"{prefix}{c}" for c in target.classes[0]]


def _options(scope, model):
    return scope.get_options(model, dict(zipmap=True, nocl=False, raw_scores=False))


# -- parser and shape calculators -------------------------------------------------
def parse_classifier(scope, model, inputs, custom_parsers=None):
    """Declare the classifier's outputs, laid out by the ``zipmap`` option."""
    options = _options(scope, model)
    view = fitted_view(model)  # NotFittedError before anything is declared
    target = target_of(view, options["nocl"])
    operator = scope.declare_local_operator(CLASSIFIER_ALIAS, model)
    operator.inputs = inputs
    proba = _float_type(_main_type(inputs))
    zipmap = options["zipmap"]
    if view.head.target_type == "multiclass-multioutput":
        zipmap = False  # one table per column: as MultiOutputClassifier, no ZipMap
    label = _label_type(view, target, None)
    declare = scope.declare_local_variable
    operator.outputs.append(declare("output_label" if zipmap else "label", label))
    if view.head.target_type == "multiclass-multioutput":
        operator.outputs.append(declare("probabilities", SequenceType(proba())))
    elif zipmap == "columns":
        operator.outputs.extend(declare(name, proba()) for name in _column_names(target))
    elif zipmap:
        # ZipMap reads float only: the dicts hold float32 whatever the input.
        dicts = SequenceType(DictionaryType(_key_type(target), FloatTensorType()))
        operator.outputs.append(declare("output_probability", dicts))
    else:
        operator.outputs.append(declare("probabilities", proba()))
    return operator.outputs


def classifier_shapes(operator):
    """Types and shapes of a classifier's outputs (also when another
    converter, such as CalibratedClassifierCV's, declared them)."""
    model = operator.raw_operator
    view = fitted_view(model)
    target = target_of(view, _options(operator.scope_inst, model)["nocl"])
    n = operator.inputs[0].get_first_dimension()
    proba = _float_type(_main_type(operator.inputs))
    operator.outputs[0].set_type(_label_type(view, target, n))
    if len(operator.outputs) > 2:  # zipmap="columns"
        for output in operator.outputs[1:]:
            output.set_type(proba([n]))
    elif not isinstance(operator.outputs[1].type, SequenceType):
        operator.outputs[1].set_type(proba([n, _n_probabilities(view)]))


def regressor_shapes(operator):
    view = fitted_view(operator.raw_operator)
    n = operator.inputs[0].get_first_dimension()
    units = view.head.outputs[0].units
    operator.outputs[0].set_type(_float_type(_main_type(operator.inputs))([n, units]))


# -- converters -------------------------------------------------------------------
def _check_opset(container):
    if container.target_opset < MIN_OPSET:
        raise RuntimeError(
            f"skout's estimators export to ONNX opset {MIN_OPSET} or higher; "
            f"target_opset is {container.target_opset}."
        )


def _network(g, view, operator, logits=False):
    """The heads' outputs (after their output functions, unless ``logits``)."""
    _check_opset(g.container)
    if view.columns is not None:
        numeric, codes = _columns(g, view.columns, operator.inputs)
        if view.body is None:  # the numeric columns, then each table's rows
            h = _embedded(g, view.columns, numeric, codes)
        else:  # a body reads every column in its place, codes as numbers
            h = splice_body(g, view.body, _in_place(g, view.columns, numeric, codes))
    else:
        x = operator.inputs[0].full_name
        if not isinstance(operator.inputs[0].type, _TENSOR_TYPES[g.dtype]):
            x = g.cast(x, g.proto)
        h = x if view.body is None else splice_body(g, view.body, x)
    if view.body is None:
        for layer in view.hidden:
            h = _graph.apply_activation(g, g.dense(h, layer), layer.activation)
    if logits:
        return [g.dense(h, out) for out in view.outputs]
    return [_graph.apply_activation(g, g.dense(h, out), out.activation) for out in view.outputs]


def _raw_scores(g, view, logits):
    """decision_function's scores laid out as probabilities: for two classes
    [-d, d] (column 1 is the decision), else the logits."""
    out, z = view.head.outputs[0], logits[0]
    if out.units == 1:
        d = z
    elif out.units == 2 and view.head.target_type == "binary":
        first, second = (
            g.node("Gather", [z, g.constant(np.asarray([k], dtype=np.int64), "k",
                                            dtype=np.int64)], "col", axis=1)
            for k in (0, 1)
        )  # fmt: skip
        d = g.node("Sub", [second, first], "decision")
    else:
        return z
    return g.node("Concat", [g.node("Neg", [d], "negated"), d], "scores", axis=1)


# -- categorical columns ------------------------------------------------------------
def _columns(g, columns, inputs):
    """``({column: (n, 1) numbers}, {column: (n, 1) int64 codes})`` from the
    graph's inputs: one per column, or one 2-D tensor of every column."""
    if len(inputs) == columns.n_columns:
        parts = {j: (inputs[j].full_name, inputs[j].type) for j in range(columns.n_columns)}
    elif len(inputs) == 1:
        x, kind = inputs[0].full_name, inputs[0].type
        width = kind.shape[1] if len(kind.shape) == 2 else None
        if width not in (None, columns.n_columns) or isinstance(kind, StringTensorType):
            raise ValueError(_INPUTS_HELP.format(n=columns.n_columns, got=f"one {kind}"))
        parts = {
            j: (
                g.node(
                    "Gather",
                    [x, g.constant(np.asarray([j], np.int64), "column")],
                    "column",
                    axis=1,
                ),
                kind,
            )  # fmt: skip
            for j in range(columns.n_columns)
        }
    else:
        raise ValueError(_INPUTS_HELP.format(n=columns.n_columns, got=f"{len(inputs)} inputs"))
    numeric, codes = {}, {}
    for j, (name, kind) in parts.items():
        if j in columns.categories:
            codes[j] = _codes(g, name, kind, columns.categories[j])
        elif isinstance(kind, StringTensorType):
            raise ValueError(
                f"Column {j} is numeric in the model, but its ONNX input is text; give it "
                "a float, double or int64 input."
            )
        else:
            same = isinstance(kind, _TENSOR_TYPES[g.dtype])
            numeric[j] = name if same else g.cast(name, g.proto)
    return numeric, codes


_INPUTS_HELP = (
    "This model reads {n} columns, some categorical: convert it with one input per "
    "column (skl2onnx makes them from a DataFrame: to_onnx(model, X[:1])) or with one "
    "numeric 2-D input of {n} columns; got {got}."
)


def _codes(g, x, kind, categories):
    """A categorical column's codes, (n, 1) int64: a ``LabelEncoder`` from its
    categories, "unseen" for any other value, "missing" for a NaN number.

    Numbers match as skout matches them, exactly: whole-number categories are
    looked up as int64 (a float32 key has gaps above 2**24, where ids would
    share a row), other numbers as float keys, refused where float32 cannot
    tell two of them apart."""
    n = len(categories)
    unseen, missing = n, n + 1  # skout._categorical's rows after the categories
    values = {"values_int64s": list(range(n)), "default_int64": unseen}
    if isinstance(kind, StringTensorType):
        keys = {"keys_strings": [str(c) for c in categories]}
        if "" not in keys["keys_strings"]:  # a string tensor has no NaN: "" is missing
            keys["keys_strings"].append("")
            values["values_int64s"].append(missing)
        return _label_encoder(g, x, keys, values)
    if categories.dtype.kind not in "biuf":
        raise ValueError(
            f"A categorical column with text categories ({categories[:3].tolist()}...) needs a "
            f"string input in the ONNX graph, not {kind}: give it a StringTensorType in "
            "initial_types (skl2onnx guesses a column's type from the rows it is given, "
            "and a missing value there reads as a number)."
        )
    numbers = categories.astype(np.float64)
    whole = bool(np.all(numbers == np.round(numbers))) and np.all(np.abs(numbers) < 2.0**53)
    if isinstance(kind, FloatTensorType) and not _float32_tells_apart(numbers, whole):
        raise ValueError(
            f"The categorical column's categories ({categories[:3].tolist()}...) are not all "
            "distinct as float32 numbers, the type of this ONNX input: in the graph they "
            "would share one embedding row. Give the input a DoubleTensorType (or an "
            "Int64TensorType for integer ids) in initial_types."
        )
    integers = not isinstance(kind, (FloatTensorType, DoubleTensorType))  # or booleans
    if integers and not isinstance(kind, Int64TensorType):
        x = g.cast(x, TensorProto.INT64)
    if whole:
        # A float value reads as its integer, and is unseen if it is not whole.
        as_int = x if integers else g.cast(x, TensorProto.INT64)
        codes = _label_encoder(g, as_int, {"keys_int64s": [int(c) for c in numbers]}, values)
        if not integers:
            same = g.node("Equal", [g.cast(as_int, _input_proto(kind)), x], "whole")
            codes = g.node("Where", [same, codes, _int64(g, unseen, "unseen")], "codes")
    else:  # no integer is a fractional category
        as_float = x if isinstance(kind, FloatTensorType) else g.cast(x, TensorProto.FLOAT)
        codes = _label_encoder(g, as_float, {"keys_floats": [float(c) for c in numbers]}, values)
    if integers:
        return codes  # an integer is never NaN
    nan = g.node("IsNaN", [x], "missing")
    return g.node("Where", [nan, _int64(g, missing, "missing"), codes], "codes")


def _label_encoder(g, x, keys, values):
    # Version 2 of the ML domain's LabelEncoder reads string, int64 and float keys
    # (skl2onnx would pick the latest, which it cannot write yet).
    return g.node("LabelEncoder", [x], "codes", domain=_graph.ML_DOMAIN, op_version=2, **keys,
                  **values)  # fmt: skip


def _float32_tells_apart(numbers, whole):
    """Whether float32 keeps the categories distinct (and whole ones exact)."""
    as_float32 = numbers.astype(np.float32)
    if whole:
        return bool(np.all(as_float32.astype(np.float64) == numbers))
    return len(np.unique(as_float32)) == len(numbers)


def _input_proto(kind):
    return TensorProto.DOUBLE if isinstance(kind, DoubleTensorType) else TensorProto.FLOAT


def _int64(g, value, hint):
    return g.constant(np.asarray(value, np.int64), hint, dtype=np.int64)


def _embedded(g, columns, numeric, codes):
    """The dense network's first input: numeric columns, then each table's rows."""
    parts = [numeric[j] for j in columns.order if j in numeric]
    read = [j for j in columns.order if j in codes]
    for j, table in zip(read, columns.tables, strict=True):
        index = g.reshape(codes[j], [-1])  # (n,): Gather then gives (n, width)
        parts.append(g.node("Gather", [g.constant(table, "embedding"), index], "embedded", axis=0))
    return parts[0] if len(parts) == 1 else g.node("Concat", parts, "embedded_input", axis=1)


def _in_place(g, columns, numeric, codes):
    """Every column in the order the network reads them, codes as numbers."""
    parts = [numeric[j] if j in numeric else g.cast(codes[j], g.proto) for j in columns.order]
    return parts[0] if len(parts) == 1 else g.node("Concat", parts, "columns", axis=1)


def _in_output_dtype(g, name, dtype):
    return name if np.dtype(dtype) == g.dtype else g.cast(name, _graph.proto_of(dtype))


def convert_classifier(scope, operator, container):
    model = operator.raw_operator
    view = fitted_view(model)
    target = target_of(view, _options(scope, model)["nocl"])
    main = _main_type(operator.inputs)
    g = _graph.GraphWriter(scope, container, _compute_dtype(view, main))
    options = _options(scope, model)
    if options["raw_scores"] and view.head.target_type == "multiclass-multioutput":
        raise NotImplementedError(
            "raw_scores (decision_function) is not exported for multiclass-multioutput."
        )
    logits = _network(g, view, operator, logits=True)
    outputs = [
        _graph.apply_activation(g, z, out.activation) for z, out in zip(logits, view.outputs)
    ]
    decoded = _graph.decode(g, view.head, outputs, target)
    dtype = _output_dtype(main)
    raw = [_raw_scores(g, view, logits)] if options["raw_scores"] else decoded.probabilities
    probabilities = [_in_output_dtype(g, p, dtype) for p in raw]
    labels, *rest = operator.outputs
    g.identity(decoded.prediction, labels.full_name)
    if len(rest) > 1:  # zipmap="columns": one (n,) output per class
        for k, output in enumerate(rest):
            column = g.constant(np.int64(k), "column", dtype=np.int64)
            g.node("Gather", [probabilities[0], column], output=output.full_name, axis=1)
    elif not isinstance(rest[0].type, SequenceType):
        g.identity(probabilities[0], rest[0].full_name)
    elif isinstance(rest[0].type.element_type, DictionaryType):
        _zipmap(g, probabilities[0], dtype, target, rest[0].full_name)
    else:
        g.node("SequenceConstruct", probabilities, output=rest[0].full_name)


def _zipmap(g, probabilities, dtype, target, output):
    """One dict per row, {label: probability}, as skl2onnx's ``zipmap`` option."""
    keys = target.classes[0]
    if np.dtype(dtype) != np.float32:  # ZipMap reads float only
        probabilities = g.cast(probabilities, _graph.proto_of(np.float32))
    if keys.dtype.kind == "U":
        labels = {"classlabels_strings": [str(k) for k in keys]}
    else:
        labels = {"classlabels_int64s": [int(k) for k in keys]}
    g.node("ZipMap", [probabilities], output=output, domain=_graph.ML_DOMAIN, **labels)


def convert_regressor(scope, operator, container):
    view = fitted_view(operator.raw_operator)
    main = _main_type(operator.inputs)
    g = _graph.GraphWriter(scope, container, _compute_dtype(view, main))
    decoded = _graph.decode(g, view.head, _network(g, view, operator), target_of(view))
    values = _in_output_dtype(g, decoded.prediction, _output_dtype(main))
    g.identity(values, operator.outputs[0].full_name)
