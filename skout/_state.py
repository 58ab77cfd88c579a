"""Everything a fit produces, in one object that a successful fit swaps in whole.

A :class:`FittedState` holds the head, the target encoder, the network
description, the weights, the continuation state of ``partial_fit``, the
training curves and the caches built from them (float64 weights for the
NumPy forward pass, the Keras model, a compiled predict function). A fit
builds a new one on the side and the estimator takes it in one assignment at
the very end of a successful fit, so no cache outlives the fit it was built
from and a fit that raises changes nothing.

For persistence the state becomes plain data (:meth:`FittedState.to_dict`):
dicts, lists, str, numbers and NumPy arrays of numbers or labels, no private
classes and no ``numpy.dtype`` objects, so pickle, joblib and skops all carry
it and skops trusts it without being told about skout's internals.
:meth:`FittedState.from_dict` checks that data strictly, so a damaged or
tampered file fails when it is loaded, with a clear message, rather than in
``predict`` with a NumPy error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from numbers import Integral, Real

import numpy as np

from ._encoding import TargetEncoder
from ._features import FeatureEncoder
from ._network import BodySpec, NetworkSpec
from .heads import Head, OutputHead

_BUILD_LOCK = threading.RLock()


def stopping_tuple(state):
    """``(best_loss, best_score, no_improvement_count)`` as plain numbers.

    The engine takes and returns the stopping state as such a 3-tuple (a
    ``rule.StoppingState``); the fitted state keeps plain Python numbers.
    """
    if state is None:
        return (float(np.inf), float(-np.inf), 0)
    best_loss, best_score, count = state
    return (float(best_loss), float(best_score), int(count))


@dataclass(frozen=True, eq=False)
class FittedState:
    """What one fit (or one chain of ``partial_fit`` calls) produced."""

    head: Head
    spec: object  # NetworkSpec or BodySpec
    encoder: TargetEncoder
    weights: tuple  # float32 (or float64, dtype='float64') arrays in skout's layer order
    n_features_in: int
    feature_names_in: np.ndarray | None
    n_outputs: int
    loss_curve: tuple
    validation_scores: tuple | None
    validation_loss_curve: tuple | None
    n_iter: int
    t: int
    best_loss: float | None
    best_validation_score: float | None
    stopping: tuple  # (best_loss, best_score, no_improvement_count)
    optimizer_state: tuple | None
    # The solver whose slots optimizer_state holds (partial_fit goes on with it).
    solver: str | None
    # Parameters that chose the head and the encoding (loss, binary_head,
    # standardize_target): a continued fit must not change them.
    head_params: dict = field(default_factory=dict)
    # How X became the network's input (categorical codes, several named
    # inputs), or None for a plain numeric table (skout._features).
    features: FeatureEncoder | None = None
    # Built from the fields above on first use; dies with this state.
    cache: dict = field(default_factory=dict, repr=False)

    # -- what the estimator shows -------------------------------------------
    def attributes(self):
        """The public fitted attributes, all read from this state."""
        attributes = {
            "head_": self.head,
            "target_type_": self.head.target_type,
            "n_features_in_": self.n_features_in,
            "n_outputs_": self.n_outputs,
            "out_activation_": self.head.activation,
            "n_layers_": self.spec.n_layers,
            "loss_curve_": list(self.loss_curve),
            "validation_scores_": _list_or_none(self.validation_scores),
            "validation_loss_curve_": _list_or_none(self.validation_loss_curve),
            "best_loss_": self.best_loss,
            "best_validation_score_": self.best_validation_score,
            "n_iter_": self.n_iter,
            "t_": self.t,
        }
        if self.feature_names_in is not None:
            attributes["feature_names_in_"] = self.feature_names_in
        if self.encoder.classes_ is not None:
            attributes["classes_"] = self.encoder.classes_
        attributes.update(_input_attributes(self.features))
        return attributes

    def feature_attributes(self):
        """``n_features_in_`` and (when X had names) ``feature_names_in_``."""
        attributes = {"n_features_in_": self.n_features_in}
        if self.feature_names_in is not None:
            attributes["feature_names_in_"] = self.feature_names_in
        return attributes

    # -- caches ---------------------------------------------------------------
    def input_checker(self, cls):
        """An instance of ``cls`` that knows only this state's features.

        ``validate_data(reset=False)`` checks X against the object it is given;
        given this one, it checks X against this state, whatever the estimator
        shows meanwhile.
        """
        checker = self.cache.get("input_checker")
        if type(checker) is not cls:
            checker = object.__new__(cls)
            checker.__dict__.update(self.feature_attributes())
            self.cache["input_checker"] = checker
        return checker

    @property
    def keras_model(self):
        """The Keras model, if it has been built (``model_``), else None."""
        return self.cache.get("keras_model")

    def current_weights(self):
        """The weights now: from the Keras model if the user has it in hand."""
        from . import _network

        model = self.keras_model
        if model is not None:
            return _network.get_weights(model, self.spec)
        return list(self.weights)

    def weights64(self):
        """Float64 weights for the NumPy forward pass."""
        if self.keras_model is not None:  # the user may have changed them
            return [w.astype(np.float64) for w in self.current_weights()]
        if "weights64" not in self.cache:
            self.cache["weights64"] = [w.astype(np.float64) for w in self.weights]
        return self.cache["weights64"]

    def build_keras_model(self, compile_options=None):
        """This state's Keras model: built once, then the same object.

        ``compile_options`` (``optimizer`` as a ``keras.optimizers`` class
        name, and its settings) compile it with the head's loss the first
        time it is built.
        """
        from . import _network

        with _BUILD_LOCK:  # two threads asking at once get the same model
            model = self.keras_model
            if model is None:
                model = self.spec.build()
                _network.set_weights(model, self.spec, list(self.weights))
                if compile_options is not None:
                    _network.compile_like(model, self.head.outputs, **compile_options)
                self.cache["keras_model"] = model
        return model

    def keras_model_to_read(self):
        """A Keras model with the current weights, for a reader (the ONNX
        export) that needs the layers: the user's ``model_`` if there is one,
        else a model built for this call and not kept, because a kept model
        makes every later predict read its weights back from Keras."""
        from . import _network

        model = self.keras_model
        if model is None:
            model = self.spec.build()
            _network.set_weights(model, self.spec, list(self.weights))
        return model

    def predict_fn(self, logits=False):
        """``predict(X)`` with this state's weights, compiled once per architecture
        (``logits=True``: the heads' values before their output function)."""
        from . import _network

        predict = _network.architecture_predict(self.spec, logits)
        if self.keras_model is not None:  # the user may change its weights
            return lambda X: predict(self.current_weights(), X)
        weights = list(self.weights)
        return lambda X: predict(weights, X)

    # -- persistence ------------------------------------------------------------
    def to_dict(self):
        """The state as plain data: dicts, lists, str, numbers, arrays."""
        return {
            "head": _head_to_dict(self.head),
            "spec": _spec_to_dict(self.spec),
            "encoder": _encoder_to_dict(self.encoder),
            "weights": [np.asarray(w) for w in self.current_weights()],
            "n_features_in": int(self.n_features_in),
            "feature_names_in": (
                None if self.feature_names_in is None else list(map(str, self.feature_names_in))
            ),
            "n_outputs": int(self.n_outputs),
            "loss_curve": [float(v) for v in self.loss_curve],
            "validation_scores": _floats_or_none(self.validation_scores),
            "validation_loss_curve": _floats_or_none(self.validation_loss_curve),
            "n_iter": int(self.n_iter),
            "t": int(self.t),
            "best_loss": _float_or_none(self.best_loss),
            "best_validation_score": _float_or_none(self.best_validation_score),
            "stopping": [float(self.stopping[0]), float(self.stopping[1]), int(self.stopping[2])],
            "optimizer_state": (
                None
                if self.optimizer_state is None
                else [np.asarray(a) for a in self.optimizer_state]
            ),
            "solver": self.solver,
            "head_params": dict(self.head_params),
            # Only when there is one: files of plain fits keep their layout.
            **({} if self.features is None else {"features": self.features.to_dict()}),
        }

    @classmethod
    def from_dict(cls, data, task=None):
        """Rebuild a state from :meth:`to_dict`'s data, checking every part.

        Parameters
        ----------
        data : dict
            What :meth:`to_dict` wrote.
        task : {"classification", "regression"}, default=None
            The estimator's task: a state of the other kind is refused.

        Raises
        ------
        ValueError
            If a key is missing or unknown, or a value has the wrong type,
            shape or range, or the parts do not fit together (a head whose
            decoding, units or loss do not match its target type, unsorted
            classes, a scale of 0, an optimizer state that does not match the
            weights): the file was damaged or written by something else.
        """
        _check_keys(
            data,
            {f.name for f in fields(cls)} - {"cache", "features"},
            "the fitted state",
            optional={"features"},
        )
        head = _head_from_dict(data["head"])
        if task is not None and head.is_classifier != (task == "classification"):
            raise _damaged(
                f"it holds a {'classifier' if head.is_classifier else 'regressor'}'s state "
                f"({head.target_type!r} target) for a {task} estimator"
            )
        spec = _spec_from_dict(data["spec"])
        if tuple(spec.outputs) != tuple(head.outputs):
            raise _damaged("the network's output layers do not match its head")
        encoder = _encoder_from_dict(data["encoder"], head)
        weights = _check_weights(data["weights"], spec)
        n_features_in = _int(data["n_features_in"], "n_features_in", minimum=1)
        features = data.get("features")
        if features is not None:
            features = FeatureEncoder.from_dict(features, _damaged)
            features.check_against(spec, n_features_in, _damaged)
        elif getattr(spec, "embeddings", ()) or getattr(spec, "input_names", ()):
            raise _damaged("the network reads categorical codes or several inputs it has no "
                           "description of")  # fmt: skip
        # validate_data counts the second axis of X as its features.
        elif n_features_in != spec.input_shape[0]:
            raise _damaged(
                f"n_features_in is {n_features_in} but the network reads samples of "
                f"shape {spec.input_shape}"
            )
        names = data["feature_names_in"]
        if names is not None:
            if not isinstance(names, (list, tuple, np.ndarray)) or len(names) != n_features_in:
                raise _damaged("feature_names_in does not name every feature")
            names = np.asarray([str(n) for n in names], dtype=object)
        stopping = data["stopping"]
        if not isinstance(stopping, (list, tuple)) or len(stopping) != 3:
            raise _damaged("the stopping state is not (best_loss, best_score, count)")
        n_outputs = _int(data["n_outputs"], "n_outputs", minimum=1)
        if n_outputs != encoder.n_columns_:
            raise _damaged(f"n_outputs is {n_outputs}, but the target had {encoder.n_columns_}")
        solver = _solver(data["solver"])
        optimizer = _optimizer_state(data["optimizer_state"], solver, weights)
        return cls(
            head=head,
            spec=spec,
            encoder=encoder,
            weights=weights,
            n_features_in=n_features_in,
            feature_names_in=names,
            n_outputs=n_outputs,
            loss_curve=tuple(_floats(data["loss_curve"], "loss_curve")),
            validation_scores=_floats_or_none(data["validation_scores"], "validation_scores"),
            validation_loss_curve=_floats_or_none(
                data["validation_loss_curve"], "validation_loss_curve"
            ),
            n_iter=_int(data["n_iter"], "n_iter", minimum=0),
            t=_int(data["t"], "t", minimum=0),
            best_loss=_float_or_none(data["best_loss"], "best_loss"),
            best_validation_score=_float_or_none(
                data["best_validation_score"], "best_validation_score"
            ),
            stopping=(
                _float(stopping[0], "stopping"),
                _float(stopping[1], "stopping"),
                _int(stopping[2], "stopping", minimum=0),
            ),
            optimizer_state=optimizer,
            solver=solver,
            head_params=_head_params(data["head_params"]),
            features=features,
        )


# -- plain data <-> skout's objects ---------------------------------------------
#: The solvers skout trains with (the estimators' ``solver`` parameter).
SOLVERS = ("adam", "sgd", "lbfgs")


def _solver(value):
    if value is not None and value not in SOLVERS:
        raise _damaged(f"the solver {value!r} is not one skout trains with")
    return value


def _damaged(what):
    return ValueError(
        f"Cannot load this skout model: {what}. The file is damaged or was not "
        "written by skout; refit the model, or load a file you trust."
    )


def _check_keys(data, expected, what, optional=frozenset()):
    if not isinstance(data, dict):
        raise _damaged(f"{what} is a {type(data).__name__}, not a dict")
    missing, unknown = expected - set(data), set(data) - expected - set(optional)
    if missing or unknown:
        raise _damaged(
            f"{what} misses {sorted(missing)}" if missing else f"{what} has {sorted(unknown)}"
        )


def _int(value, name, minimum=None):
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise _damaged(f"{name} is {value!r}, not an int")
    if minimum is not None and value < minimum:
        raise _damaged(f"{name} is {value}, below {minimum}")
    return int(value)


def _float(value, name):
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _damaged(f"{name} holds {value!r}, not a number")
    return float(value)


def _floats(values, name):
    if not isinstance(values, (list, tuple)):
        raise _damaged(f"{name} is not a list of numbers")
    return [_float(v, name) for v in values]


def _float_or_none(value, name="a score"):
    return None if value is None else _float(value, name)


def _floats_or_none(values, name="a curve"):
    return None if values is None else tuple(_floats(values, name))


#: The parameters that choose a head and its encoding (``head_params``).
HEAD_PARAMS = (
    "loss", "binary_head", "standardize_target", "target_type", "quantile", "power",
)  # fmt: skip


def _head_param_value(value):
    """A head parameter's saved value: a str, a bool, None, a number or a list of numbers."""
    if value is None or isinstance(value, (str, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, Real) and not isinstance(v, bool) for v in value)
    return isinstance(value, Real)


def _head_params(params):
    if not isinstance(params, dict) or not all(
        k in HEAD_PARAMS and _head_param_value(v) for k, v in params.items()
    ):
        raise _damaged(f"head_params is not a dict of the parameters {', '.join(HEAD_PARAMS)}")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _input_attributes(features):
    """``is_categorical_`` (HistGradientBoosting's: a mask over X's columns, or
    None) and, for a body with several inputs, ``input_shapes_``."""
    attributes = {"is_categorical_": None if features is None else features.is_categorical()}
    shapes = None if features is None else features.input_shapes()
    if shapes is not None:
        attributes["input_shapes_"] = shapes
    return attributes


def _list_or_none(values):
    return None if values is None else list(values)


def _str(value, name):
    if not isinstance(value, str):
        raise _damaged(f"{name} is {value!r}, not a str")
    return value


def _output_to_dict(out):
    data = {"units": int(out.units), "activation": out.activation, "loss": out.loss}
    if out.loss_params:
        data["loss_params"] = [float(v) for v in out.loss_params]
    return data


def _head_to_dict(head):
    return {
        "target_type": head.target_type,
        "decoding": head.decoding,
        "outputs": [_output_to_dict(o) for o in head.outputs],
    }


#: Every activation an output layer can have (the engine's output functions).
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax", "linear", "exp", "increasing")


def _outputs_from_list(outputs):
    if not isinstance(outputs, (list, tuple)) or not outputs:
        raise _damaged("the output layers are not a list")
    result = []
    for o in outputs:
        # loss_params is saved only for the losses that have parameters.
        keys = {"units", "activation", "loss"} | ({"loss_params"} & set(o or {}))
        _check_keys(o, keys, "an output layer")
        activation = _str(o["activation"], "activation")
        if activation not in OUTPUT_ACTIVATIONS:
            raise _damaged(f"unknown output activation {activation!r}")
        params = tuple(_floats(o.get("loss_params", []), "loss_params"))
        out = OutputHead(
            _int(o["units"], "units", minimum=1), activation, _str(o["loss"], "loss"), params
        )
        _check_loss_params(out)
        result.append(out)
    return tuple(result)


def _check_loss_params(out):
    """A loss's parameters as the heads make them (and none for the others)."""
    if out.loss == "tweedie":
        fine = len(out.loss_params) == 1 and 1 <= out.loss_params[0] <= 2
    elif out.loss == "quantile":
        levels = out.loss_params
        fine = (
            len(levels) >= 1
            and all(0 < q < 1 for q in levels)
            and list(levels) == sorted(set(levels))
            and (out.activation == "increasing") == (len(levels) > 1)
            and (len(levels) == 1 or out.units == len(levels))
        )
    else:
        fine = not out.loss_params
    if not fine:
        raise _damaged(f"the loss {out.loss!r} has the parameters {list(out.loss_params)}")


def _head_from_dict(data):
    from .heads import TARGET_TYPES

    _check_keys(data, {"target_type", "decoding", "outputs"}, "the head")
    kind = data["target_type"]
    if kind not in TARGET_TYPES:
        raise _damaged(f"unknown target type {kind!r}")
    outputs = _outputs_from_list(data["outputs"])
    decoding = _str(data["decoding"], "decoding")
    _check_head(kind, outputs, decoding)
    return Head(kind, outputs, decoding)


def _output_fits(kind, out):
    """Whether one output layer can be the head (or a column) of a ``kind`` target."""
    if kind.startswith("continuous"):
        if out.activation == "increasing":  # quantile levels of a 1-D target
            return kind == "continuous"
        return out.activation in ("linear", "exp") and (kind != "continuous" or out.units == 1)
    if kind == "multilabel-indicator":
        return out.activation == "sigmoid"
    if kind in ("one-hot", "multiclass"):
        return out.activation == "softmax" and out.units >= 2
    # binary, and each column of a multiclass-multioutput target
    return (out.activation, out.units) == ("sigmoid", 1) or (
        out.activation == "softmax" and out.units >= 2 and (kind != "binary" or out.units == 2)
    )


def _check_head(kind, outputs, decoding):
    """The outputs and decoding a ``kind`` target gets; anything else is refused."""
    from .heads import loss_rule, output_decoding

    many = kind == "multiclass-multioutput"
    if not many and len(outputs) != 1:
        raise _damaged(f"a {kind!r} target has one output layer, not {len(outputs)}")
    for out in outputs:
        if not _output_fits(kind, out):
            raise _damaged(
                f"an output of {out.units} {out.activation} unit(s) cannot be the head of "
                f"a {kind!r} target"
            )
        rule = loss_rule(out.loss)
        trains = rule is not None and rule.trainable and (
            rule.activation == out.activation
            or (rule.name, out.activation) == ("quantile", "increasing")
        )  # fmt: skip
        if not trains:
            raise _damaged(f"loss {out.loss!r} does not train a {out.activation} output")
    expected = "argmax per output" if many else output_decoding(kind, outputs[0])
    if decoding != expected:
        raise _damaged(f"the decoding {decoding!r} is not a {kind!r} target's ({expected!r})")


def _spec_to_dict(spec):
    outputs = [_output_to_dict(o) for o in spec.outputs]
    if isinstance(spec, BodySpec):
        if spec.input_names:  # several inputs: a shape per name
            return {
                "kind": "body",
                "body_config": spec.body_config,
                "input_shape": [[int(d) for d in shape] for shape in spec.input_shape],
                "outputs": outputs,
                "input_names": list(spec.input_names),
            }
        return {
            "kind": "body",
            "body_config": spec.body_config,
            "input_shape": [int(d) for d in spec.input_shape],
            "outputs": outputs,
        }
    data = {
        "kind": "dense",
        "n_features": int(spec.n_features),
        "hidden_layer_sizes": [int(s) for s in spec.hidden_layer_sizes],
        "activation": spec.activation,
        "outputs": outputs,
        "dropout": float(spec.dropout),
    }
    if spec.embeddings:  # only then: files without tables keep their layout
        data["embeddings"] = [[int(rows), int(width)] for rows, width in spec.embeddings]
    return data


def _spec_from_dict(data):
    if not isinstance(data, dict) or data.get("kind") not in ("dense", "body"):
        raise _damaged("the network description is not a dense network or a body")
    if data["kind"] == "body":
        _check_keys(
            data,
            {"kind", "body_config", "input_shape", "outputs"},
            "the network",
            optional={"input_names"},
        )
        shape = data["input_shape"]
        if not isinstance(shape, (list, tuple)) or not shape:
            raise _damaged("input_shape is not a list")
        names = data.get("input_names")
        if names is not None:
            if (
                not isinstance(names, (list, tuple))
                or len(names) != len(shape)
                or len(set(map(str, names))) != len(names)
            ):
                raise _damaged("input_names does not name each input once")
            return BodySpec(
                body_config=_str(data["body_config"], "body_config"),
                input_shape=tuple(_shape(s) for s in shape),
                outputs=_outputs_from_list(data["outputs"]),
                input_names=tuple(_str(n, "input_names") for n in names),
            )
        return BodySpec(
            body_config=_str(data["body_config"], "body_config"),
            input_shape=_shape(shape),
            outputs=_outputs_from_list(data["outputs"]),
        )
    _check_keys(
        data,
        {"kind", "n_features", "hidden_layer_sizes", "activation", "outputs", "dropout"},
        "the network",
        optional={"embeddings"},
    )
    sizes = data["hidden_layer_sizes"]
    if not isinstance(sizes, (list, tuple)):  # empty: no hidden layer
        raise _damaged("hidden_layer_sizes is not a list of ints")
    from ._network import KERAS_ACTIVATIONS

    if data["activation"] not in KERAS_ACTIVATIONS.values():
        raise _damaged(f"unknown activation {data['activation']!r}")
    tables = data.get("embeddings", [])
    if not isinstance(tables, (list, tuple)) or not all(
        isinstance(t, (list, tuple)) and len(t) == 2 for t in tables
    ):
        raise _damaged("embeddings is not a list of (rows, width)")
    n_features = _int(data["n_features"], "n_features", minimum=1)
    if len(tables) > n_features:
        raise _damaged(f"{len(tables)} embedding tables for {n_features} input columns")
    return NetworkSpec(
        n_features=n_features,
        hidden_layer_sizes=tuple(_int(s, "hidden_layer_sizes", minimum=1) for s in sizes),
        activation=data["activation"],
        outputs=_outputs_from_list(data["outputs"]),
        dropout=_dropout(data["dropout"]),
        embeddings=tuple(
            (_int(rows, "embeddings", minimum=2), _int(width, "embeddings", minimum=1))
            for rows, width in tables
        ),
    )


def _shape(shape):
    if not isinstance(shape, (list, tuple)) or not shape:
        raise _damaged("input_shape is not a list")
    return tuple(_int(d, "input_shape", minimum=1) for d in shape)


def _dropout(value):
    rate = _float(value, "dropout")
    if not 0.0 <= rate < 1.0:
        raise _damaged(f"the dropout rate is {rate}, outside [0, 1)")
    return rate


def _check_weights(weights, spec):
    if not isinstance(weights, (list, tuple)) or not weights:
        raise _damaged("the weights are not a list of arrays")
    for w in weights:
        if not isinstance(w, np.ndarray) or w.dtype.kind != "f":
            raise _damaged("the weights are not all float arrays")
        if not np.isfinite(w).all():
            raise _damaged("the weights hold NaN or inf")
    if isinstance(spec, NetworkSpec):
        expected = spec.weight_shapes()
        got = [tuple(w.shape) for w in weights]
        if got != expected:
            raise _damaged(f"the weights have shapes {got}, but the network needs {expected}")
    # float64 stays float64 (dtype="float64"); anything else is read as float32.
    dtype = np.float64 if all(w.dtype == np.float64 for w in weights) else np.float32
    return tuple(np.asarray(w, dtype=dtype) for w in weights)


def _optimizer_state(optimizer, solver, weights):
    """``[step, learning_rate, *slots]``, as the training loops lay it out.

    Each trainable weight (in order; a body's non-trainable ones have none)
    has one slot per solver slot of its own shape: SGD's momentum, Adam's two
    moments.
    """
    if optimizer is None:
        return None
    if not isinstance(optimizer, (list, tuple)) or not all(
        isinstance(a, np.ndarray) for a in optimizer
    ):
        raise _damaged("the optimizer state is not a list of arrays")
    per_weight = {"adam": 2, "sgd": 1}.get(solver)
    if per_weight is None:
        raise _damaged(f"an optimizer state is saved for solver {solver!r}, which keeps none")
    if len(optimizer) < 2:
        raise _damaged("the optimizer state has no step count and learning rate")
    step, rate, *slots = optimizer
    if step.shape != () or step.dtype.kind not in "iu" or step < 0:
        raise _damaged(f"the optimizer's step count is {step!r}, not an int >= 0")
    if rate.shape != () or rate.dtype.kind != "f" or not (np.isfinite(rate) and rate > 0):
        raise _damaged(f"the optimizer's learning rate is {rate!r}, not a number > 0")
    if len(slots) % per_weight or any(s.dtype.kind != "f" for s in slots):
        raise _damaged(f"the optimizer state does not hold {per_weight} float slot(s) per weight")
    shapes = [tuple(s.shape) for s in slots[::per_weight]]
    grouped = all(tuple(s.shape) == shapes[i // per_weight] for i, s in enumerate(slots))
    remaining = iter(tuple(w.shape) for w in weights)
    in_order = all(any(shape == w for w in remaining) for shape in shapes)
    if not grouped or not in_order or not all(np.isfinite(s).all() for s in slots):
        raise _damaged("the optimizer state does not match the weights")
    return tuple(optimizer)


def _encoder_to_dict(encoder):
    classes = encoder.classes_
    if isinstance(classes, list):
        classes = [np.asarray(c) for c in classes]
    data = {
        "ndim": int(encoder.ndim_),
        "dtype": np.dtype(encoder.dtype_).str,
        "n_columns": int(encoder.n_columns_),
        "classes": classes,
        "mean": None,
        "scale": None,
    }
    if getattr(encoder, "sparse_", False):
        data["sparse"] = True  # only then: files without the key load as before
    if classes is None:
        data["mean"] = np.asarray(encoder.mean_, dtype=np.float64)
        data["scale"] = np.asarray(encoder.scale_, dtype=np.float64)
    return data


def _encoder_from_dict(data, head):
    _check_keys(
        data,
        {"ndim", "dtype", "n_columns", "classes", "mean", "scale"},
        "the encoder",
        optional={"sparse"},
    )
    encoder = TargetEncoder(head)
    encoder.sparse_ = data.get("sparse", False)
    if type(encoder.sparse_) is not bool:
        raise _damaged(f"the encoder's sparse flag is {encoder.sparse_!r}, not True or False")
    encoder.ndim_ = _int(data["ndim"], "ndim", minimum=1)
    if encoder.ndim_ > 2:
        raise _damaged(f"the target had {encoder.ndim_} dimensions")
    try:
        encoder.dtype_ = np.dtype(_str(data["dtype"], "dtype"))
    except TypeError as exc:
        raise _damaged(f"unknown dtype {data['dtype']!r}") from exc
    if encoder.dtype_.kind not in "biufUSOMm":
        raise _damaged(f"the target's dtype {encoder.dtype_} does not hold labels or numbers")
    encoder.n_columns_ = _int(data["n_columns"], "n_columns", minimum=1)
    kind, outputs = head.target_type, head.outputs
    columns = {
        "binary": 1,
        "multiclass": 1,
        "one-hot": outputs[0].units,
        "multilabel-indicator": outputs[0].units,
        "multiclass-multioutput": len(outputs),
        "continuous": 1,
        "continuous-multioutput": outputs[0].target_width,
    }[kind]
    if encoder.n_columns_ != columns or (encoder.ndim_ == 1 and columns != 1):
        raise _damaged(
            f"the target had {encoder.n_columns_} column(s) in {encoder.ndim_} dimension(s), "
            f"but its head reads {columns}"
        )
    classes = data["classes"]
    if head.target_type in ("continuous", "continuous-multioutput"):
        if classes is not None:
            raise _damaged("a regression target has classes")
        for name in ("mean", "scale"):
            value = data[name]
            if (
                not isinstance(value, np.ndarray)
                or value.shape != (encoder.n_columns_,)
                or value.dtype.kind != "f"
                or not np.isfinite(value).all()
            ):
                raise _damaged(f"the target's {name} is not {encoder.n_columns_} finite numbers")
            setattr(encoder, f"{name}_", value.astype(np.float64))
        if not np.all(encoder.scale_ > 0):
            raise _damaged("the target's scale is not > 0 (predictions divide by nothing)")
        encoder.classes_ = None
        return encoder
    if data["mean"] is not None or data["scale"] is not None:
        raise _damaged("a classification target has a mean and scale")
    if head.target_type == "multiclass-multioutput":
        if not isinstance(classes, (list, tuple)) or len(classes) != len(outputs):
            raise _damaged("the classes are not one array per output")
        per_output = list(classes)
    else:
        per_output = [classes]
    for c, out in zip(per_output, outputs):
        if not isinstance(c, np.ndarray) or c.ndim != 1 or len(c) < 2:
            raise _damaged("the classes are not an array of two or more labels")
        _check_sorted_labels(c)
        if kind in ("one-hot", "multilabel-indicator"):
            if not np.array_equal(c, np.arange(out.units)):
                raise _damaged("the classes of an indicator target are not its column indices")
            continue
        width = 2 if out.units == 1 and out.activation == "sigmoid" else out.units
        if len(c) != width:
            raise _damaged(f"{len(c)} classes for an output of {out.units} unit(s)")
    encoder.classes_ = list(per_output) if isinstance(classes, (list, tuple)) else classes
    return encoder


def _check_sorted_labels(classes):
    """Classes are sorted and unique: the encoder finds labels by binary search."""
    try:
        unique = np.unique(classes)
    except TypeError:  # labels that cannot be ordered (str beside int, say)
        raise _damaged("the classes mix label types that cannot be sorted") from None
    if len(unique) != len(classes) or not np.all(unique == classes):
        raise _damaged("the classes are not sorted and unique")
