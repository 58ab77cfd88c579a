"""Your own Keras network as the body of an estimator; skout adds the head.

``body=`` takes the network up to, but not including, the output layer:

- a ``keras.Model`` (Sequential or functional): its architecture is reused,
  never its weights -- every fit starts from fresh weights;
- a callable ``build(input_shape) -> keras.Model``;
- a :class:`KerasBody`, which wraps such a callable together with its
  hyperparameters so that ``GridSearchCV`` can tune them as ``body__<name>``.

skout attaches the output layer(s) chosen from the target (flattening a body
whose output has more than one axis), compiles and trains the whole network.

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
        self.build_fn = build_fn
        self._param_names = sorted(params)
        for name, value in params.items():
            setattr(self, name, value)

    def get_params(self, deep=True):
        return {"build_fn": self.build_fn, **{n: getattr(self, n) for n in self._param_names}}

    def set_params(self, **params):
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


def body_model(body, input_shape):
    """Resolve the estimator's ``body`` to a Keras model for ``input_shape``."""
    keras = import_keras()
    if isinstance(body, KerasBody):
        model = body.build(input_shape)
    elif isinstance(body, keras.layers.Layer):
        model = body
    elif callable(body):
        model = body(tuple(input_shape))
    else:
        raise ValueError(
            "body must be a keras.Model, a callable build(input_shape) -> "
            f"keras.Model, or a skout.KerasBody; got {type(body).__name__}."
        )
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(
            f"The body built a {type(model).__name__}, not a Keras model: return "
            "a keras.Model (e.g. keras.Sequential) from the build function."
        )
    _refuse_output_layer(model)
    return model


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


def canonical_config(model):
    """The model's Keras config as JSON, with layer names made positional.

    Building the same body twice gives layers new automatic names
    (``conv2d_3``, ``conv2d_4``); renaming them by position makes the same
    architecture give the same text, so fits of one architecture share one
    compiled training function.
    """
    keras = import_keras()
    config = keras.saving.serialize_keras_object(model)
    names = []

    def walk(layer):
        names.append(layer.name)
        for sub in getattr(layer, "layers", None) or []:
            walk(sub)

    def inputs(node):
        # A Sequential's InputLayer is in its config but not in .layers.
        if isinstance(node, dict):
            if node.get("class_name") == "InputLayer":
                names.append(node["config"]["name"])
            for value in node.values():
                inputs(value)
        elif isinstance(node, list):
            for value in node:
                inputs(value)

    walk(model)
    inputs(config)
    text = json.dumps(config, sort_keys=True)
    # Quoted, whole-token replacement, numbered in the order they are met.
    for i, name in enumerate(dict.fromkeys(names)):
        text = text.replace(json.dumps(name), json.dumps(f"skout_layer_{i}"))
    return text
