"""The head doctor: does a Keras model's output layer and loss fit the target?

:func:`diagnose_head` reads the output layer(s) of a complete Keras model (units
and activation) and its loss, asks :func:`skout.heads.choose_head` which head
the target needs, and returns a list of :class:`Finding` objects saying what
does not fit and what to write instead. :func:`check_head` raises
:class:`HeadMismatchError` when any finding is an error.

It diagnoses the classic mistakes: three sigmoid units trained with
``categorical_crossentropy`` on a three-class target, two softmax units
trained with ``binary_crossentropy``, softmax on a single unit (it always
outputs 1.0), a linear output with a cross-entropy loss, softmax on a
multilabel target, a sigmoid on a regression target; and it explains what a
correct classifier head returns (probabilities, to decode with ``argmax``).

Every finding code is an entry of :data:`skout.doctor_catalogue.CATALOGUE`
(symptom, why it fails, fix), rendered in the docs as *The head doctor's
findings*. The losses and decodings are those of :mod:`skout.heads`
(:data:`~skout.heads.LOSS_TABLE`, :data:`~skout.heads.DECODINGS`).

Importing this module does not import Keras: the model's layers are read
when :func:`diagnose_head` runs.

Examples
--------
>>> import numpy as np, keras
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid")])
>>> model.compile(loss="categorical_crossentropy")
>>> y = np.eye(3)[[0, 1, 2, 1]]                       # one-hot, 3 classes
>>> [(f.severity, f.code) for f in diagnose_head(model, y)]
[('error', 'sigmoid-multiclass')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.utils.multiclass import type_of_target

from ._framework import import_keras
from ._text import shown
from .doctor_catalogue import BY_CODE, SEVERITIES
from .heads import DECODINGS, OutputHead, choose_head, loss_rule, output_decoding

__all__ = ["SEVERITIES", "Finding", "HeadMismatchError", "check_head", "diagnose_head"]


BCE, SCCE, CCE, MSE = (
    "binary_crossentropy",
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "mean_squared_error",
)


@dataclass(frozen=True)
class Finding:
    """One thing the doctor noticed about a model's head.

    Attributes
    ----------
    severity : {"error", "warning", "info"}
        ``"error"``: the head cannot learn this target (or its predictions
        cannot be read as the target). ``"warning"``: it trains, but not the
        way it should. ``"info"``: nothing to fix, something to know.
    code : str
        A short stable identifier, such as ``"sigmoid-multiclass"``,
        ``"units-mismatch"``, ``"loss-mismatch"`` or ``"ok"``: one of
        :data:`skout.doctor_catalogue.CATALOGUE`, which says for each code
        what it looks like, why it fails and how to fix it.
    message : str
        What was found, naming the layer, units, activation and loss.
    fix : str
        What to change, as Keras code from skout's head table; empty when
        there is nothing to change.

    Examples
    --------
    >>> f = Finding("error", "softmax-one-unit", "Dense(1, activation='softmax') "
    ...             "always outputs 1.0.", "Dense(1, activation='sigmoid')")
    >>> print(f)
    error [softmax-one-unit]: Dense(1, activation='softmax') always outputs 1.0.
      fix: Dense(1, activation='sigmoid')
    """

    severity: str
    code: str
    message: str
    fix: str = ""

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}.")
        # The doctor reports only what its catalogue documents.
        if self.code not in BY_CODE:
            raise ValueError(
                f"Unknown finding code {self.code!r}: the codes are those of "
                f"skout.doctor_catalogue.CATALOGUE ({', '.join(BY_CODE)})."
            )
        if self.severity not in BY_CODE[self.code].severities:
            raise ValueError(
                f"A {self.code!r} finding is reported as "
                f"{' or '.join(BY_CODE[self.code].severities)}, not {self.severity!r}."
            )

    @property
    def kind(self):
        """This code's :class:`~skout.doctor_catalogue.FindingKind`: symptom, why, fix."""
        return BY_CODE[self.code]

    def __str__(self):
        text = f"{self.severity} [{self.code}]: {self.message}"
        return f"{text}\n  fix: {self.fix}" if self.fix else text


def _finding(code, message, fix="", *, minor=False):
    """A :class:`Finding` with its catalogue severity: the main one, or the minor one."""
    severities = BY_CODE[code].severities
    return Finding(severities[-1] if minor else severities[0], code, message, fix)


class HeadMismatchError(ValueError):
    """The model's output head or loss cannot learn the target.

    Raised by :func:`check_head`; its message lists every error finding with
    its fix, and :attr:`findings` holds all the findings.
    """

    def __init__(self, findings):
        self.findings = list(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        lines = [f"The model's output head does not fit the target ({len(errors)} error(s)):"]
        for f in errors:
            lines.append(f"- [{f.code}] {f.message}")
            if f.fix:
                lines.append(f"  fix: {f.fix}")
        super().__init__("\n".join(lines))


# --------------------------------------------------------------------------
# Reading the model: output layers and losses
# --------------------------------------------------------------------------

# Layers that only pass their input on (the activation is further back).
_PASS_THROUGH = {
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
    "Flatten",
    "Reshape",
}
# Layers that are nothing but an activation function.
_ACTIVATION_LAYERS = {
    "Activation": None,
    "Softmax": "softmax",
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "PReLU": "prelu",
}
_ACTIVATION_ALIASES = {"none": "linear", "identity": "linear", "swish": "silu"}
_SIGMOID_LIKE = ("sigmoid", "hard_sigmoid")
_LOGITS_LIKE = ("linear", "log_softmax")
# Lower bound of each activation's output (regression range checks).
_LOWER_BOUND = {
    "relu": 0.0,
    "relu6": 0.0,
    "softplus": 0.0,
    "exponential": 0.0,
    "elu": -1.0,
    "selu": -1.7581,
}


@dataclass(frozen=True)
class _Output:
    key: str  # the output's name (dict key, or layer name)
    units: int | None
    activation: str  # normalised name, "unknown" when it could not be read
    layer: str  # how to show the layer, e.g. "Dense(3, activation='sigmoid')"
    sample_shape: tuple = ()  # the output's shape per sample, when it has several axes


def _activation_name(fn):
    """A normalised name for an activation function (``None`` is linear).

    Only Keras's own activations are read by name. Any other function (yours,
    registered or not) is ``"custom <name>"``: its name does not say what it
    computes, so the doctor treats it as unknown rather than guess.
    """
    if fn is None:
        return "linear"
    keras = import_keras()

    try:
        name = keras.activations.serialize(fn)
        builtin = isinstance(name, str) and ">" not in name and keras.activations.get(name) is fn
    except Exception:  # custom callables Keras cannot serialise or look up
        builtin = False
    if not builtin:
        return f"custom {getattr(fn, '__name__', None) or type(fn).__name__}"
    name = name.lower()
    return _ACTIVATION_ALIASES.get(name, name)


def _layer_activation(layer):
    """The activation a layer applies last, or None when it has none."""
    cls = type(layer).__name__
    if cls in _ACTIVATION_LAYERS and _ACTIVATION_LAYERS[cls] is not None:
        return _ACTIVATION_LAYERS[cls]
    if not hasattr(layer, "activation"):
        return None
    return _activation_name(layer.activation)


def _units_of(layer):
    for attr in ("units", "filters"):
        value = getattr(layer, attr, None)
        if isinstance(value, int | np.integer):
            return int(value)
    return None


def _describe(core_cls, act_cls, units, activation):
    if act_cls is None:
        return f"{core_cls}({units}, activation={activation!r})"
    act = f"{act_cls}({activation!r})" if act_cls == "Activation" else f"{act_cls}()"
    return f"{act} on {units} units" if core_cls is None else f"{core_cls}({units}) + {act}"


def _scan(layers):
    """(activation, core layer or None, activation-layer class) of the last layers.

    ``layers`` runs from the output backwards. A trailing ``Activation`` or
    ``Softmax`` layer gives the activation, the layer before it the units;
    dropout-like layers in between are passed over.
    """
    activation = act_cls = None
    for layer in layers:
        cls = type(layer).__name__
        act = _layer_activation(layer)
        is_act_layer = cls in _ACTIVATION_LAYERS
        if activation is None and act is not None and not (is_act_layer and act == "linear"):
            if not is_act_layer:
                return act, layer, None
            activation, act_cls = act, cls  # look further back for the layer with the units
        elif activation is not None and not is_act_layer and cls not in _PASS_THROUGH:
            return activation, layer, act_cls
        elif not (is_act_layer or cls in _PASS_THROUGH):
            break
    return activation or "unknown", None, act_cls


def _layers_behind(tensor):
    """The layers that produced ``tensor``, from the last backwards, into nested models."""
    keras = import_keras()

    history = getattr(tensor, "_keras_history", None)
    for _ in range(200):
        op = getattr(history, "operation", None)
        if op is None:
            return
        if isinstance(op, keras.Model):  # a nested model: follow its own output
            try:
                inner = keras.tree.flatten(op.outputs)[history.tensor_index]
            except (AttributeError, IndexError, ValueError):
                return
            history = getattr(inner, "_keras_history", None)
            continue
        yield op
        try:
            inp = op.input
        except (AttributeError, ValueError):
            return
        if isinstance(inp, list | tuple | dict):
            return
        history = getattr(inp, "_keras_history", None)


def _read_outputs(model):
    """One :class:`_Output` per output of ``model``."""
    try:
        tensors = model.outputs
    except (AttributeError, ValueError):  # a Sequential model not built yet
        tensors = None
    if not tensors:
        return [_read_unbuilt(model)]
    try:
        structure = model.output
    except (AttributeError, ValueError):
        structure = None
    if isinstance(structure, Mapping):
        keys = sorted(structure)  # the order of model.outputs (keras.tree.flatten)
    else:
        keys = list(getattr(model, "output_names", None) or [])
    outputs = []
    for i, tensor in enumerate(tensors):
        shape = tuple(tensor.shape)
        units = int(shape[-1]) if shape and shape[-1] is not None else None
        per_sample = tuple(shape[1:])
        activation, core, act_cls = _scan(_layers_behind(tensor))
        op = getattr(getattr(tensor, "_keras_history", None), "operation", None)
        key = keys[i] if i < len(keys) else getattr(op, "name", f"output_{i}")
        core_cls = type(core).__name__ if core is not None else None
        layer = _describe(core_cls, act_cls, units, activation)
        outputs.append(
            _Output(str(key), units, activation, layer, per_sample if len(per_sample) > 1 else ())
        )
    return outputs


def _read_unbuilt(model):
    layers = list(getattr(model, "layers", None) or [])
    if not layers:
        raise ValueError(
            "The model has no layers or outputs to read; pass a complete Keras model "
            "including its output layer."
        )
    activation, core, act_cls = _scan(reversed(layers))
    units = _units_of(core) if core is not None else None
    core_cls = type(core).__name__ if core is not None else None
    return _Output(
        layers[-1].name, units, activation, _describe(core_cls, act_cls, units, activation)
    )


@dataclass(frozen=True)
class _Loss:
    name: str | None  # canonical name, None when there is no loss
    from_logits: bool
    text: str  # how to show it, e.g. "loss='categorical_crossentropy'"

    @property
    def family(self):
        """The loss family of :data:`skout.heads.LOSS_TABLE`, "none" or "other"."""
        if self.name is None:
            return "none"
        rule = loss_rule(self.name)
        return rule.family if rule is not None else "other"

    @property
    def logits_class(self):
        """The ``keras.losses`` class that takes ``from_logits=True`` for this loss."""
        rule = loss_rule(self.name or "")
        if rule is not None and rule.name.endswith("crossentropy"):
            return rule.keras_class
        return "CategoricalCrossentropy"


_CROSS_ENTROPY = ("binary", "sparse", "categorical")


def _canonical_loss(raw, named=False):
    """Keras's name for a loss, from skout's loss table or (failing that) from Keras.

    ``named``: ``raw`` is a name the user wrote (or compiled with); one that
    neither skout nor Keras knows is a ValueError, never "not checked".
    """
    raw = str(raw)
    rule = loss_rule(raw)
    if rule is not None:
        return rule.name
    try:
        keras = import_keras()

        found = keras.losses.get(raw)
    except Exception:  # not a Keras loss name
        if named:
            raise _unknown_loss_name(raw) from None
        return raw
    found_name = getattr(getattr(found, "fn", None), "__name__", None) or getattr(
        found, "__name__", getattr(found, "name", raw)
    )
    rule = loss_rule(found_name)
    return rule.name if rule is not None else found_name


def _unknown_loss_name(raw):
    """A ValueError for a loss name that skout and Keras both do not know."""
    import difflib

    from .heads import LOSS_TABLE

    known = sorted({n for r in LOSS_TABLE for n in (r.name, *r.aliases, *r.other_names)})
    if not raw.strip():
        return ValueError(f"loss={raw!r} names no loss. Give a Keras loss, e.g. {known[0]!r}.")
    if raw != raw.strip() and loss_rule(raw.strip()) is not None:
        hint = f" Did you mean {raw.strip()!r} (without the spaces around it)?"
    else:
        close = difflib.get_close_matches(raw.lower(), known, n=2)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    return ValueError(
        f"Unknown loss {raw!r}: neither skout nor Keras knows it, so the head cannot be "
        f"checked against it.{hint} Known names include: {', '.join(known)}."
    )


def _read_loss(loss):
    """Normalise a loss given as a name, a ``keras.losses.Loss`` or a function."""
    if loss is None:
        return _Loss(None, False, "no loss")
    if isinstance(loss, str):
        name = _canonical_loss(loss, named=True)
        text = f"loss={loss!r}" if name == loss else f"loss={loss!r} ({name})"
        return _Loss(name, False, text)
    if not callable(loss):
        raise TypeError(
            f"loss must be a loss name, a keras.losses.Loss or a loss function (or a list "
            f"or dict of them, one per output); got {loss!r} ({type(loss).__name__})."
        )
    try:
        config = loss.get_config() if callable(getattr(loss, "get_config", None)) else {}
    except Exception:  # a custom loss whose config cannot be read
        config = {}
    from_logits = bool(getattr(loss, "from_logits", (config or {}).get("from_logits", False)))
    raw = (
        getattr(getattr(loss, "fn", None), "__name__", None)
        or getattr(loss, "__name__", None)
        or getattr(loss, "name", None)
        or type(loss).__name__
    )
    name = _canonical_loss(raw)
    if from_logits:
        rule = loss_rule(name)
        text = f"loss={rule.keras_class if rule else type(loss).__name__}(from_logits=True)"
    else:
        text = f"loss={name!r}"
    return _Loss(name, from_logits, text)


def _read_losses(model, loss, outputs):
    """One :class:`_Loss` per output: from ``loss`` or the model's compiled loss."""
    source = loss if loss is not None else getattr(model, "loss", None)
    if isinstance(source, Mapping):
        names = [o.key for o in outputs]
        unknown = [k for k in source if k not in names]
        if unknown:
            raise ValueError(
                f"The losses name output(s) {unknown} that the model does not have; its "
                f"outputs are {names}. Key each loss by one of those names."
            )
        return [_read_loss(source.get(o.key)) for o in outputs]
    if isinstance(source, Sequence) and not isinstance(source, str | bytes):
        items = list(source)
        if len(items) == 1:
            return [_read_loss(items[0])] * len(outputs)
        if len(items) != len(outputs):
            raise ValueError(
                f"{len(items)} losses were given for a model with {len(outputs)} output(s); "
                "give one loss per output."
            )
        return [_read_loss(item) for item in items]
    return [_read_loss(source)] * len(outputs)


# --------------------------------------------------------------------------
# Reading the target
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    kind: str  # skout's target type
    what: str  # "a multiclass target with 3 classes", ...
    rows: bool = False  # the loss sees rows of 0/1 (one-hot / multilabel), not labels
    low: float = 0.0  # regression: range of y
    high: float = 0.0
    counts: bool = False  # regression: y holds non-negative whole numbers

    @property
    def multilabel(self):
        return self.kind == "multilabel-indicator"


def _fmt(x):
    return f"{x:.4g}"


def _targets(head, y):
    """One :class:`_Target` per output of ``head``."""
    kind = head.target_type
    if kind in ("continuous", "continuous-multioutput"):
        values = y.astype(np.float64)
        low, high = float(np.min(values)), float(np.max(values))
        cols = "" if kind == "continuous" else f" with {values.shape[1]} columns"
        what = f"a {kind} target{cols} ranging from {_fmt(low)} to {_fmt(high)}"
        counts = bool(low >= 0 and np.all(values == np.round(values)))
        return [_Target(kind, what, low=low, high=high, counts=counts)]
    if kind == "multiclass-multioutput":
        out = []
        for j, o in enumerate(head.outputs):
            k = max(o.units, 2)
            out.append(_Target(kind, f"column {j} of y ({k} classes, one label per row)"))
        return out
    k = max(head.outputs[0].units, 2)
    what = {
        "binary": f"a binary target (2 classes, one label per row: {_classes_text(y)})",
        "multiclass": f"a multiclass target with {k} classes (one label per row)",
        "one-hot": f"a one-hot target with {k} classes (one 1 per row)",
        "multilabel-indicator": f"a multilabel target with {k} labels (any number of 1s per row)",
    }[kind]
    return [_Target(kind, what, rows=kind in ("one-hot", "multilabel-indicator"))]


def _classes_text(y):
    classes = np.unique(np.asarray(y).ravel())
    # repr, escaped and cut: a label is data, and may be long or hold escape codes
    return ", ".join(shown(repr(c.item() if hasattr(c, "item") else c)) for c in classes[:2])


def _guess_estimator(y, losses):
    """'classifier' or 'regressor' for estimator='auto', and a note when it guessed."""
    try:
        kind = type_of_target(y)
    except (ValueError, TypeError):
        return "classifier", None
    if kind in ("continuous", "continuous-multioutput"):
        return "regressor", None
    numeric = y.dtype.kind in "iuf"
    families = {loss.family for loss in losses}
    if numeric and kind in ("multiclass", "multiclass-multioutput") and families == {"regression"}:
        n = len(np.unique(y))
        loss_text = losses[0].text
        note = _finding(
            "regression-guess",
            f"y holds {n} distinct whole numbers and the model trains with {loss_text}, "
            "so y is checked as a regression target.",
            "if the numbers are class labels, check again with estimator='classifier' "
            "(skout check --classifier) and use a softmax head with "
            f"loss={SCCE!r}",
        )
        return "regressor", note
    return "classifier", None


# --------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------


def _head_text(option):
    return f"{option.keras_code()} with loss={option.loss!r}"


def _loss_fix(option, target, loss):
    """The loss the target needs, in words, for a fix line."""
    if option.activation == "softmax" and not target.rows:
        extra = ""
        if loss.family == "categorical":
            extra = (
                f" (or keep {loss.text} and one-hot encode y with keras.utils.to_categorical(y))"
            )
        return f"loss={SCCE!r}{extra}"
    return f"loss={option.loss!r}"


def _fix_text(option, target, loss):
    return f"{option.keras_code()} with {_loss_fix(option, target, loss)}"


def _decode_line(option, target, j=None, logits=False):
    """The head table's decoding of ``option``, as a line for output ``j``."""
    decoding = DECODINGS[output_decoding(target.kind, option)]
    return decoding.keras_code(
        pred="model.predict(X)" + ("" if j is None else f"[{j}]"),
        classes="classes" if j is None else f"classes_{j}",
        cut="0" if logits else "0.5",  # a logit of 0 is a probability of 0.5
        k=option.units,
    )


def _decode_finding(out, option, target, logits, j):
    k = option.units
    if logits:
        squash = "a sigmoid" if option.activation == "sigmoid" else "a softmax"
        how = (
            "threshold them at 0 (a logit of 0 is probability 0.5)"
            if option.activation == "sigmoid"
            else "argmax them directly (the largest logit is the most probable class)"
        )
        message = (
            f"{out.layer} outputs logits (unbounded scores), not probabilities: apply "
            f"{squash} (keras.activations.{option.activation}) to get probabilities, or "
            f"{how}."
        )
        return _finding("decode-logits", message, _decode_line(option, target, j, True))
    if option.activation == "sigmoid" and k == 1:
        message = (
            "model.predict returns one probability per row, for the second class "
            "(classes[1]), not a label: threshold it at 0.5. An untrained network gives "
            "values near 0.5 for every row; they separate as it learns."
        )
    elif target.multilabel:
        message = (
            f"model.predict returns an (n, {k}) array of independent probabilities, one "
            f"per label, not 0/1: threshold each at 0.5. An untrained network gives values "
            f"near 0.5 everywhere."
        )
    else:
        message = (
            f"model.predict returns probabilities, not labels: an (n, {k}) array with one "
            f"probability per class, each row summing to 1. Decode with np.argmax(p, axis=1) "
            f"for the most probable class. An untrained or barely trained network gives "
            f"near-uniform rows, each value close to 1/{k} = {1 / k:.3g}; they separate as "
            f"it learns."
        )
    message += " (skout's AutoHeadClassifier.predict decodes for you; predict_proba keeps them.)"
    return _finding("decode-probabilities", message, _decode_line(option, target, j))


def _unread_activation(out):
    """Why the activation of an output was not checked."""
    if out.activation.startswith("custom "):
        return (
            f"the last layer applies your own activation ({out.activation[7:]}), which skout "
            "cannot read, so it was not checked"
        )
    return "the activation of the last layer could not be read"


def _act_kind(activation):
    if activation in _SIGMOID_LIKE:
        return "sigmoid"
    if activation == "softmax":
        return "softmax"
    if activation in _LOGITS_LIKE:
        return "logits"
    if activation == "unknown" or activation.startswith("custom "):
        return "unknown"
    return "other"


def _label_output(out, loss, options, target, where, j):
    """Findings for one output trained on class labels (or one-hot / multilabel rows)."""
    findings = []
    by_units = {o.units: o for o in options}
    option = by_units.get(out.units, options[0])
    kind = _act_kind(out.activation)
    seen = f"{where} is {out.layer} with {loss.text}"
    fix = _fix_text(option, target, loss)
    structural = None
    if out.units == 1 and kind == "softmax":
        one = by_units.get(1) or OutputHead(1, "sigmoid", BCE)
        best = one if target.kind == "binary" else options[0]
        structural = _finding(
            "softmax-one-unit",
            f"{seen}: softmax over a single unit always outputs 1.0 (it normalises the "
            f"unit against itself), so the network predicts the same thing for every row "
            f"and learns nothing. y is {target.what}.",
            _fix_text(best, target, loss)
            + (f", or {_head_text(options[-1])}" if target.kind == "binary" else ""),
        )
    elif target.multilabel and kind == "softmax":
        structural = _finding(
            "softmax-multilabel",
            f"{seen}, but y is {target.what}: softmax makes the {out.units} outputs compete "
            f"and sum to 1, so a row with several labels can never get them all.",
            _head_text(options[0]),
        )
    elif not target.multilabel and kind == "sigmoid" and (out.units or 0) >= 2:
        alt = ""
        if target.kind == "binary" and 1 in by_units:
            alt = f", or {_head_text(by_units[1])}"
        softmax = by_units.get(out.units) or options[0]
        benign = target.rows and loss.family == "binary"
        structural = _finding(
            "sigmoid-multiclass",
            f"{seen}, but y is {target.what}: the classes exclude each other, and "
            f"{out.units} independent sigmoid units each say yes/no on their own, so a row "
            f"can get several (or no) classes and rows do not sum to 1"
            + (
                f"; with {loss.text} the outputs are normalised inside the loss only, so "
                f"training pushes every unit toward 1"
                if loss.family == "categorical"
                else ""
            )
            + ". Exclusive classes need softmax.",
            _fix_text(softmax, target, loss) + alt,
            minor=benign,
        )
    elif out.units is not None and out.units not in by_units:
        wanted = " or ".join(str(u) for u in sorted(by_units))
        structural = _finding(
            "units-mismatch",
            f"{seen}: it has {out.units} unit(s), but y is {target.what}, which needs "
            f"{wanted} output unit(s), one per class"
            + (" (or 1 sigmoid unit for two classes)" if target.kind == "binary" else "")
            + ".",
            fix + (f", or {_head_text(options[-1])}" if len(options) > 1 else ""),
        )
    elif kind == "other":
        structural = _finding(
            "activation-mismatch",
            f"{seen}: {out.activation!r} does not give probabilities, but y is "
            f"{target.what}, which needs a {option.activation} output.",
            fix,
        )
    elif kind == "logits" and loss.family in _CROSS_ENTROPY and not loss.from_logits:
        structural = _finding(
            "linear-crossentropy",
            f"{seen}: a linear output gives unbounded scores, but {loss.text} expects "
            f"probabilities between 0 and 1 (from_logits=False), so the loss is computed on "
            f"clipped values and the network does not learn properly.",
            f"{option.keras_code()}, or keep the linear output and compile with "
            f"loss=keras.losses.{loss.logits_class}"
            f"(from_logits=True)",
        )
    if structural is not None:
        findings.append(structural)
    elif kind == "unknown":
        findings.append(
            _finding(
                "unknown-activation",
                f"{where}: {_unread_activation(out)}; y is {target.what}, which needs a "
                f"{option.activation} output.",
                _head_text(option),
            )
        )
    if structural is not None and structural.code != "linear-crossentropy":
        if loss.family == "regression":
            findings.append(_regression_loss_on_labels(seen, loss, option, target))
        return findings
    findings.extend(_label_loss(out, loss, option, target, seen, kind))
    if not any(f.severity in ("error", "warning") for f in findings):
        findings.append(
            _finding(
                "ok",
                f"{where} fits {target.what}: {out.layer} with {loss.text}.",
            )
        )
        findings.append(_decode_finding(out, option, target, kind == "logits", j))
    return findings


def _regression_loss_on_labels(seen, loss, option, target):
    shape_breaks = not target.rows and option.units > 1
    return _finding(
        "loss-mismatch",
        f"{seen}, a regression loss, but y is {target.what}: it treats "
        "class labels as numbers to approach"
        + (
            ", and one label per row cannot be compared with several outputs."
            if shape_breaks
            else "; it can train, but slowly and with poorly calibrated probabilities."
        ),
        _loss_fix(option, target, loss),
        minor=not shape_breaks,
    )


def _label_loss(out, loss, option, target, seen, kind):
    """Loss findings for a classifier output whose structure is right."""
    fam = loss.family
    if fam == "none":
        return [
            _finding(
                "no-loss",
                f"{seen}: the model is not compiled and no loss "
                f"was given, so only the layer was checked.",
                f"model.compile({_loss_fix(option, target, loss)}, ...)",
            )
        ]
    if fam == "other":
        return [
            _finding(
                "unknown-loss",
                f"{seen}: skout does not know loss {loss.name!r}, so it was not checked; "
                f"the head table trains this head with loss={option.loss!r}.",
                _loss_fix(option, target, loss),
            )
        ]
    if fam == "regression":
        return [_regression_loss_on_labels(seen, loss, option, target)]
    findings = []
    if loss.from_logits and kind in ("sigmoid", "softmax"):
        findings.append(
            _finding(
                "from-logits-activation",
                f"{seen}: the loss has from_logits=True, but the output already applies "
                f"{out.activation}, so probabilities are squashed a second time and gradients "
                f"are weak.",
                f"keep {out.layer} and use loss={option.loss!r} (from_logits=False), or make "
                f"the output linear: Dense({out.units})",
            )
        )
    if option.activation == "sigmoid":
        bad = {
            "categorical": (
                f"categorical_crossentropy normalises over the {out.units} output unit(s)"
                + (
                    ": over a single unit that is always 1, so the loss is always 0 and "
                    "nothing is learned."
                    if out.units == 1
                    else f", which assumes exactly one 1 per row, but y is {target.what}."
                )
            ),
            "sparse": (
                "sparse_categorical_crossentropy needs one output unit per class (2) and "
                "reads one class index per row"
                if out.units == 1
                else f"sparse_categorical_crossentropy reads one class index per row, but y "
                f"is {target.what}"
            )
            + ".",
        }
        if fam in bad:
            findings.append(_finding("loss-mismatch", f"{seen}: {bad[fam]}", f"loss={BCE!r}"))
        return findings
    # a softmax head (or softmax logits)
    if not target.rows:
        if fam == "categorical":
            findings.append(
                _finding(
                    "loss-mismatch",
                    f"{seen}: {loss.name} expects one-hot rows of shape (n, {option.units}), "
                    f"but y is {target.what}.",
                    _loss_fix(option, target, loss),
                )
            )
        elif fam == "binary":
            alt = ""
            if option.units == 2:
                alt = f", or {_head_text(OutputHead(1, 'sigmoid', BCE))}"
            findings.append(
                _finding(
                    "loss-mismatch",
                    f"{seen}, but y is {target.what}: binary_crossentropy scores each of the "
                    f"{out.units} softmax units as its own yes/no against the same label, "
                    f"which contradicts the softmax (the units must sum to 1); training is "
                    f"pulled toward predicting one class for every row.",
                    f"keep {out.layer} and use loss={SCCE!r} (or {CCE!r} with one-hot y)" + alt,
                )
            )
        return findings
    # one-hot rows
    if fam == "sparse":
        findings.append(
            _finding(
                "loss-mismatch",
                f"{seen}: sparse_categorical_crossentropy reads one class index per row, "
                f"but y is {target.what}.",
                f"loss={CCE!r} (or keep {loss.text} and pass y.argmax(axis=1))",
            )
        )
    elif fam == "binary":
        findings.append(
            _finding(
                "loss-mismatch",
                f"{seen}: binary_crossentropy treats the {out.units} one-hot columns as "
                f"independent yes/no labels although y is {target.what}; it trains, but "
                f"metrics=['accuracy'] then reports per-column binary accuracy (inflated).",
                f"loss={CCE!r}",
                minor=True,
            )
        )
    return findings


#: Output activations whose values are > 0: a mean on a log link (or close).
_POSITIVE = ("exponential", "softplus")
_LOG_LINK_NAMES = {"poisson": "Poisson", "gamma": "gamma", "tweedie": "Tweedie"}


def _log_link_output(out, loss, option, target, where):
    """Findings for an output trained with a deviance that reads a mean (> 0)."""
    seen = f"{where} is {out.layer} with {loss.text}"
    name = _LOG_LINK_NAMES[loss.name]
    fix = (
        f"Dense({option.units}, activation='exponential') with {loss.text} (or skout's "
        f"AutoHeadRegressor(loss={loss.name!r}), which puts the log link in the head)"
    )
    findings = []
    kind = _act_kind(out.activation)
    if kind == "unknown":
        findings.append(
            _finding(
                "unknown-activation",
                f"{where}: {_unread_activation(out)}; a {name} loss reads the output as a "
                "mean, which must stay above 0.",
                fix,
            )
        )
    elif out.activation not in _POSITIVE and kind != "sigmoid":
        findings.append(
            _finding(
                "log-link-linear",
                f"{seen}: {loss.name} reads the output as the predicted mean, which must be "
                f"above 0, but a {out.activation} output goes negative: the loss then takes "
                "the log of a negative mean and training turns to NaN.",
                fix,
            )
        )
    allowed_low = "above 0" if loss.name == "gamma" else "at least 0"
    if target.low < 0 or (loss.name == "gamma" and target.low <= 0):
        findings.append(
            _finding(
                "loss-target-range",
                f"{seen}, but y reaches {_fmt(target.low)}: a {name} target must be "
                f"{allowed_low}.",
                f"loss={MSE!r} (or mean_absolute_error) for a target that can be negative",
            )
        )
    if not findings:
        findings.append(_finding("ok", f"{where} fits {target.what}: {out.layer}."))
    return findings


def _regression_output(out, loss, option, target, where):
    """Findings for one output trained on continuous values."""
    if loss.name in _LOG_LINK_NAMES:
        return _log_link_output(out, loss, option, target, where)
    findings = []
    seen = f"{where} is {out.layer} with {loss.text}"
    if loss.name == "quantile" and (out.units or 1) > 1 and out.activation == "linear":
        findings.append(
            _finding(
                "quantile-crossing",
                f"{seen}: {out.units} quantiles as independent linear units can cross (the "
                "higher quantile predicted below the lower one on some rows).",
                "AutoHeadRegressor(loss='quantile', quantile=[...]): one unit per level, "
                "built so that they never cross (or sort each row's predictions)",
            )
        )
    if loss.name == MSE and out.activation in _POSITIVE and target.counts:
        findings.append(
            _finding(
                "counts-squared-error",
                f"{seen}, and y holds counts: a positive output models a mean on a log "
                "link, but squared error weighs the noise of large counts most; the "
                "loss that matches counts is the Poisson deviance.",
                f"Dense({option.units}, activation='exponential') with loss='poisson' (or "
                "AutoHeadRegressor(loss='poisson'))",
            )
        )
    fix = f"Dense({option.units}) (linear, activation=None) with loss={MSE!r}"
    kind = _act_kind(out.activation)
    in_range = f"y ranges from {_fmt(target.low)} to {_fmt(target.high)}"
    inside01 = target.low >= 0.0 and target.high <= 1.0
    if out.units is not None and out.units != option.units:
        findings.append(
            _finding(
                "units-mismatch",
                f"{seen}: it has {out.units} unit(s), but y is {target.what}, which needs "
                f"{option.units} output unit(s), one per target column.",
                fix,
            )
        )
    elif kind == "softmax" and out.units == 1:
        findings.append(
            _finding(
                "softmax-one-unit",
                f"{seen}: softmax over a single unit always outputs 1.0, whatever the input.",
                fix,
            )
        )
    elif kind == "softmax":
        findings.append(
            _finding(
                "softmax-regression",
                f"{seen}, but y is {target.what}: softmax forces the {out.units} outputs "
                "into [0, 1] and to sum to 1.",
                fix,
            )
        )
    elif kind == "sigmoid":
        findings.append(
            _finding(
                "sigmoid-regression-range",
                f"{seen}, but y is {target.what}: a sigmoid output can only give values "
                "between 0 and 1"
                + (
                    "; it can fit a target scaled to [0, 1], but saturates near the ends "
                    "(regression heads are linear)."
                    if inside01
                    else ", so most of y can never be reached."
                ),
                fix + ("" if inside01 else " (or scale y into [0, 1] first)"),
                minor=inside01,
            )
        )
    elif out.activation == "tanh":
        inside = target.low >= -1.0 and target.high <= 1.0
        findings.append(
            _finding(
                "activation-range",
                f"{seen}: tanh can only give values between -1 and 1"
                + ("." if inside else f", but {in_range}."),
                fix,
                minor=inside,
            )
        )
    elif out.activation in _LOWER_BOUND:
        bound = _LOWER_BOUND[out.activation]
        if target.low < bound:
            findings.append(
                _finding(
                    "activation-range",
                    f"{seen}: {out.activation} never outputs values below {bound:g}, but "
                    f"{in_range}.",
                    fix,
                )
            )
    elif kind == "other":
        findings.append(
            _finding(
                "activation-mismatch",
                f"{seen}: a regression output is usually linear; {out.activation!r} "
                "bends and may bound the predictions.",
                fix,
                minor=True,
            )
        )
    elif kind == "unknown":
        findings.append(
            _finding(
                "unknown-activation",
                f"{where}: {_unread_activation(out)}; a regression output should be linear.",
                fix,
            )
        )
    fam = loss.family
    if fam in _CROSS_ENTROPY:
        soft = fam == "binary" and inside01
        findings.append(
            _finding(
                "loss-mismatch",
                f"{seen}: {loss.name} is a classification loss, but y is {target.what}"
                + (
                    "; it can fit values in [0, 1] with a sigmoid output, but a regression "
                    "loss is the usual choice."
                    if soft
                    else ": cross-entropy needs class labels or probabilities."
                ),
                f"loss={MSE!r} (or mean_absolute_error, huber)",
                minor=soft,
            )
        )
    elif fam == "none":
        findings.append(
            _finding(
                "no-loss",
                f"{where} is {out.layer}: the model is not compiled and no loss was given, so "
                "only the layer was checked.",
                f"model.compile(loss={MSE!r}, ...)",
            )
        )
    elif fam == "other":
        findings.append(
            _finding(
                "unknown-loss",
                f"{seen}: skout does not know loss {loss.name!r}, so it was not checked; "
                f"the head table trains regression heads with loss={MSE!r}.",
                f"loss={MSE!r}",
            )
        )
    if not any(f.severity in ("error", "warning") for f in findings):
        findings.append(_finding("ok", f"{where} fits {target.what}: {out.layer}."))
    return findings


def _options(y, head, estimator):
    """Per output, the heads the table accepts (both binary variants)."""
    if head.target_type in ("binary", "multiclass-multioutput"):
        alt = choose_head(y, estimator=estimator, binary_head="softmax")
        return [list(dict.fromkeys(pair)) for pair in zip(head.outputs, alt.outputs)]
    return [[o] for o in head.outputs]


def diagnose_head(model, y, *, loss=None, estimator="auto"):
    """Compare a Keras model's output head and loss with what the target needs.

    Parameters
    ----------
    model : keras.Model
        A complete model (``Sequential`` or functional, compiled or not),
        including its output layer(s). Each output's units are the last
        dimension of that output; its activation is that of the last layer
        producing it (a trailing ``Activation`` or ``Softmax`` layer counts).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The target the model is (or will be) trained on.
    loss : str, keras.losses.Loss, callable, list or dict, default=None
        The loss to check, instead of the model's compiled loss. A loss with
        ``from_logits=True`` accepts a linear output.
    estimator : {"auto", "classifier", "regressor"}, default="auto"
        How to read ``y``. ``"auto"``: as class labels unless
        ``type_of_target(y)`` is continuous (or ``y`` holds whole numbers and
        every loss is a regression loss, which adds a ``"regression-guess"``
        note).

    Returns
    -------
    findings : list of Finding
        Errors and warnings with their fixes; a correct head gives only
        ``"info"`` findings: ``"ok"`` and, for classifiers, how to decode
        the probabilities (``"decode-probabilities"``).

    Raises
    ------
    ValueError
        If ``y`` is not a target skout can read (one class, mixed types,
        ...) or ``estimator`` is unknown.

    Examples
    --------
    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    >>> model.compile(loss="binary_crossentropy")
    >>> finding = diagnose_head(model, np.array([0, 1, 1, 0]))[0]
    >>> finding.severity, finding.code
    ('error', 'loss-mismatch')
    >>> print(finding.fix)  # doctest: +NORMALIZE_WHITESPACE
    keep Dense(2, activation='softmax') and use loss='sparse_categorical_crossentropy'
    (or 'categorical_crossentropy' with one-hot y), or Dense(1, activation='sigmoid')
    with loss='binary_crossentropy'
    """
    if estimator not in ("auto", "classifier", "regressor"):
        raise ValueError(
            f"estimator must be 'auto', 'classifier' or 'regressor', got {estimator!r}."
        )
    outputs = _read_outputs(model)
    losses = _read_losses(model, loss, outputs)
    y_arr = np.asarray(y)
    findings = []
    if estimator == "auto":
        estimator, note = _guess_estimator(y_arr, losses)
        if note is not None:
            findings.append(note)
    head = choose_head(y, estimator=estimator)
    if len(outputs) != len(head.outputs):
        findings.append(_outputs_mismatch(outputs, head))
        return findings
    options = _options(y, head, estimator)
    targets = _targets(head, y_arr)
    many = len(outputs) > 1
    for j, (out, out_loss, opts, target) in enumerate(zip(outputs, losses, options, targets)):
        where = f"Output {j} ({out.key!r})" if many else f"The output layer {out.key!r}"
        if out.sample_shape:
            findings.append(_shape_finding(out, opts[0], target, where))
            continue
        if head.is_classifier:
            findings.extend(_label_output(out, out_loss, opts, target, where, j if many else None))
        else:
            findings.extend(_regression_output(out, out_loss, opts[0], target, where))
    return findings


def _shape_finding(out, option, target, where):
    """An output with several axes per sample, for a target with one row per sample."""
    shape = "(n, " + ", ".join(str(d) for d in out.sample_shape) + ")"
    block = "(" + ", ".join(str(d) for d in out.sample_shape) + ")"
    return _finding(
        "output-shape",
        f"{where} gives an array of shape {shape}, a {block} block per sample, but y is "
        f"{target.what}, with one row per sample: Keras refuses to train it, and its "
        "predictions could not be read as the target.",
        "flatten (keras.layers.Flatten()) or pool (e.g. GlobalAveragePooling1D()) before the "
        f"output layer, so that it gives (n, {option.units}): {option.keras_code()}",
    )


def _outputs_mismatch(outputs, head):
    layers = ", ".join(o.layer for o in outputs)
    code = head.keras_code().splitlines()
    if head.target_type == "multiclass-multioutput":
        need = f"one output per column of y ({len(head.outputs)})"
    else:
        need = "a single output"
    return _finding(
        "outputs-mismatch",
        f"The model has {len(outputs)} output(s) ({layers}), but y is a "
        f"{head.target_type} target, which needs {need}.",
        f"{code[0]}; {code[1]}",
    )


def check_head(model, y, *, loss=None, estimator="auto"):
    """Like :func:`diagnose_head`, but raise when an error is found.

    Parameters
    ----------
    model, y, loss, estimator
        As for :func:`diagnose_head`.

    Returns
    -------
    findings : list of Finding
        All findings, when none is an error.

    Raises
    ------
    HeadMismatchError
        A ``ValueError`` whose message lists every error with its fix.

    Examples
    --------
    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="softmax")])
    >>> check_head(model, np.array([0, 1, 1, 0]), loss="binary_crossentropy")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skout.doctor.HeadMismatchError: The model's output head does not fit the target (1 error(s)):
    - [softmax-one-unit] ...
    """
    findings = diagnose_head(model, y, loss=loss, estimator=estimator)
    if any(f.severity == "error" for f in findings):
        raise HeadMismatchError(findings)
    return findings
