"""Your own Keras network as the body of an estimator; skout adds the head.

``body=`` takes the network up to, but not including, the output layer:

- a ``keras.Model`` (Sequential or functional): its architecture is reused,
  never its weights -- every fit starts from fresh weights;
- a callable ``build(input_shape) -> keras.Model``;
- a :class:`KerasBody`, which wraps such a callable together with its
  hyperparameters so that ``GridSearchCV`` can tune them as ``body__<name>``.

skout attaches the output layer(s) chosen from the target (flattening a body
whose output has more than one axis), compiles and trains the whole network.

A body with several named ``keras.Input`` layers takes one array per input:
``X`` is then a :class:`skout.Inputs` container, or a DataFrame whose column
groups the estimator's ``inputs={name: columns}`` maps to the inputs. A
build function is then called with a dict ``{name: shape}``.

Examples
--------
>>> import keras  # doctest: +SKIP
>>> def cnn(input_shape, filters=8):
...     return keras.Sequential([
...         keras.Input(input_shape),
...         keras.layers.Conv2D(filters, 3, activation="relu"),
...         keras.layers.Flatten(),
...     ])
>>> from skout import AutoHeadClassifier, KerasBody
>>> clf = AutoHeadClassifier(body=KerasBody(cnn, filters=16))
>>> clf.get_params()["body__filters"]
16
"""

from __future__ import annotations

import json

from sklearn.base import BaseEstimator

from ._network import import_keras

_OUTPUT_ACTIVATIONS = ("softmax", "sigmoid")


class KerasBody(BaseEstimator):
    """A body-building function and its hyperparameters, tunable by scikit-learn.

    Parameters
    ----------
    build_fn : callable
        ``build_fn(input_shape, **params) -> keras.Model`` builds the network
        up to, but not including, the output layer.
    **params
        Hyperparameters passed to ``build_fn``; they appear in
        ``get_params`` (as ``body__<name>`` on the estimator) and can be set
        with ``set_params`` or searched by ``GridSearchCV``.
    """

    def __init__(self, build_fn, **params):
        _check_param_names(params)
        self.build_fn = build_fn
        self._param_names = sorted(params)
        for name, value in params.items():
            setattr(self, name, value)

    def get_params(self, deep=True):
        return {"build_fn": self.build_fn, **{n: getattr(self, n) for n in self._param_names}}

    def set_params(self, **params):
        _check_param_names({n: v for n, v in params.items() if n != "build_fn"})
        for name, value in params.items():
            if name != "build_fn" and name not in self._param_names:
                self._param_names = sorted({*self._param_names, name})
            setattr(self, name, value)
        return self

    def build(self, input_shape):
        """The body for inputs of ``input_shape`` (without the batch axis)."""
        params = {n: getattr(self, n) for n in self._param_names}
        return self.build_fn(tuple(input_shape), **params)

    def __sklearn_clone__(self):
        return KerasBody(**self.get_params())


def _check_param_names(params):
    """A hyperparameter may not hide one of KerasBody's own names (``build``, ...)."""
    taken = [n for n in params if n.startswith("_") or hasattr(KerasBody, n)]
    if taken:
        raise ValueError(
            f"Invalid parameter {taken[0]!r} for KerasBody: it would hide KerasBody."
            f"{taken[0]}. Name the build function's hyperparameter otherwise "
            "(KerasBody's own names are build_fn, build, get_params and set_params)."
        )


def body_spec(body, input_shape, outputs):
    """The :class:`~skout._network.BodySpec` of ``body`` for samples of
    ``input_shape`` with the output layers ``outputs``, checked up front so
    that a body skout cannot train fails here, with what to change, rather
    than deep inside Keras.

    ``input_shape`` is one sample's shape, or a dict ``{name: shape}`` for a
    body fed several named inputs; the spec then lists them in the order of
    the body's own ``inputs``.
    """
    from ._network import BodySpec

    if isinstance(input_shape, dict):
        shapes = {name: tuple(int(d) for d in shape) for name, shape in input_shape.items()}
        model = body_model(body, shapes)
        names = input_names(model)
        return BodySpec(
            body_config=canonical_config(model, keep=names),
            input_shape=tuple(shapes[name] for name in names),
            outputs=tuple(outputs),
            input_names=names,
        )
    input_shape = tuple(int(d) for d in input_shape)
    model = body_model(body, input_shape)
    spec = BodySpec(
        body_config=canonical_config(model), input_shape=input_shape, outputs=tuple(outputs)
    )
    return spec


def input_names(model):
    """The names of a Keras model's ``keras.Input`` layers, in its inputs' order."""
    return tuple(str(t.name) for t in getattr(model, "inputs", None) or ())


def declared_input_shapes(body, shapes):
    """``{name: shape}`` of the body's inputs, as it declares them for inputs of
    ``shapes`` (``{name: shape}``): a Keras model's own, or what a build
    function builds. None where that is unknown (a subclassed model not built
    yet, a build function that fails: building it again says why)."""
    keras = import_keras()
    model = body
    if not isinstance(body, keras.layers.Layer):
        build = body.build if isinstance(body, KerasBody) else body
        try:
            model = build(dict(shapes))
        except Exception:  # the real build, in body_spec, reports it
            return None
    try:
        inputs = getattr(model, "inputs", None)
        if not inputs:
            return None
        return {str(t.name): tuple(t.shape[1:]) for t in inputs}
    except (AttributeError, ValueError):  # a subclassed model not built yet
        return None


def rebuild_error(exc, input_shape):
    """A clear ValueError for a body that Keras could not rebuild from its config."""
    if "Could not locate" in str(exc) or "Unknown layer" in str(exc):
        return ValueError(
            f"The body uses a layer Keras cannot rebuild from its config ({exc}). "
            "skout rebuilds the body for every fit: register custom layers with "
            "@keras.saving.register_keras_serializable() and give them get_config()."
        )
    return ValueError(
        f"The body could not be rebuilt for samples of shape {tuple(input_shape)}: "
        f"{type(exc).__name__}: {exc}"
    )


def body_model(body, input_shape):
    """Resolve the estimator's ``body`` to a Keras model for ``input_shape``
    (one sample's shape, or ``{name: shape}`` for several named inputs)."""
    keras = import_keras()
    named = isinstance(input_shape, dict)
    input_shape = dict(input_shape) if named else tuple(input_shape)
    if isinstance(body, KerasBody):
        model = _build(body.build, input_shape)
    elif isinstance(body, keras.layers.Layer):
        model = body
    elif callable(body):
        model = _build(body, input_shape)
    else:
        raise TypeError(
            "body must be a keras.Model, a callable build(input_shape) -> "
            f"keras.Model, or a skout.KerasBody; got {type(body).__name__}."
        )
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(
            f"The body built a {type(model).__name__}, not a Keras model: return "
            "a keras.Model (e.g. keras.Sequential) from the build function."
        )
    if named:
        _check_named_inputs(model, input_shape)
    else:
        _check_input_shape(model, input_shape)
    _refuse_many_outputs(model)
    _refuse_non_float_layers(model)
    _refuse_output_layer(model)
    return model


def _reshape_hint(input_shape):
    if isinstance(input_shape, dict):
        return ""
    if len(input_shape) == 1:
        return (
            " If X holds flattened images or sequences, reshape it to one array per "
            "sample, e.g. X.reshape(len(X), 28, 28, 1)."
        )
    return ""


def _build(build_fn, input_shape):
    """The build function's model; its own ValueError or TypeError keeps its type."""
    try:
        return build_fn(input_shape)
    except (ValueError, TypeError) as exc:
        # A TypeError (an unexpected keyword, say) is about the arguments, not X.
        hint = _reshape_hint(input_shape) if isinstance(exc, ValueError) else ""
        kind = TypeError if isinstance(exc, TypeError) else ValueError
        raise kind(
            f"The body could not be built for samples of shape {input_shape} (the "
            f"shape of X without its first axis): {exc}.{hint}"
        ) from exc


def _check_input_shape(model, input_shape):
    """A Keras model with a declared input must be given samples of that shape."""
    inputs = getattr(model, "inputs", None)
    try:
        declared = None if not inputs else [tuple(i.shape[1:]) for i in inputs]
    except (AttributeError, ValueError):  # a subclassed model not built yet
        declared = None
    if declared is None:
        return
    if len(declared) > 1:
        names = list(input_names(model))
        raise ValueError(
            f"The body has {len(declared)} inputs, {names}, but X is one array. Give "
            f"one array per input: X = skout.Inputs({', '.join(f'{n}=...' for n in names)}), "
            "or map the columns of a DataFrame X to them with "
            f"inputs={{{', '.join(f'{n!r}: [...]' for n in names)}}}."
        )
    expected = declared[0]
    if len(expected) != len(input_shape) or any(
        e is not None and e != g for e, g in zip(expected, input_shape)
    ):
        raise ValueError(
            f"The body expects samples of shape {expected}, but X has samples of shape "
            f"{input_shape}.{_reshape_hint(input_shape)}"
        )


def _check_named_inputs(model, shapes):
    """Every input of the body gets data, every array goes to an input of the
    body, and each array's samples have the shape its input declares."""
    inputs = getattr(model, "inputs", None)
    names = list(input_names(model))
    if not names:
        raise ValueError(
            f"The body gets several named inputs ({sorted(shapes)}) but declares none: "
            "build it with the functional API, one keras.Input(shape, name=...) per input."
        )
    unknown = [n for n in shapes if n not in names]
    if unknown:
        raise ValueError(
            f"The body has no input named {unknown[0]!r}; its inputs are {names}. Name the "
            "arrays (skout.Inputs) or column groups (inputs=) after the body's "
            "keras.Input(name=...) layers."
        )
    missing = [n for n in names if n not in shapes]
    if missing:
        raise ValueError(
            f"The body's input {missing[0]!r} gets no data: give every input of the body, "
            f"{names}, an array (skout.Inputs({missing[0]}=...)) or a column group "
            f"(inputs={{{missing[0]!r}: [...]}})."
        )
    for name, tensor in zip(names, inputs):
        expected, given = tuple(tensor.shape[1:]), tuple(shapes[name])
        if len(expected) != len(given) or any(
            e is not None and e != g for e, g in zip(expected, given)
        ):
            raise ValueError(
                f"The body's input {name!r} expects samples of shape {expected}, but its "
                f"array has samples of shape {given}. Reshape that array, e.g. "
                f"a.reshape(len(a), {', '.join(str(d) for d in expected)})."
            )


def _refuse_many_outputs(model):
    outputs = getattr(model, "outputs", None)
    if outputs and len(outputs) > 1:
        raise ValueError(
            f"The body has {len(outputs)} outputs; skout attaches its head to one. "
            "Join them in the body (e.g. keras.layers.Concatenate()) and return one."
        )


def _refuse_non_float_layers(model):
    """skout trains in float32: a layer computing in ints cannot have gradients."""
    from ._network import walk_layers

    for layer in walk_layers(model):
        dtype = str(getattr(layer, "compute_dtype", None) or "float32")
        if not (dtype.startswith("float") or dtype.startswith("bfloat")):
            raise ValueError(
                f"The body's layer {layer.name!r} computes in {dtype}; skout trains "
                "in float32, and integer layers have no gradients. Drop its dtype=... "
                "(or cast inside the layer)."
            )


def _last_layer(model):
    layers = getattr(model, "layers", None)
    while layers:
        model = layers[-1]
        layers = getattr(model, "layers", None)
    return model


def _refuse_output_layer(model):
    """A body ends before the output layer: skout adds the head itself."""
    keras = import_keras()
    last = _last_layer(model)
    activation = getattr(last, "activation", None)
    name = keras.activations.serialize(activation) if activation is not None else None
    if isinstance(name, dict):
        name = name.get("config", {}).get("name", name.get("class_name"))
    if name in _OUTPUT_ACTIVATIONS or isinstance(last, keras.layers.Softmax):
        raise ValueError(
            f"The body ends in {type(last).__name__}(activation={name!r}), which "
            "looks like an output layer. Give the network up to, but not including, "
            "the output layer: skout adds the head that fits the target "
            "(see skout.choose_head(y)), or use skout.doctor.diagnose_head on a "
            "complete model."
        )


def canonical_config(model, keep=()):
    """The model's Keras config as JSON, with layer names made positional.

    Building the same body twice gives layers new automatic names
    (``conv2d_3``, ``conv2d_4``); renaming them by position makes the same
    architecture give the same text, so fits of one architecture share one
    compiled training function.

    The names are renamed where the config's structure holds them: each
    layer's (and nested model's) name, and the references to layers in the
    inbound nodes and in a functional model's input and output layers. Any
    other string is left alone, so a layer may be named like a config key or
    value (``"activation"``, ``"units"``, ``"relu"``, ``"float32"``).

    The names in ``keep`` stay: a body's named inputs, which the data is
    matched to (and Keras matches a dict of inputs to by name).
    """
    keras = import_keras()
    config = keras.saving.serialize_keras_object(model)
    new_names = {}
    keep = set(keep)

    def rename(old):
        if old in keep:
            return old
        # One new name per old name: names unique in a model stay unique.
        return new_names.setdefault(old, f"skout_layer_{len(new_names)}")

    _rename_layer(config, rename)
    return json.dumps(config, sort_keys=True)


def _rename_layer(entry, rename):
    """Rename a serialised layer (or model), the layers in it and their references."""
    if not isinstance(entry, dict):
        return
    inner = entry.get("config")
    if isinstance(inner, dict) and isinstance(inner.get("name"), str):
        inner["name"] = rename(inner["name"])
    if isinstance(entry.get("name"), str):  # a functional model's entry for a layer
        entry["name"] = rename(entry["name"])
    if not isinstance(inner, dict):
        return
    for layer in inner.get("layers") or []:  # a model: its layers, in order
        _rename_layer(layer, rename)
    for layer in inner.get("layers") or []:
        if isinstance(layer, dict):
            _rename_tensor_references(layer.get("inbound_nodes"), rename)
    for key in ("input_layers", "output_layers"):
        if key in inner:
            inner[key] = _rename_layer_references(inner[key], rename)


def _rename_tensor_references(node, rename):
    """Rename the layer each serialised tensor (``__keras_tensor__``) comes from."""
    if isinstance(node, dict):
        inner = node.get("config")
        if node.get("class_name") == "__keras_tensor__" and isinstance(inner, dict):
            history = inner.get("keras_history")  # (layer name, node index, tensor index)
            if isinstance(history, (list, tuple)) and history:
                inner["keras_history"] = [rename(history[0]), *history[1:]]
            return
        for value in node.values():
            _rename_tensor_references(value, rename)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _rename_tensor_references(value, rename)


def _rename_layer_references(value, rename):
    """``[layer_name, node_index, tensor_index]`` entries, alone or in lists or dicts."""
    if isinstance(value, (list, tuple)):
        if (
            len(value) == 3
            and isinstance(value[0], str)
            and not isinstance(value[1], (list, tuple))
        ):
            return [rename(value[0]), *value[1:]]
        return [_rename_layer_references(v, rename) for v in value]
    if isinstance(value, dict):
        return {k: _rename_layer_references(v, rename) for k, v in value.items()}
    return value
