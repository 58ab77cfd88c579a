"""The head doctor (skout.doctor): does a Keras model's output head fit the target?

Every model here is built (never trained): a Dense output on 4 inputs.
"""

import ast
import doctest
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

import skout.doctor
from skout.doctor import Finding, HeadMismatchError, check_head, diagnose_head
from skout.doctor_catalogue import BY_CODE, CATALOGUE, catalogue_rst
from skout.heads import choose_head

ROOT = Path(__file__).resolve().parents[1]
SCCE, CCE, BCE, MSE = (
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
)
BINARY = np.array([0, 1, 1, 0, 1, 0])
LABELS3 = np.array(["cat", "dog", "bird", "dog", "cat", "bird"])
ONE_HOT3 = np.eye(3, dtype=int)[[0, 1, 2, 1, 0, 2]]
MULTILABEL3 = np.array([[1, 0, 1], [0, 1, 1], [1, 0, 0], [0, 0, 1]])
CONTINUOUS = np.array([12.5, 250.0, 33.1, 140.7, 99.9])


def dense(units, activation=None, *more, n_in=4):
    """A Sequential model: Input(n_in) -> Dense(units, activation) -> more layers."""
    return keras.Sequential(
        [keras.Input((n_in,)), layers.Dense(units, activation=activation), *more]
    )


def functional(*heads, n_in=4):
    """A functional model with one Dense(units, activation) output per (units, activation)."""
    inputs = keras.Input((n_in,))
    hidden = layers.Dense(5, activation="relu")(inputs)
    outputs = [layers.Dense(u, activation=a)(hidden) for u, a in heads]
    return keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0])


def codes(findings, severity=None):
    return [f.code for f in findings if severity is None or f.severity == severity]


def problems(findings):
    return [f for f in findings if f.severity in ("error", "warning")]


def only(findings, code):
    (found,) = [f for f in findings if f.code == code]
    return found


# ---------------------------------------------------------------- the seeds


@pytest.mark.parametrize("y", [ONE_HOT3, LABELS3], ids=["one-hot", "labels"])
def test_seed_003_sigmoid_with_categorical_crossentropy_is_an_error(y):
    model = dense(3, "sigmoid")
    model.compile(loss="categorical_crossentropy")
    findings = diagnose_head(model, y)
    assert codes(findings, "error") == ["sigmoid-multiclass"]
    f = findings[0]
    assert "Dense(3, activation='sigmoid')" in f.message
    assert "categorical_crossentropy" in f.message
    assert "Dense(3, activation='softmax')" in f.fix
    if y.ndim == 2:
        assert f"loss={CCE!r}" in f.fix
    else:  # one label per row: the sparse loss, or one-hot encode y
        assert f"loss={SCCE!r}" in f.fix and "to_categorical" in f.fix


def test_seed_001_two_softmax_units_with_binary_crossentropy():
    model = dense(2, "softmax")
    model.compile(loss="binary_crossentropy")
    findings = diagnose_head(model, np.array(["class1", "class2", "class1", "class2"]))
    assert codes(findings, "error") == ["loss-mismatch"]
    fix = findings[0].fix
    assert SCCE in fix and CCE in fix
    assert f"Dense(1, activation='sigmoid') with loss={BCE!r}" in fix


def test_seed_001_with_one_hot_rows_trains_but_warns():
    findings = diagnose_head(dense(2, "softmax"), np.eye(2)[BINARY], loss="binary_crossentropy")
    assert [(f.severity, f.code) for f in problems(findings)] == [("warning", "loss-mismatch")]
    assert findings[0].fix == f"loss={CCE!r}"


def test_seed_001_case_1_one_sigmoid_unit_is_correct():
    model = dense(1, "sigmoid")
    model.compile(loss="binary_crossentropy")
    findings = diagnose_head(model, BINARY)
    assert problems(findings) == []
    decode = only(findings, "decode-probabilities")
    assert "0.5" in decode.message and "> 0.5" in decode.fix


def test_seed_002_correct_softmax_head_explains_probabilities():
    y = np.eye(201, dtype=int)[np.arange(402) % 201]
    model = dense(201, "softmax", n_in=3)
    model.compile(loss="categorical_crossentropy")
    findings = diagnose_head(model, y)
    assert problems(findings) == []
    assert codes(findings) == ["ok", "decode-probabilities"]
    info = findings[1]
    assert info.severity == "info"
    assert "probabilities" in info.message and "argmax" in info.message
    assert "1/201" in info.message and "0.00498" in info.message
    assert "np.argmax" in info.fix and "np.eye(201)" in info.fix


# ------------------------------------------------- the head table is accepted

TABLE_ROWS = {
    "binary sigmoid": (BINARY, [(1, "sigmoid")], BCE),
    "binary softmax": (BINARY, [(2, "softmax")], SCCE),
    "multiclass": (LABELS3, [(3, "softmax")], SCCE),
    "one-hot": (ONE_HOT3, [(3, "softmax")], CCE),
    "multilabel": (MULTILABEL3, [(3, "sigmoid")], BCE),
    "multiclass-multioutput": (
        np.column_stack([["yes", "no", "yes", "no"], ["a", "b", "c", "a"]]),
        [(1, "sigmoid"), (3, "softmax")],
        [BCE, SCCE],
    ),
    "continuous": (CONTINUOUS, [(1, None)], MSE),
    "continuous-multioutput": (np.column_stack([CONTINUOUS, -CONTINUOUS]), [(2, None)], MSE),
}


@pytest.mark.parametrize("name", TABLE_ROWS)
def test_each_row_of_the_head_table_has_no_error_or_warning(name):
    y, heads, loss = TABLE_ROWS[name]
    model = functional(*heads)
    model.compile(loss=loss)
    findings = diagnose_head(model, y)
    assert problems(findings) == []
    assert codes(findings).count("ok") == len(heads)


def test_every_head_choose_head_builds_is_accepted(targets):
    """The doctor agrees with the table for every target type of conftest."""
    for name, y in targets.items():
        estimator = "regressor" if name.startswith("continuous") else "classifier"
        for binary_head in ("sigmoid", "softmax"):
            head = choose_head(y, estimator=estimator, binary_head=binary_head)
            model = functional(*[(o.units, o.activation) for o in head.outputs])
            findings = diagnose_head(
                model, y, loss=list(head.loss) if len(head.outputs) > 1 else head.loss
            )
            assert problems(findings) == [], (name, binary_head, findings)


# ------------------------------------------------------------ the mistakes


def test_units_that_do_not_match_the_classes():
    findings = diagnose_head(dense(4, "softmax"), LABELS3, loss=SCCE)
    f = only(findings, "units-mismatch")
    assert f.severity == "error"
    assert "4 unit(s)" in f.message and "3 classes" in f.message
    assert f.fix.startswith("Dense(3, activation='softmax')")


def test_units_mismatch_on_a_regression_target():
    findings = diagnose_head(dense(3), np.column_stack([CONTINUOUS, CONTINUOUS]), loss="mse")
    assert codes(findings, "error") == ["units-mismatch"]
    assert "Dense(2)" in findings[0].fix


@pytest.mark.parametrize(
    ("y", "fix"),
    [
        (BINARY, "Dense(1, activation='sigmoid')"),
        (LABELS3, "Dense(3, activation='softmax')"),
        (CONTINUOUS, "Dense(1) (linear"),
    ],
    ids=["binary", "multiclass", "regression"],
)
def test_softmax_on_one_unit(y, fix):
    findings = diagnose_head(dense(1, "softmax"), y)
    f = only(findings, "softmax-one-unit")
    assert f.severity == "error" and "1.0" in f.message
    assert fix in f.fix


def test_linear_output_with_crossentropy_needs_an_activation_or_from_logits():
    findings = diagnose_head(dense(3), ONE_HOT3, loss="categorical_crossentropy")
    f = only(findings, "linear-crossentropy")
    assert f.severity == "error"
    assert "Dense(3, activation='softmax')" in f.fix and "from_logits=True" in f.fix
    logits = keras.losses.CategoricalCrossentropy(from_logits=True)
    findings = diagnose_head(dense(3), ONE_HOT3, loss=logits)
    assert problems(findings) == []
    assert codes(findings) == ["ok", "decode-logits"]


def test_one_linear_unit_with_binary_crossentropy():
    assert codes(diagnose_head(dense(1), BINARY, loss="bce"), "error") == ["linear-crossentropy"]
    model = dense(1)
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True))
    findings = diagnose_head(model, BINARY)
    assert problems(findings) == []
    decode = only(findings, "decode-logits")
    assert "threshold them at 0" in decode.message and "> 0)" in decode.fix


def test_from_logits_after_a_softmax_warns():
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    findings = diagnose_head(dense(3, "softmax"), LABELS3, loss=loss)
    assert codes(findings, "warning") == ["from-logits-activation"]


def test_softmax_on_a_multilabel_target():
    findings = diagnose_head(dense(3, "softmax"), MULTILABEL3, loss="categorical_crossentropy")
    assert codes(findings, "error") == ["softmax-multilabel"]
    assert findings[0].fix == f"Dense(3, activation='sigmoid') with loss={BCE!r}"


def test_categorical_crossentropy_on_a_multilabel_sigmoid_head():
    findings = diagnose_head(dense(3, "sigmoid"), MULTILABEL3, loss="categorical_crossentropy")
    assert codes(findings, "error") == ["loss-mismatch"]
    assert findings[0].fix == f"loss={BCE!r}"


def test_sigmoid_on_a_regression_target_outside_0_1_is_an_error():
    findings = diagnose_head(dense(1, "sigmoid"), CONTINUOUS, loss="mse")
    f = only(findings, "sigmoid-regression-range")
    assert f.severity == "error"
    assert "between 0 and 1" in f.message and "250" in f.message
    assert "Dense(1)" in f.fix


def test_sigmoid_on_a_regression_target_inside_0_1_is_a_warning():
    findings = diagnose_head(dense(1, "sigmoid"), np.array([0.1, 0.25, 0.9, 0.5]), loss="mse")
    assert [(f.severity, f.code) for f in problems(findings)] == [
        ("warning", "sigmoid-regression-range")
    ]


def test_softmax_and_relu_on_regression_targets():
    y = np.column_stack([CONTINUOUS, -CONTINUOUS])
    assert codes(diagnose_head(dense(2, "softmax"), y, loss="mse"), "error") == [
        "softmax-regression"
    ]
    assert codes(diagnose_head(dense(2, "relu"), y, loss="mse"), "error") == ["activation-range"]
    assert problems(diagnose_head(dense(1, "relu"), CONTINUOUS, loss="mse")) == []


def test_classification_loss_on_a_regression_target():
    findings = diagnose_head(dense(1), CONTINUOUS, loss="categorical_crossentropy")
    f = only(findings, "loss-mismatch")
    assert f.severity == "error" and "classification loss" in f.message
    assert MSE in f.fix


def test_regression_loss_on_class_labels():
    findings = diagnose_head(dense(3, "softmax"), LABELS3, loss="mse")
    f = only(findings, "loss-mismatch")
    assert f.severity == "error" and "regression loss" in f.message
    assert SCCE in f.fix


def test_categorical_crossentropy_needs_one_hot_rows_and_sparse_needs_labels():
    findings = diagnose_head(dense(3, "softmax"), LABELS3, loss=CCE)
    assert codes(findings, "error") == ["loss-mismatch"]
    assert "one-hot" in findings[0].message and SCCE in findings[0].fix
    findings = diagnose_head(dense(3, "softmax"), ONE_HOT3, loss=SCCE)
    assert codes(findings, "error") == ["loss-mismatch"]
    assert CCE in findings[0].fix and "argmax" in findings[0].fix


def test_categorical_crossentropy_on_one_sigmoid_unit_learns_nothing():
    findings = diagnose_head(dense(1, "sigmoid"), BINARY, loss=CCE)
    f = only(findings, "loss-mismatch")
    assert f.severity == "error" and "always 0" in f.message


def test_two_sigmoid_units_on_a_binary_target():
    findings = diagnose_head(dense(2, "sigmoid"), BINARY, loss=BCE)
    assert codes(findings, "error") == ["sigmoid-multiclass"]
    assert "Dense(2, activation='softmax')" in findings[0].fix
    assert "Dense(1, activation='sigmoid')" in findings[0].fix


def test_a_hidden_activation_on_a_classifier_output():
    findings = diagnose_head(dense(3, "relu"), LABELS3, loss=SCCE)
    assert codes(findings, "error") == ["activation-mismatch"]


# ------------------------------------------------------- reading the model


@pytest.mark.parametrize(
    "loss",
    [
        "categorical_crossentropy",
        "cce",
        keras.losses.CategoricalCrossentropy(),
        keras.losses.categorical_crossentropy,
    ],
    ids=["name", "alias", "Loss", "function"],
)
def test_the_loss_can_be_a_name_an_alias_a_loss_object_or_a_function(loss):
    findings = diagnose_head(dense(3, "sigmoid"), ONE_HOT3, loss=loss)
    assert codes(findings, "error") == ["sigmoid-multiclass"]
    assert "categorical_crossentropy" in findings[0].message


def test_the_loss_argument_overrides_the_compiled_loss():
    model = dense(3, "softmax")
    model.compile(loss="binary_crossentropy")
    assert codes(diagnose_head(model, LABELS3), "error") == ["loss-mismatch"]
    assert problems(diagnose_head(model, LABELS3, loss=SCCE)) == []


def test_an_uncompiled_model_is_checked_on_its_layer_only():
    findings = diagnose_head(dense(3, "softmax"), LABELS3)
    assert problems(findings) == []
    assert SCCE in only(findings, "no-loss").fix


@pytest.mark.parametrize(
    "tail",
    [
        [layers.Softmax()],
        [layers.Activation("softmax")],
        [layers.Activation("softmax"), layers.Dropout(0.2)],
    ],
    ids=["Softmax", "Activation", "Activation+Dropout"],
)
def test_a_trailing_activation_layer_counts(tail):
    ok = dense(3, None, *tail)
    assert problems(diagnose_head(ok, LABELS3, loss=SCCE)) == []
    bad = dense(3, "relu", layers.Activation("sigmoid"))
    assert codes(diagnose_head(bad, LABELS3, loss=SCCE), "error") == ["sigmoid-multiclass"]


def test_an_unbuilt_sequential_model_is_read_from_its_layers():
    model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3, "sigmoid")])
    findings = diagnose_head(model, ONE_HOT3, loss="categorical_crossentropy")
    assert codes(findings, "error") == ["sigmoid-multiclass"]


def test_a_nested_model_output_is_followed():
    inner = keras.Sequential([keras.Input((5,)), layers.Dense(3, activation="sigmoid")])
    inputs = keras.Input((4,))
    model = keras.Model(inputs, inner(layers.Dense(5)(inputs)))
    findings = diagnose_head(model, ONE_HOT3, loss="categorical_crossentropy")
    assert codes(findings, "error") == ["sigmoid-multiclass"]


def test_multi_output_models_are_checked_per_column():
    y = np.column_stack([["yes", "no", "yes", "no"], ["a", "b", "c", "a"]])
    model = functional((1, "sigmoid"), (3, "sigmoid"))
    findings = diagnose_head(model, y, loss=[BCE, CCE])
    errors = [f for f in findings if f.severity == "error"]
    assert [f.code for f in errors] == ["sigmoid-multiclass"]
    assert errors[0].message.startswith("Output 1")
    assert "column 1 of y" in errors[0].message
    # one output for two label columns: the fix lists one output per column
    findings = diagnose_head(functional((3, "softmax")), y, loss=SCCE)
    assert codes(findings) == ["outputs-mismatch"]
    assert "Dense(1, activation='sigmoid')(hidden), Dense(3" in findings[0].fix


def test_dict_outputs_take_their_losses_by_name():
    inputs = keras.Input((4,))
    model = keras.Model(
        inputs,
        {
            "kind": layers.Dense(3, activation="softmax")(inputs),
            "spam": layers.Dense(1, activation="sigmoid")(inputs),
        },
    )
    model.compile(loss={"spam": BCE, "kind": SCCE})
    y = np.column_stack([["a", "b", "c", "a"], ["yes", "no", "yes", "no"]])  # sorted keys
    assert problems(diagnose_head(model, y)) == []
    model.compile(loss={"spam": CCE, "kind": SCCE})
    assert codes(diagnose_head(model, y), "error") == ["loss-mismatch"]


def test_integer_targets_with_a_regression_loss_are_read_as_regression():
    y = np.array([3, 10, 25, 7, 18, 3])
    model = dense(1)
    model.compile(loss="mse")
    findings = diagnose_head(model, y)
    assert codes(findings) == ["regression-guess", "ok"]
    assert codes(diagnose_head(model, y, estimator="classifier"), "error") == [
        "units-mismatch",
        "loss-mismatch",
    ]


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="estimator"):
        diagnose_head(dense(1), BINARY, estimator="tree")
    with pytest.raises(ValueError, match="one class"):
        diagnose_head(dense(1, "sigmoid"), np.zeros(4, dtype=int), loss=BCE)
    with pytest.raises(ValueError, match="losses"):
        diagnose_head(dense(1, "sigmoid"), BINARY, loss=[BCE, BCE, BCE])
    with pytest.raises(ValueError, match="severity"):
        Finding("fatal", "x", "y")


# ---------------------------------------------------------------- check_head


def test_check_head_raises_with_every_error_and_its_fix():
    model = dense(3, "sigmoid")
    model.compile(loss="categorical_crossentropy")
    with pytest.raises(HeadMismatchError) as info:
        check_head(model, ONE_HOT3)
    assert isinstance(info.value, ValueError)
    text = str(info.value)
    assert "[sigmoid-multiclass]" in text and "fix: Dense(3, activation='softmax')" in text
    assert [f.code for f in info.value.findings] == ["sigmoid-multiclass"]


def test_check_head_returns_the_findings_when_the_head_fits():
    findings = check_head(dense(3, "softmax"), ONE_HOT3, loss=CCE)
    assert codes(findings) == ["ok", "decode-probabilities"]
    # warnings alone do not raise
    assert codes(check_head(dense(3, "softmax"), ONE_HOT3, loss=BCE), "warning") == [
        "loss-mismatch"
    ]


def test_finding_prints_severity_code_and_fix():
    text = str(Finding("error", "units-mismatch", "4 units, 3 classes.", "Dense(3)"))
    assert text == "error [units-mismatch]: 4 units, 3 classes.\n  fix: Dense(3)"


def test_docstring_examples_run():
    result = doctest.testmod(skout.doctor, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0


def test_importing_the_doctor_does_not_import_keras():
    code = (
        "import sys, skout.doctor; "
        "bad = [m for m in ('keras', 'tensorflow') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------ the catalogue

# The targets the catalogue's examples name, as arrays.
CATALOGUE_TARGETS = {
    "binary labels": np.array(["class1", "class2", "class1", "class2"]),
    "3 class labels": LABELS3,
    "one-hot, 3 classes": ONE_HOT3,
    "one-hot, 201 classes": np.eye(201, dtype=int)[np.arange(402) % 201],
    "multilabel, 3 labels": MULTILABEL3,
    "2 label columns": np.column_stack([["yes", "no", "yes", "no"], ["a", "b", "c", "a"]]),
    "numbers from 12.5 to 250": np.array([12.5, 250.0, 33.1, 140.7, 99.9]),
    "2 number columns": np.column_stack([CONTINUOUS, -CONTINUOUS]),
    "whole numbers": np.array([3, 10, 25, 7, 18, 3]),
    "numbers from -3 to 4": np.array([-3.0, 1.5, 4.0, 0.5, 2.0]),
}


def seed_image_model(*head):
    """The seeds' image classifiers (001, 003), tiny: Conv2D, BatchNorm, pooling, then ``head``."""
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            layers.Conv2D(2, (3, 3), activation="relu"),
            layers.MaxPooling2D(),
            layers.BatchNormalization(),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(4, activation="relu"),
            *head,
        ]
    )


def build_example(kind):
    """The catalogue entry's example as a compiled (or not) Keras model, and its target."""
    head, loss, target = kind.example
    scope = {**vars(layers), "keras": keras}
    model = seed_image_model(*eval(f"({head},)", scope))
    loss = eval(loss, scope)
    if loss is not None:
        model.compile(optimizer="adam", loss=loss)
    return model, CATALOGUE_TARGETS[target]


@pytest.mark.parametrize("kind", CATALOGUE, ids=[k.code for k in CATALOGUE])
def test_each_catalogue_example_gets_its_code(kind):
    model, y = build_example(kind)
    found = [f for f in diagnose_head(model, y) if f.code == kind.code]
    assert found, diagnose_head(model, y)
    assert found[0].severity == kind.severities[0]  # the example shows the main case
    assert found[0].kind is kind


def test_the_doctor_reports_only_catalogued_codes():
    tree = ast.parse(Path(skout.doctor.__file__).read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    # _finding(code, ...) takes its severity from the catalogue; Finding(severity, code, ...)
    emitted = [n.args[0] for n in calls if getattr(n.func, "id", None) == "_finding"]
    assert all(isinstance(code, ast.Constant) for code in emitted)
    direct = [n for n in calls if getattr(n.func, "id", None) == "Finding"]
    assert len(direct) == 1  # the one inside _finding
    emitted = {code.value for code in emitted}
    assert emitted == set(BY_CODE)
    with pytest.raises(ValueError, match="Unknown finding code 'made-up'"):
        Finding("error", "made-up", "x")
    with pytest.raises(ValueError, match="'ok' finding is reported as info"):
        Finding("error", "ok", "x")


def test_the_docs_page_is_the_catalogue():
    page = (ROOT / "docs" / "user_guide" / "doctor.rst").read_text()
    begin, end = ".. begin catalogue\n", ".. end catalogue\n"
    generated = page[page.index(begin) + len(begin) : page.index(end)]
    assert generated.strip() == catalogue_rst().strip(), (
        "docs/user_guide/doctor.rst is out of step with skout.doctor_catalogue: run "
        "python -m skout.doctor_catalogue docs/user_guide/doctor.rst"
    )


SEED_MODELS = {
    # 001, case 1: Dense(1, 'sigmoid') with binary_crossentropy is right; it explains 0.3775
    "001-case-1": (
        lambda: seed_image_model(layers.Dense(1, "sigmoid")),
        "binary_crossentropy",
        "binary labels",
        ["ok", "decode-probabilities"],
    ),
    # 001, case 2: Dense(2, 'softmax') with binary_crossentropy "overfits to one class"
    "001-case-2": (
        lambda: seed_image_model(layers.Dense(2, "softmax")),
        "binary_crossentropy",
        "binary labels",
        ["loss-mismatch"],
    ),
    # 002: 201 softmax units with categorical_crossentropy: right, and predict is probabilities
    "002": (
        lambda: keras.Sequential(
            [
                keras.Input((3,)),
                layers.Dense(4, activation="relu", name="full_2"),
                layers.Dense(4, activation="relu", name="full_3"),
                layers.Dense(201, activation="softmax"),
            ]
        ),
        "categorical_crossentropy",
        "one-hot, 201 classes",
        ["ok", "decode-probabilities"],
    ),
    # 003: Dense(3, 'sigmoid') with categorical_crossentropy on one-hot rows
    "003": (
        lambda: seed_image_model(layers.Dense(3, activation="sigmoid")),
        "categorical_crossentropy",
        "one-hot, 3 classes",
        ["sigmoid-multiclass"],
    ),
    # 003's answers: softmax with the sparse loss on labels, the dense one on get_dummies
    "003-answer-labels": (
        lambda: keras.Sequential(
            [keras.Input((5,)), layers.Dense(4), layers.Dense(3, activation="softmax")]
        ),
        "sparse_categorical_crossentropy",
        "3 class labels",
        ["ok", "decode-probabilities"],
    ),
    "003-answer-one-hot": (
        lambda: keras.Sequential(
            [keras.Input((5,)), layers.Dense(4), layers.Dense(3, activation="softmax")]
        ),
        "categorical_crossentropy",
        "one-hot, 3 classes",
        ["ok", "decode-probabilities"],
    ),
}


@pytest.mark.parametrize("name", SEED_MODELS)
def test_the_seeds_models_as_their_users_wrote_them(name):
    build, loss, target, expected = SEED_MODELS[name]
    model = build()
    model.compile(optimizer="adamax", loss=loss, metrics=["accuracy"])
    findings = diagnose_head(model, CATALOGUE_TARGETS[target])
    assert codes(findings) == expected
    if "answer" not in name:  # the catalogue names the seed beside the code that answers it
        assert name[:3] in BY_CODE[expected[-1]].seeds


# -------------------------------------------- what the doctor cannot read (issue 23)
@pytest.mark.parametrize(
    "loss, match",
    [
        ("categorical_crossentropyy", "Unknown loss 'categorical_crossentropyy'.*Did you mean "
                                      "'categorical_crossentropy'"),
        ("", "names no loss"),
        (" mse ", r"Did you mean 'mse' \(without the spaces"),
        ({"no_such_output": SCCE}, r"output\(s\) \['no_such_output'\] that the model does not"),
    ],
    ids=["typo", "empty", "padded", "dict-unknown-output"],
)  # fmt: skip
def test_a_loss_the_doctor_cannot_read_is_bad_input_not_a_verdict(loss, match):
    with pytest.raises(ValueError, match=match):
        diagnose_head(dense(3, "softmax"), LABELS3, loss=loss)


def test_a_loss_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="loss must be a loss name.*got 3 \\(int\\)"):
        diagnose_head(dense(3, "softmax"), LABELS3, loss=3)


def test_an_unknown_loss_object_is_still_only_not_checked():
    def my_loss(y_true, y_pred):
        return keras.ops.mean(y_pred)

    assert "unknown-loss" in codes(diagnose_head(dense(3, "softmax"), LABELS3, loss=my_loss))


@pytest.mark.parametrize("y", [LABELS3, BINARY, CONTINUOUS], ids=["labels", "binary", "numbers"])
def test_an_output_with_several_axes_per_sample_is_an_error(y):
    model = dense(6, "relu", layers.Reshape((2, 3)), layers.Dense(3, activation="softmax"))
    model.compile(loss=SCCE)
    found = diagnose_head(model, y)
    assert codes(found, "error") == ["output-shape"], found
    assert "(n, 2, 3)" in only(found, "output-shape").message
    assert "Flatten" in only(found, "output-shape").fix


def test_a_custom_activation_is_unknown_not_wrong():
    def my_softmax(x):
        return keras.ops.softmax(x)

    model = dense(3, my_softmax)
    model.compile(loss=SCCE)
    found = diagnose_head(model, LABELS3)
    assert not problems(found), found
    note = only(found, "unknown-activation")
    assert "your own activation (my_softmax)" in note.message


# ------------------------------------------------------------ counts, amounts, quantiles
COUNTS = np.array([0, 3, 1, 0, 7, 2, 0, 12], dtype=float)


def test_poisson_on_a_linear_output_is_an_error_with_the_log_link_as_fix():
    f = only(diagnose_head(dense(1), COUNTS, loss="poisson"), "log-link-linear")
    assert f.severity == "error" and "NaN" in f.message
    assert f.fix.startswith("Dense(1, activation='exponential') with loss='poisson'")
    right = diagnose_head(dense(1, "exponential"), COUNTS, loss="poisson")
    assert problems(right) == [] and "ok" in codes(right)


def test_counts_with_squared_error_on_an_exponential_output_suggest_poisson():
    f = only(diagnose_head(dense(1, "exponential"), COUNTS, loss="mse"), "counts-squared-error")
    assert f.severity == "warning" and "loss='poisson'" in f.fix
    # a linear output with squared error is the table's own head: no such warning
    assert "counts-squared-error" not in codes(diagnose_head(dense(1), COUNTS, loss="mse"))


def test_a_gamma_loss_on_zeros_is_a_target_error():
    f = only(diagnose_head(dense(1, "exponential"), COUNTS, loss="gamma"), "loss-target-range")
    assert "above 0" in f.message


def test_independent_quantile_units_may_cross():
    f = only(diagnose_head(dense(3), CONTINUOUS, loss="quantile"), "quantile-crossing")
    assert "never cross" in f.fix


def test_skouts_own_count_and_quantile_models_pass_the_doctor():
    from skout import AutoHeadRegressor

    X = np.random.RandomState(0).normal(size=(len(COUNTS), 2))
    model = AutoHeadRegressor(loss="poisson", hidden_layer_sizes=(3,), max_iter=2).fit(X, COUNTS)
    assert problems(diagnose_head(model.model_, COUNTS)) == []
