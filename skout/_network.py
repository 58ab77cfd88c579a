"""The network: its description, its weights, and the Keras model built from them.

A :class:`NetworkSpec` describes a dense network (hidden layers and output
heads) and is hashable, so compiled training functions can be cached per
architecture. Weights live as a list of NumPy arrays ``[kernel, bias, ...]``
in layer order: hidden layers first, then one (kernel, bias) pair per output,
then one embedding table per categorical column (after the heads, so that
``weights[2 * i]`` is the kernel of layer ``i`` with or without tables).

This is the only module that builds Keras layers, and it imports Keras
lazily: the engine runs a fitted dense network in NumPy
(:func:`skout._engine.forward`), so predicting and unpickling never need
TensorFlow.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
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
    embeddings : tuple of (int, int)
        ``(rows, width)`` of the embedding table of each categorical column.
        Those columns are the last ``len(embeddings)`` of the input, holding
        integer codes; the rows they read are put beside the numeric columns
        before the first layer.
    """

    n_features: int
    hidden_layer_sizes: tuple[int, ...]
    activation: str
    outputs: tuple[OutputHead, ...]
    dropout: float = 0.0
    embeddings: tuple[tuple[int, int], ...] = ()

    @property
    def n_layer_weights(self):
        """How many of the weights are the layers' kernels and biases (the
        rest are the embedding tables)."""
        return 2 * (len(self.hidden_layer_sizes) + len(self.outputs))

    @property
    def heads_at(self):
        """Index of the first head's kernel in the weight list."""
        return 2 * len(self.hidden_layer_sizes)

    def first_layer_width(self):
        """The width the first layer reads: numeric columns and embeddings."""
        return self.n_features - len(self.embeddings) + sum(w for _, w in self.embeddings)

    def layer_shapes(self):
        """(fan_in, fan_out) of every Dense layer, hidden then outputs."""
        sizes = (self.first_layer_width(), *self.hidden_layer_sizes)
        shapes = list(zip(sizes[:-1], sizes[1:]))
        shapes += [(sizes[-1], out.units) for out in self.outputs]
        return shapes

    def weight_shapes(self):
        """The shape of every weight, in skout's order."""
        shapes = []
        for fan_in, fan_out in self.layer_shapes():
            shapes += [(fan_in, fan_out), (fan_out,)]
        return shapes + [tuple(table) for table in self.embeddings]

    def layer_names(self):
        hidden = [f"hidden_{i}" for i in range(len(self.hidden_layer_sizes))]
        return hidden + [f"output_{j}" for j in range(len(self.outputs))]

    # The interface the trainers use, shared with BodySpec.
    predicts_in_numpy = True

    @property
    def input_shape(self):
        return (self.n_features,)

    @property
    def n_layers(self):
        return len(self.hidden_layer_sizes) + 2

    def build(self, l2=0.0, seed=None, logits=False):
        return build_model(self, l2=l2, seed=seed, logits=logits)

    def variables(self, model):
        return dense_variables(model, self)

    def kernel_variables(self, model):
        variables = self.variables(model)
        n = self.n_layer_weights
        return variables[:n:2] + variables[n:]  # the tables are penalised as kernels

    def initial_weights(self, rng):
        return init_weights(self, rng)


@dataclass(frozen=True)
class BodySpec:
    """A user's Keras body (as canonical JSON config) with skout's heads.

    Attributes
    ----------
    body_config : str
        The body's Keras config (see :func:`skout.body.canonical_config`).
    input_shape : tuple of int, or tuple of such
        Shape of one sample; with ``input_names``, one shape per input.
    outputs : tuple of OutputHead
        The output layers, fed by the (flattened) body output.
    input_names : tuple of str
        Empty for a body with one input fed ``X``; else the names of the
        body's ``keras.Input`` layers, in the order of its ``inputs``, each
        fed its own array (the engine's ``X`` is then a tuple of arrays).
    """

    body_config: str
    input_shape: tuple
    outputs: tuple[OutputHead, ...]
    input_names: tuple[str, ...] = ()

    predicts_in_numpy = False

    @property
    def input_shapes(self):
        """One sample's shape per input (one entry for a single-input body)."""
        return tuple(self.input_shape) if self.input_names else (tuple(self.input_shape),)

    @property
    def n_features(self):
        return int(sum(np.prod(shape) for shape in self.input_shapes))

    @property
    def n_layers(self):
        return None

    def build(self, l2=0.0, seed=None, logits=False):
        """The body (fresh weights) with the heads on top (linear ones, giving
        each head's logits, with ``logits=True``: what the engine trains)."""
        import json

        keras = import_keras()
        config = json.loads(self.body_config)
        if l2 > 0:
            _set_kernel_regularizers(
                config, keras.regularizers.serialize(keras.regularizers.L2(l2))
            )
        body = keras.saving.deserialize_keras_object(config)
        if self.input_names:
            # The body's own inputs, by position (Keras flattens a dict of
            # inputs in this order too); the outer inputs take the same names.
            inputs = [
                keras.Input(shape=shape, name=name)
                for name, shape in zip(self.input_names, self.input_shape)
            ]
        else:
            inputs = keras.Input(shape=self.input_shape, name="features")
        h = body(inputs)
        if len(h.shape) > 2:
            h = keras.layers.Flatten(name="flatten")(h)
        return attach_heads(keras, inputs, h, self.outputs, l2, logits=logits)

    def variables(self, model):
        return list(model.weights)

    def kernel_variables(self, model):
        return [v for v in model.trainable_weights if v.name.endswith("kernel")]

    def initial_weights(self, rng):
        """Fresh weights from each layer's own initializers, seeded by ``rng``."""
        model = self.build()
        for layer in walk_layers(model):
            for variable in layer.weights:
                initializer = _initializer_of(layer, variable.name)
                if initializer is not None:
                    seeded = _seeded(initializer, int(rng.randint(2**31 - 1)))
                    variable.assign(seeded(variable.shape, dtype=variable.dtype))
        return get_weights(model, self)


def walk_layers(layer):
    """``layer`` and every layer inside it (nested models, RNN cells)."""
    yield layer
    for sub in getattr(layer, "layers", None) or []:
        yield from walk_layers(sub)
    cell = getattr(layer, "cell", None)
    if cell is not None and hasattr(cell, "weights"):
        yield from walk_layers(cell)


def _initializer_of(layer, variable_name):
    """The layer's initializer for ``variable_name`` (``kernel`` ->
    ``kernel_initializer``, ``recurrent_kernel`` -> ``recurrent_initializer``)."""
    for attribute in (
        f"{variable_name}_initializer",
        f"{variable_name.replace('_kernel', '')}_initializer",
    ):
        initializer = getattr(layer, attribute, None)
        if initializer is not None and callable(initializer):
            return initializer
    return None


def _seeded(initializer, seed):
    config = initializer.get_config()
    if "seed" not in config:
        return initializer  # a constant initializer: nothing to seed
    return type(initializer).from_config({**config, "seed": seed})


def _set_kernel_regularizers(config, regularizer):
    """Put an L2 kernel regulariser on every layer of a serialised body."""
    if isinstance(config, dict):
        inner = config.get("config")
        if isinstance(inner, dict) and "kernel_regularizer" in inner:
            inner["kernel_regularizer"] = regularizer
        for value in config.values():
            _set_kernel_regularizers(value, regularizer)
    elif isinstance(config, list):
        for value in config:
            _set_kernel_regularizers(value, regularizer)


#: Embedding tables start uniform in +-EMBEDDING_INIT (Keras's ``Embedding``
#: default): every category starts near the others, and one seen in a few
#: rows only stays near them until the data says otherwise.
EMBEDDING_INIT = 0.05


def init_weights(spec, rng):
    """Initial weights drawn from ``rng``, as scikit-learn's MLP draws them.

    Kernels and biases are uniform in +-sqrt(f / (fan_in + fan_out)), with
    f = 2 for sigmoid hidden layers and 6 otherwise (Glorot); embedding
    tables (drawn after the layers, so a network without them draws what it
    always drew) uniform in +-:data:`EMBEDDING_INIT`. Drawing in NumPy keeps
    ``random_state`` reproducible without touching TensorFlow's global seed.
    """
    factor = 2.0 if spec.activation == "sigmoid" else 6.0
    weights = []
    for fan_in, fan_out in spec.layer_shapes():
        limit = np.sqrt(factor / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
        weights.append(rng.uniform(-limit, limit, fan_out).astype(np.float32))
    for rows, width in spec.embeddings:
        table = rng.uniform(-EMBEDDING_INIT, EMBEDDING_INIT, (rows, width))
        weights.append(table.astype(np.float32))
    return weights


def import_keras():
    """Import Keras (and its backend) on first use; see :mod:`skout._framework`."""
    from ._framework import import_keras

    return import_keras()


def keras_activation(keras, name):
    """The Keras activation of an output head's activation name.

    skout's heads use Keras's names, except ``"exp"`` (a log link: Keras's
    ``"exponential"``) and ``"increasing"`` (a list of quantiles that never
    cross), which skout registers with Keras as ``"skout>increasing"`` so that
    a saved ``model_`` loads wherever skout is imported.
    """
    if name == "exp":
        return "exponential"
    if name == "increasing":
        return _increasing_activation(keras)
    return name


_REGISTERED = {}


def _increasing_activation(keras):
    """The "increasing" output as a Keras activation (the engine's definition)."""
    if "increasing" not in _REGISTERED:

        @keras.saving.register_keras_serializable(package="skout", name="increasing")
        def increasing(z):
            first = z[:, :1]
            steps = keras.ops.cumsum(keras.ops.softplus(z[:, 1:]), axis=1)
            return keras.ops.concatenate([first, first + steps], axis=1)

        _REGISTERED["increasing"] = increasing
    return _REGISTERED["increasing"]


def attach_heads(keras, inputs, features, outputs, l2=0.0, logits=False):
    """A Keras model: ``features`` feeding one ``Dense`` output layer per head.

    With ``logits=True`` the output layers are linear: the model gives each
    head's logits, to which the engine's objective applies the activation.
    """
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    layers = [
        keras.layers.Dense(
            out.units,
            activation="linear" if logits else keras_activation(keras, out.activation),
            name=f"output_{j}", kernel_regularizer=regularizer,
        )(features)
        for j, out in enumerate(outputs)
    ]  # fmt: skip
    return keras.Model(inputs, layers[0] if len(layers) == 1 else layers, name="skout")


def build_model(spec, l2=0.0, seed=None, logits=False):
    """A functional Keras model for ``spec``, with fresh (unset) weights.

    ``l2`` adds a Keras kernel regulariser to every layer; the compiled
    trainer adds its penalty itself and leaves it at 0. ``seed`` seeds the
    dropout layers (the compiled trainer reseeds them per fit instead).
    """
    keras = import_keras()

    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = keras.Input(shape=(spec.n_features,), name="features")
    h = _embedded_input(keras, spec, inputs, regularizer)
    names = spec.layer_names()
    for i, units in enumerate(spec.hidden_layer_sizes):
        h = keras.layers.Dense(
            units, activation=spec.activation, name=names[i], kernel_regularizer=regularizer
        )(h)
        if spec.dropout > 0:
            h = keras.layers.Dropout(
                spec.dropout, seed=None if seed is None else seed + i, name=f"dropout_{i}"
            )(h)
    return attach_heads(keras, inputs, h, spec.outputs, l2, logits=logits)


def _embedded_input(keras, spec, inputs, regularizer):
    """The first layer's input: the numeric columns, then each code column's
    rows of its ``Embedding`` (``embedding_<t>``), as the engine computes it."""
    k = len(spec.embeddings)
    if not k:
        return inputs
    parts = [inputs[:, :-k]]
    for t, (rows, width) in enumerate(spec.embeddings):
        # Embedding casts its float codes to int itself.
        embedding = keras.layers.Embedding(
            rows, width, name=f"embedding_{t}", embeddings_regularizer=regularizer
        )
        parts.append(embedding(inputs[:, t - k]))
    return keras.layers.Concatenate(name="embedded")(parts)


def dense_variables(model, spec):
    """The model's variables in skout's weight order."""
    variables = []
    for name in spec.layer_names():
        layer = model.get_layer(name)
        variables += [layer.kernel, layer.bias]
    for t in range(len(spec.embeddings)):
        variables.append(model.get_layer(f"embedding_{t}").embeddings)
    return variables


def set_weights(model, spec, weights):
    for variable, value in zip(spec.variables(model), weights):
        variable.assign(value)


def to_numpy(values):
    """NumPy copies of Keras variables or tensors, on any backend.

    (``.numpy()`` fails on a PyTorch tensor that requires grad; converting a
    Keras variable directly trips NumPy 2's ``copy`` deprecation on
    TensorFlow, which ``stop_gradient`` avoids.)
    """
    keras = import_keras()
    return [np.array(keras.ops.convert_to_numpy(keras.ops.stop_gradient(v))) for v in values]


def get_weights(model, spec):
    return to_numpy(spec.variables(model))


#: How many architectures keep a compiled predict function (least recently used go).
PREDICT_CACHE_SIZE = 16
_predict_cache = OrderedDict()
_predict_lock = threading.Lock()


def architecture_predict(spec, logits=False):
    """``predict(weights, X)`` for every network of ``spec``'s architecture.

    ``logits=True``: the heads' values before their output function (the
    ``decision_function``), from the same weights.


    One Keras model per architecture serves as a template: its variables are
    never assigned, the weights of the fitted state are passed in at each call
    (Keras's stateless call). On TensorFlow the call is one ``tf.function``
    traced once per architecture, whatever the number of fits, folds or
    batch sizes, so a cross-validation never retraces (nor warns that it
    does); the most recently used :data:`PREDICT_CACHE_SIZE` are kept.
    ``predict`` returns one NumPy array per output head.
    """
    from ._framework import check_not_forked

    check_not_forked()  # the compiled function would wait forever in a forked child
    key = (spec, bool(logits))
    with _predict_lock:
        predict = _predict_cache.pop(key, None)
        if predict is None:
            predict = _stateless_predict(spec, logits)
        _predict_cache[key] = predict
        while len(_predict_cache) > PREDICT_CACHE_SIZE:
            _predict_cache.popitem(last=False)
    return predict


def _stateless_predict(spec, logits=False):
    keras = import_keras()
    model = spec.build(logits=logits)
    trainable = list(model.trainable_variables)
    non_trainable = list(model.non_trainable_variables)
    # Where each of skout's weights goes; the other variables (a random
    # layer's seed, say) keep the template's values: inference never reads them.
    position = {id(v): i for i, v in enumerate(spec.variables(model))}
    fixed = [keras.ops.convert_to_numpy(v) for v in (*trainable, *non_trainable)]
    places = [position.get(id(v)) for v in (*trainable, *non_trainable)]
    # A partial, not a closure: TensorFlow counts the traces of every function
    # made from one piece of code together and warns of "retracing" after five,
    # which a search over eight body widths (one trace each) would print.
    call = functools.partial(_stateless_call, model, places, fixed, len(trainable))
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        weight_specs = [tf.TensorSpec(v.shape, v.dtype) for v in spec.variables(model)]
        x_specs = [tf.TensorSpec([None, *shape], tf.float32) for shape in spec.input_shapes]
        call = tf.function(
            call,
            input_signature=[weight_specs, x_specs if spec.input_names else x_specs[0]],
            autograph=False,
        )
    elif backend == "jax":
        import jax

        call = jax.jit(call)

    def predict(weights, X):
        out = call(list(weights), list(X) if isinstance(X, tuple) else X)
        out = out if isinstance(out, (list, tuple)) else [out]
        return [np.asarray(keras.ops.convert_to_numpy(o)) for o in out]

    return predict


def _stateless_call(model, places, fixed, n_trainable, weights, x):
    """The template ``model`` on the fitted ``weights`` (``places`` says where each
    of its variables comes from: a weight, or the template's ``fixed`` value)."""
    values = [fixed[k] if i is None else weights[i] for k, i in enumerate(places)]
    x = list(x) if isinstance(x, (list, tuple)) else x  # several inputs: a list
    out, _ = model.stateless_call(values[:n_trainable], values[n_trainable:], x, training=False)
    return out


def compile_like(model, outputs, optimizer, **settings):
    """Compile ``model`` with the heads' losses and a ``keras.optimizers`` optimizer."""
    keras = import_keras()
    losses = [o.loss for o in outputs]
    model.compile(
        optimizer=getattr(keras.optimizers, optimizer)(**settings),
        loss=losses[0] if len(losses) == 1 else losses,
    )
