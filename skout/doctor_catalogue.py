"""The head doctor's catalogue: every finding code, what it looks like, why, and the fix.

:data:`CATALOGUE` holds one :class:`FindingKind` per code that
:func:`skout.doctor.diagnose_head` can report. The doctor refuses to report a
code or a severity that is not in it (:class:`skout.doctor.Finding` checks),
each finding's :attr:`~skout.doctor.Finding.kind` is its entry here, and the
documentation page *The head doctor's findings* is rendered from it by
:func:`catalogue_rst` (a test keeps the page in step).

Each entry also names an example: a model's head and loss, and a target, on
which the doctor reports that code. The tests build each example as a tiny
Keras model and check that it does.

This module is pure data: it imports neither Keras nor NumPy.

Examples
--------
>>> from skout.doctor_catalogue import BY_CODE
>>> kind = BY_CODE["sigmoid-multiclass"]
>>> kind.severities, kind.seeds
(('error', 'warning'), ('003',))
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BY_CODE", "CATALOGUE", "SEVERITIES", "FindingKind", "catalogue_rst", "update_page"]

#: The severities a finding can have, most serious first.
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class FindingKind:
    """One finding code of the head doctor.

    Attributes
    ----------
    code : str
        The code, as reported in ``Finding.code`` and by ``skout check``.
    severities : tuple of str
        The severities it is reported with, most serious first: several when
        the same mistake cannot learn in one setting and only trains badly in
        another.
    title : str
        The mistake (or the news), in a few words.
    symptom : str
        What the user sees: in ``fit``, in ``model.predict`` or in the scores.
    why : str
        Why the head or loss does that.
    fix : str
        What to change. The finding's own ``fix`` gives the exact Keras code.
    example : tuple of (str, str, str)
        ``(head, loss, target)``: the last layer(s), the loss, and the
        target, on which the doctor reports this code. ``head`` and ``loss``
        are Keras code (``loss`` ``"None"`` for an uncompiled model).
    seeds : tuple of str
        The user questions in ``seeds/`` that this code answers.
    """

    code: str
    severities: tuple[str, ...]
    title: str
    symptom: str
    why: str
    fix: str
    example: tuple[str, str, str]
    seeds: tuple[str, ...] = ()

    def __post_init__(self):
        bad = [s for s in self.severities if s not in SEVERITIES]
        if not self.severities or bad:
            raise ValueError(f"{self.code}: severities must be among {SEVERITIES}, got {bad}.")


#: Every finding code of :func:`skout.doctor.diagnose_head`: mistakes of the
#: head's structure, of the loss, of regression heads, then notes.
CATALOGUE: tuple[FindingKind, ...] = (
    FindingKind(
        "sigmoid-multiclass",
        ("error", "warning"),
        "Independent sigmoid units for exclusive classes",
        "model.predict gives rows that do not sum to 1; several classes, or none, get a "
        "probability near 1 (rows such as [1, 1, 1]).",
        "Each sigmoid unit answers yes or no on its own, but the classes exclude each other. "
        "With categorical_crossentropy the loss normalises the outputs itself, so training "
        "pushes every unit toward 1. It is a warning when one-hot rows are trained with "
        "binary_crossentropy: that trains, but as separate yes/no labels.",
        "Dense(K, activation='softmax') with sparse_categorical_crossentropy (labels) or "
        "categorical_crossentropy (one-hot rows); for two classes, Dense(1, "
        "activation='sigmoid') with binary_crossentropy also works.",
        ("Dense(3, activation='sigmoid')", "'categorical_crossentropy'", "one-hot, 3 classes"),
        ("003",),
    ),
    FindingKind(
        "softmax-one-unit",
        ("error",),
        "Softmax over a single unit",
        "model.predict returns 1.0 for every row; the loss does not move.",
        "Softmax divides each unit by the sum over all units; over one unit that is "
        "exp(z) / exp(z) = 1 whatever the input, so there is no gradient to learn from.",
        "Two classes: Dense(1, activation='sigmoid') with binary_crossentropy, or Dense(2, "
        "activation='softmax') with sparse_categorical_crossentropy. K classes: Dense(K, "
        "activation='softmax'). Regression: a linear Dense(1).",
        ("Dense(1, activation='softmax')", "'binary_crossentropy'", "binary labels"),
    ),
    FindingKind(
        "softmax-multilabel",
        ("error",),
        "Softmax on a multilabel target",
        "Rows with several labels never get all of them; each row of model.predict sums to 1.",
        "Softmax makes the units compete for one total of 1, but multilabel rows may hold "
        "any number of 1s: each label is its own yes/no.",
        "Dense(K, activation='sigmoid') with binary_crossentropy, thresholding each "
        "probability at 0.5.",
        ("Dense(3, activation='softmax')", "'categorical_crossentropy'", "multilabel, 3 labels"),
        ("000",),
    ),
    FindingKind(
        "log-link-linear",
        ("error",),
        "A Poisson, gamma or Tweedie loss on an output that can go negative",
        "The loss turns to NaN after a few steps (or at once), and fit stops or diverges.",
        "These losses read the output as the predicted mean, which must be above 0; they "
        "take its logarithm. A linear (or tanh, relu...) output gives negative or zero "
        "means, whose logarithm is not a number.",
        "Dense(k, activation='exponential') with the same loss: the output is exp of the "
        "layer's value, a log link; skout's AutoHeadRegressor(loss='poisson') builds it.",
        ("Dense(1)", "'poisson'", "whole numbers"),
    ),
    FindingKind(
        "loss-target-range",
        ("error",),
        "A target the loss cannot take",
        "Training turns to NaN, or fit refuses the target.",
        "A Poisson or Tweedie target must be at least 0 and a gamma target above 0: their "
        "deviances take the logarithm of the target (and of the mean).",
        "A regression loss for targets of any sign: mean_squared_error, mean_absolute_error.",
        ("Dense(1, activation='exponential')", "'poisson'", "numbers from -3 to 4"),
    ),
    FindingKind(
        "counts-squared-error",
        ("warning",),
        "Counts trained with squared error on a log-link output",
        "Predictions of large counts are noisy, small counts are fitted poorly, and the "
        "held-out Poisson deviance is worse than a Poisson model's.",
        "An exponential or softplus output models a mean that scales, as counts do, but "
        "squared error weighs each count's noise by its size: large counts dominate the "
        "fit. The Poisson deviance weighs them as their variance does.",
        "loss='poisson' with Dense(k, activation='exponential'), or skout's "
        "AutoHeadRegressor(loss='poisson').",
        ("Dense(1, activation='exponential')", "'mean_squared_error'", "whole numbers"),
    ),
    FindingKind(
        "quantile-crossing",
        ("warning",),
        "Several quantiles as independent units",
        "On some rows the higher quantile is predicted below the lower one: an interval "
        "whose ends are swapped.",
        "Each linear unit is trained on its own level; nothing keeps their order, least "
        "of all where data is thin.",
        "skout's AutoHeadRegressor(loss='quantile', quantile=[...]): the first unit is "
        "the lowest quantile and each next one adds a softplus step, so they never cross.",
        ("Dense(2)", "'quantile'", "numbers from 12.5 to 250"),
    ),
    FindingKind(
        "units-mismatch",
        ("error",),
        "Output units do not match the classes or columns",
        "fit fails on incompatible shapes, or trains a class (or column) that does not "
        "exist and never predicts another.",
        "A classifier needs one unit per class (or one sigmoid unit for two classes), a "
        "regressor one unit per target column.",
        "Give the output layer the head table's number of units.",
        ("Dense(4, activation='softmax')", "'sparse_categorical_crossentropy'", "3 class labels"),
    ),
    FindingKind(
        "output-shape",
        ("error",),
        "An output with several axes per sample",
        "fit fails: Keras cannot compare an output of shape (n, 2, 3) with a target of one "
        "row per sample.",
        "The layer before the output kept its time or space axes (a sequence or an image), "
        "so the output layer gives a block of values per sample instead of one row.",
        "Flatten (keras.layers.Flatten()) or pool (GlobalAveragePooling1D/2D) before the "
        "output layer.",
        (
            "Reshape((2, 2)), Dense(3, activation='softmax')",
            "'sparse_categorical_crossentropy'",
            "3 class labels",
        ),
    ),
    FindingKind(
        "outputs-mismatch",
        ("error",),
        "Number of outputs does not match the target's columns",
        "fit fails: Keras cannot pair the model's outputs with the target.",
        "A target with several label columns (multiclass-multioutput) needs one output per "
        "column, each with its own head; any other target needs a single output.",
        "One output layer per label column, as in the finding's fix.",
        ("Dense(3, activation='softmax')", "'sparse_categorical_crossentropy'", "2 label columns"),
    ),
    FindingKind(
        "activation-mismatch",
        ("error", "warning"),
        "A hidden-layer activation on the output",
        "model.predict gives values that are not probabilities (negative, above 1, rows "
        "that do not sum to 1), or bent regression predictions.",
        "relu, tanh and the like shape hidden features; a classifier's output needs "
        "sigmoid or softmax to be read as probabilities, and a regression output is "
        "linear. It is a warning on a regression target, where it may still fit.",
        "The head table's activation: softmax for exclusive classes, sigmoid for one unit "
        "or for multilabel rows, none (linear) for regression.",
        ("Dense(3, activation='relu')", "'sparse_categorical_crossentropy'", "3 class labels"),
    ),
    FindingKind(
        "linear-crossentropy",
        ("error",),
        "A linear output trained with a cross-entropy on probabilities",
        "The loss is large or stalls; model.predict returns unbounded scores, not probabilities.",
        "With from_logits=False (the default) cross-entropy expects probabilities and clips "
        "its input to [1e-7, 1 - 1e-7]: linear scores outside that range are clipped and "
        "give no gradient.",
        "Add the head's activation (sigmoid or softmax), or keep the linear output and "
        "compile with the loss's class and from_logits=True; then decode logits.",
        ("Dense(3)", "'categorical_crossentropy'", "one-hot, 3 classes"),
    ),
    FindingKind(
        "from-logits-activation",
        ("warning",),
        "from_logits=True after a sigmoid or softmax",
        "Training is slow and the probabilities stay near the middle.",
        "from_logits=True applies the sigmoid or softmax inside the loss; after an output "
        "that already applied it, the probabilities are squashed a second time and the "
        "gradients are weak.",
        "Keep the activation and use from_logits=False, or make the output linear.",
        (
            "Dense(3, activation='softmax')",
            "keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
            "3 class labels",
        ),
    ),
    FindingKind(
        "loss-mismatch",
        ("error", "warning"),
        "The loss does not read this target or this output",
        "fit fails on shapes, the loss is 0 and never moves, predictions collapse to one "
        "class for every row, or accuracy is inflated.",
        "Each loss reads one format: binary_crossentropy one yes/no per unit, "
        "sparse_categorical_crossentropy one class index per row, categorical_crossentropy "
        "one-hot rows, a regression loss numbers. binary_crossentropy on a softmax scores "
        "each unit as its own yes/no against one label, which the softmax contradicts. It "
        "is a warning where the pair still trains: binary_crossentropy on one-hot rows or on "
        "a regression target within [0, 1], a regression loss on one label column or on "
        "0/1 rows.",
        "The head table's loss for this output and target.",
        ("Dense(2, activation='softmax')", "'binary_crossentropy'", "binary labels"),
        ("001",),
    ),
    FindingKind(
        "softmax-regression",
        ("error",),
        "Softmax on a regression target",
        "Predictions lie in [0, 1] and each row sums to 1, whatever the target.",
        "Softmax turns the outputs into shares of 1; numbers to predict are not shares.",
        "A linear Dense(n_outputs) with mean_squared_error.",
        ("Dense(2, activation='softmax')", "'mean_squared_error'", "2 number columns"),
        ("000",),
    ),
    FindingKind(
        "sigmoid-regression-range",
        ("error", "warning"),
        "Sigmoid on a regression target",
        "Predictions never leave (0, 1): most of the target cannot be reached, or "
        "predictions saturate near the ends.",
        "A sigmoid output is a probability. It is a warning when the target lies in "
        "[0, 1], which it can fit, though less well than a linear output.",
        "A linear Dense(n_outputs) with mean_squared_error, or scale y into [0, 1] first.",
        ("Dense(1, activation='sigmoid')", "'mean_squared_error'", "numbers from 12.5 to 250"),
        ("000",),
    ),
    FindingKind(
        "activation-range",
        ("error", "warning"),
        "The output activation cannot reach the target's range",
        "Predictions never go below 0 (relu, softplus, exponential) or outside [-1, 1] "
        "(tanh), however long the network trains.",
        "The activation bounds the output, and part of y lies outside the bound. It is a "
        "warning for tanh when y lies within [-1, 1].",
        "A linear Dense(n_outputs) with mean_squared_error.",
        ("Dense(2, activation='relu')", "'mean_squared_error'", "2 number columns"),
    ),
    FindingKind(
        "regression-guess",
        ("info",),
        "Whole numbers read as a regression target",
        "Nothing is wrong yet: y holds whole numbers and every loss is a regression loss, so "
        "y was checked as numbers to predict.",
        "Whole numbers can be class labels or quantities; the loss says which was meant.",
        "If the numbers are class labels, check with estimator='classifier' (skout check "
        "--classifier) and use a softmax head with sparse_categorical_crossentropy.",
        ("Dense(1)", "'mean_squared_error'", "whole numbers"),
    ),
    FindingKind(
        "ok",
        ("info",),
        "The head fits the target",
        "Nothing to fix.",
        "Units, activation and loss are those of the head table for this target.",
        "None.",
        ("Dense(3, activation='softmax')", "'sparse_categorical_crossentropy'", "3 class labels"),
        ("000", "003"),
    ),
    FindingKind(
        "decode-probabilities",
        ("info",),
        "model.predict returns probabilities, not labels",
        "A correct head returns values such as 0.00498 for each of 201 classes, or 0.3775 "
        "from one sigmoid unit, for every row, where a label was expected.",
        "A classifier head outputs probabilities; an untrained or barely trained network "
        "gives near-uniform ones (1/K each, or near 0.5 from a sigmoid), which separate as "
        "it learns.",
        "Decode them as the head table does: argmax over the classes, or a threshold at "
        "0.5 for sigmoid units (the finding's fix is the line); skout's "
        "AutoHeadClassifier.predict decodes for you.",
        ("Dense(201, activation='softmax')", "'categorical_crossentropy'", "one-hot, 201 classes"),
        ("001", "002"),
    ),
    FindingKind(
        "decode-logits",
        ("info",),
        "model.predict returns logits",
        "model.predict gives unbounded scores, negative or above 1.",
        "A linear output trained with from_logits=True outputs logits: the loss applies "
        "the sigmoid or softmax, the model does not.",
        "Apply keras.activations.sigmoid or softmax to get probabilities, or decode the "
        "logits directly: threshold at 0, or argmax.",
        (
            "Dense(3)",
            "keras.losses.CategoricalCrossentropy(from_logits=True)",
            "one-hot, 3 classes",
        ),
    ),
    FindingKind(
        "no-loss",
        ("info",),
        "No loss to check",
        "Only the output layer was checked.",
        "The model is not compiled and no loss was given.",
        "Compile with the head table's loss (the finding's fix), or pass loss= (skout check "
        "--loss).",
        ("Dense(3, activation='softmax')", "None", "3 class labels"),
    ),
    FindingKind(
        "unknown-loss",
        ("info",),
        "A loss skout does not know",
        "The loss was not checked.",
        "It is not in skout's loss table (a custom loss, or one no head of the table "
        "trains with).",
        "Check that it reads the target's format, or use the head table's loss.",
        ("Dense(3, activation='softmax')", "'hinge'", "3 class labels"),
    ),
    FindingKind(
        "unknown-activation",
        ("info",),
        "The output's activation could not be read",
        "The activation was not checked.",
        "The last layer is one skout cannot read an activation from (a Lambda or custom "
        "layer), or applies an activation function of your own: its name does not say "
        "what it computes.",
        "Check that the output applies the head table's activation.",
        ("Dense(3), Lambda(lambda t: t)", "'sparse_categorical_crossentropy'", "3 class labels"),
    ),
)

#: The entries of :data:`CATALOGUE`, by code.
BY_CODE: dict[str, FindingKind] = {kind.code: kind for kind in CATALOGUE}

_SEED_TEXT = {
    "000": "the output-layer guide",
    "001": "one sigmoid unit or two softmax units",
    "002": "201 probabilities where a label was expected",
    "003": "three sigmoid units with categorical_crossentropy",
}


def catalogue_rst():
    """The catalogue as reStructuredText, one section per code.

    Returns
    -------
    text : str
        The generated part of ``docs/user_guide/doctor.rst``.

    Examples
    --------
    >>> print(catalogue_rst().splitlines()[0])
    .. _doctor-sigmoid-multiclass:
    """
    parts = []
    for kind in CATALOGUE:
        title = f"``{kind.code}``: {kind.title}"
        head, loss, target = kind.example
        lines = [
            f".. _doctor-{kind.code}:",
            "",
            title,
            "-" * len(title),
            "",
            f":Severity: {', '.join(kind.severities)}",
            f":Symptom: {kind.symptom}",
            f":Why: {kind.why}",
            f":Fix: {kind.fix}",
            f":Example: ``{head}`` with ``loss={loss}``, y: {target}",
        ]
        if kind.seeds:
            seeds = "; ".join(f"{s} ({_SEED_TEXT[s]})" for s in kind.seeds)
            lines.append(f":Seeds: {seeds}")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


_BEGIN, _END = ".. begin catalogue\n", ".. end catalogue\n"


def update_page(path):
    """Rewrite the generated part of a docs page (between its marker lines) from the data.

    Run as ``python -m skout.doctor_catalogue docs/user_guide/doctor.rst``
    after editing :data:`CATALOGUE`.

    Parameters
    ----------
    path : str or path-like
        A reST page holding the lines ``.. begin catalogue`` and
        ``.. end catalogue``.

    Returns
    -------
    changed : bool
        Whether the page was out of step (and is now rewritten).
    """
    from pathlib import Path

    page = Path(path).read_text()
    start, stop = page.index(_BEGIN) + len(_BEGIN), page.index(_END)
    new = page[:start] + catalogue_rst() + "\n" + page[stop:]
    if new != page:
        Path(path).write_text(new)
    return new != page


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:]:
        print(f"{name}: {'rewritten' if update_page(name) else 'in step'}")
