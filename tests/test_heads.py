"""The head table (skout.heads): which output layer, loss and decoding a target needs."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_linnerud

from skout.heads import HEAD_TABLE, TARGET_TYPES, Head, OutputHead, check_loss, choose_head

ONE_HOT = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]])
MULTILABEL = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0]])
MIXED_COLUMNS = np.column_stack([[0, 1, 0, 1], [0, 1, 2, 2]])  # binary + 3-class column
SCCE, CCE, BCE, MSE = (
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
)

# (y, choose_head kwargs, target_type, units, activation, loss, decoding)
TABLE_CASES = {
    "binary-int": (np.array([0, 1, 1, 0]), {}, "binary", 1, "sigmoid", BCE, "binary threshold"),
    "binary-str": (
        np.array(["no", "yes", "no"]),
        {},
        "binary",
        1,
        "sigmoid",
        BCE,
        "binary threshold",
    ),
    "binary-bool": (
        np.array([True, False, True]),
        {},
        "binary",
        1,
        "sigmoid",
        BCE,
        "binary threshold",
    ),
    "binary-categorical": (
        pd.Series(pd.Categorical(["x", "y", "x"])),
        {},
        "binary",
        1,
        "sigmoid",
        BCE,
        "binary threshold",
    ),
    "binary-softmax": (
        np.array([0, 1, 1, 0]),
        {"binary_head": "softmax"},
        "binary",
        2,
        "softmax",
        SCCE,
        "argmax",
    ),
    "multiclass": (
        np.array(["cat", "dog", "bird", "dog"]),
        {},
        "multiclass",
        3,
        "softmax",
        SCCE,
        "argmax",
    ),
    "multiclass-int": (np.array([3, 1, 2, 0, 1]), {}, "multiclass", 4, "softmax", SCCE, "argmax"),
    "one-hot": (ONE_HOT, {}, "one-hot", 3, "softmax", CCE, "one-hot"),
    "one-hot-two-columns": (
        np.array([[1, 0], [0, 1], [1, 0]]),
        {},
        "one-hot",
        2,
        "softmax",
        CCE,
        "one-hot",
    ),
    "one-hot-bool-get-dummies": (
        pd.get_dummies(pd.Series(["a", "b", "c", "a"])),
        {},
        "one-hot",
        3,
        "softmax",
        CCE,
        "one-hot",
    ),
    "multilabel": (MULTILABEL, {}, "multilabel-indicator", 3, "sigmoid", BCE, "threshold"),
    "multiclass-multioutput": (
        MIXED_COLUMNS,
        {},
        "multiclass-multioutput",
        (1, 3),
        ("sigmoid", "softmax"),
        (BCE, SCCE),
        "argmax per output",
    ),
    "multiclass-multioutput-softmax": (
        MIXED_COLUMNS,
        {"binary_head": "softmax"},
        "multiclass-multioutput",
        (2, 3),
        ("softmax", "softmax"),
        (SCCE, SCCE),
        "argmax per output",
    ),
    "continuous": (
        np.array([0.5, 1.2, -3.0]),
        {"estimator": "regressor"},
        "continuous",
        1,
        "linear",
        MSE,
        "identity",
    ),
    "continuous-multioutput": (
        np.array([[0.5, 1.0], [1.2, -2.0], [3.0, 0.1]]),
        {"estimator": "regressor"},
        "continuous-multioutput",
        2,
        "linear",
        MSE,
        "identity",
    ),
    "integer-valued-floats-diabetes": (
        load_diabetes().target,
        {"estimator": "regressor"},
        "continuous",
        1,
        "linear",
        MSE,
        "identity",
    ),
    "integer-valued-floats-linnerud": (
        load_linnerud().target,
        {"estimator": "regressor"},
        "continuous-multioutput",
        3,
        "linear",
        MSE,
        "identity",
    ),
    "integers-to-regressor": (
        np.array([1, 2, 3, 2]),
        {"estimator": "regressor"},
        "continuous",
        1,
        "linear",
        MSE,
        "identity",
    ),
}


@pytest.mark.parametrize(
    "y, kwargs, target_type, units, activation, loss, decoding",
    list(TABLE_CASES.values()),
    ids=list(TABLE_CASES),
)
def test_choose_head_follows_the_table(y, kwargs, target_type, units, activation, loss, decoding):
    head = choose_head(y, **kwargs)
    assert isinstance(head, Head)
    assert head.target_type == target_type
    assert head.units == units
    assert head.activation == activation
    assert head.loss == loss
    assert head.decoding == decoding
    assert head.is_classifier == (kwargs.get("estimator", "classifier") == "classifier")


def test_head_table_rows_cover_every_target_type():
    assert set(TARGET_TYPES) == {
        "binary",
        "multiclass",
        "one-hot",
        "multilabel-indicator",
        "multiclass-multioutput",
        "continuous",
        "continuous-multioutput",
    }
    assert {row.target_type for row in HEAD_TABLE} == set(TARGET_TYPES)
    for row in HEAD_TABLE:
        assert all(isinstance(v, str) and v for v in vars(row).values()), row


@pytest.mark.parametrize("row", HEAD_TABLE, ids=lambda r: f"{r.target_type}-{r.units}")
def test_head_table_rows_agree_with_choose_head(row):
    example = {
        ("binary", "1"): (np.array([0, 1, 1]), {}),
        ("binary", "2"): (np.array([0, 1, 1]), {"binary_head": "softmax"}),
        ("multiclass", "K"): (np.array([0, 1, 2]), {}),
        ("one-hot", "K"): (ONE_HOT, {}),
        ("multilabel-indicator", "K"): (MULTILABEL, {}),
        ("continuous", "1"): (np.array([0.1, 0.2]), {"estimator": "regressor"}),
        ("continuous-multioutput", "n_outputs"): (MULTILABEL * 1.5, {"estimator": "regressor"}),
    }
    if row.target_type == "multiclass-multioutput":
        head = choose_head(MIXED_COLUMNS)
        assert head.target_type == row.target_type
        assert len(head.outputs) == MIXED_COLUMNS.shape[1]
        return
    y, kwargs = example[(row.target_type, row.units)]
    head = choose_head(y, **kwargs)
    assert head.target_type == row.target_type
    assert head.activation == row.activation
    assert head.loss == row.loss
    if row.units.isdigit():
        assert head.units == int(row.units)


@pytest.mark.parametrize(
    "y, kwargs, loss",
    [
        (np.array([0, 1, 1]), {}, "binary_crossentropy"),
        (np.array([0, 1, 1]), {}, "bce"),
        (np.array([0, 1, 1]), {}, "binary_focal_crossentropy"),
        (np.array([0, 1, 1]), {"binary_head": "softmax"}, "sparse_categorical_crossentropy"),
        (np.array([0, 1, 1]), {"binary_head": "softmax"}, "categorical_crossentropy"),
        (np.array([0, 1, 2]), {}, "sparse_categorical_crossentropy"),
        (np.array([0, 1, 2]), {}, "categorical_crossentropy"),
        (np.array([0, 1, 2]), {}, "categorical_focal_crossentropy"),
        (ONE_HOT, {}, "categorical_crossentropy"),
        (ONE_HOT, {}, "sparse_categorical_crossentropy"),
        (MULTILABEL, {}, "binary_crossentropy"),
        (MIXED_COLUMNS, {"binary_head": "softmax"}, "categorical_crossentropy"),
        (np.array([0.1, 0.2]), {"estimator": "regressor"}, "mean_squared_error"),
        (np.array([0.1, 0.2]), {"estimator": "regressor"}, "mean_absolute_error"),
        (np.array([0.1, 0.2]), {"estimator": "regressor"}, "huber"),
        (np.array([0.1, 0.2]), {"estimator": "regressor"}, "log_cosh"),
    ],
)
def test_check_loss_accepts_compatible_losses(y, kwargs, loss):
    head = choose_head(y, **kwargs)
    checked = check_loss(head, loss)
    losses = checked.loss if isinstance(checked.loss, tuple) else (checked.loss,)
    canonical = {"bce": "binary_crossentropy"}.get(loss, loss)
    assert set(losses) == {canonical}
    # The layer itself is unchanged: only the loss (and so the encoding) moves.
    assert checked.units == head.units
    assert checked.activation == head.activation
    assert checked.target_type == head.target_type


def test_check_loss_auto_keeps_the_table_loss():
    head = choose_head(np.array([0, 1, 2]))
    assert check_loss(head, "auto") == head


def test_check_loss_resolves_aliases_to_keras_names():
    head = choose_head(np.array([0.1, 0.2]), estimator="regressor")
    assert check_loss(head, "mse").loss == "mean_squared_error"
    assert check_loss(head, "mae").loss == "mean_absolute_error"


@pytest.mark.parametrize(
    "y, kwargs, loss, advice",
    [
        # sigmoid head + categorical cross-entropy
        (np.array([0, 1, 1]), {}, "categorical_crossentropy", "binary_crossentropy"),
        (MULTILABEL, {}, "categorical_crossentropy", "binary_crossentropy"),
        # softmax head + binary cross-entropy
        (np.array([0, 1, 2]), {}, "binary_crossentropy", "categorical_crossentropy"),
        (ONE_HOT, {}, "binary_crossentropy", "categorical_crossentropy"),
        (np.array([0, 1, 1]), {"binary_head": "softmax"}, "bce", "categorical_crossentropy"),
        # classification loss on a regression head
        (np.array([0.1, 0.2]), {"estimator": "regressor"}, "binary_crossentropy", "mean_squared"),
        (np.array([0.1, 0.2]), {"estimator": "regressor"}, "categorical_crossentropy", "mean_"),
        # regression loss on a classifier head
        (np.array([0, 1, 2]), {}, "mean_squared_error", "categorical_crossentropy"),
        (np.array([0, 1, 1]), {}, "mae", "binary_crossentropy"),
        # a single loss cannot fit a sigmoid column and a softmax column
        (MIXED_COLUMNS, {}, "binary_crossentropy", "categorical_crossentropy"),
    ],
)
def test_check_loss_refuses_impossible_pairings_and_says_what_to_use(y, kwargs, loss, advice):
    head = choose_head(y, **kwargs)
    with pytest.raises(ValueError, match=f"loss='{loss}' cannot train") as info:
        check_loss(head, loss)
    message = str(info.value)
    assert advice in message
    assert head.target_type in message


def test_check_loss_refuses_unknown_loss_and_lists_the_names():
    with pytest.raises(ValueError, match="Unknown loss 'nonsense'.*binary_crossentropy"):
        check_loss(choose_head(np.array([0, 1, 2])), "nonsense")


@pytest.mark.parametrize(
    "y",
    [np.array([1, 1, 1]), np.array(["a", "a"]), np.column_stack([[0, 0, 0], [0, 1, 2]])],
    ids=["one-int-class", "one-str-class", "one-class-in-a-column"],
)
def test_one_class_is_refused(y):
    with pytest.raises(ValueError, match="only one class"):
        choose_head(y)


@pytest.mark.parametrize(
    "y, kind",
    [
        (np.array([0.5, 1.5, 2.0]), "continuous"),
        (np.array([[0.5, 1.0], [1.5, 2.0]]), "continuous-multioutput"),
    ],
)
def test_continuous_target_for_classifier_points_to_regressor(y, kind):
    with pytest.raises(ValueError, match="Unknown label type") as info:
        choose_head(y, estimator="classifier")
    assert kind in str(info.value)
    assert "AutoHeadRegressor" in str(info.value)


def test_mixed_label_types_are_a_value_error():
    with pytest.raises(ValueError, match="label"):
        choose_head(np.array(["a", 1, 2, "b"], dtype=object))


def test_string_target_for_regressor_points_to_classifier():
    with pytest.raises(ValueError, match="numeric target.*AutoHeadClassifier"):
        choose_head(np.array(["a", "b", "c"]), estimator="regressor")


@pytest.mark.parametrize(
    "kwargs, match",
    [({"estimator": "ranker"}, "estimator must be"), ({"binary_head": "x"}, "binary_head must")],
)
def test_choose_head_validates_its_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        choose_head(np.array([0, 1]), **kwargs)


def test_head_repr_names_every_field():
    head = choose_head(np.array(["cat", "dog", "bird"]))
    assert repr(head) == (
        "Head(target_type='multiclass', units=3, activation='softmax', "
        "loss='sparse_categorical_crossentropy', decoding='argmax')"
    )


def test_output_head_keras_code_is_the_dense_line():
    assert OutputHead(4, "sigmoid", BCE).keras_code() == "Dense(4, activation='sigmoid')"


@pytest.mark.parametrize(
    "y, kwargs, expected",
    [
        (np.array([0, 1, 2]), {}, ["Dense(3, activation='softmax')", SCCE, "argmax"]),
        (np.array([0, 1, 1]), {}, ["Dense(1, activation='sigmoid')", BCE, "> 0.5"]),
        (MULTILABEL, {}, ["Dense(3, activation='sigmoid')", BCE, "> 0.5"]),
        (ONE_HOT, {}, ["Dense(3, activation='softmax')", CCE, "np.eye"]),
        (np.array([0.1, 0.2]), {"estimator": "regressor"}, ["Dense(1, activation='linear')", MSE]),
        (
            MIXED_COLUMNS,
            {},
            [
                "Dense(1, activation='sigmoid')",
                "Dense(3, activation='softmax')",
                BCE,
                SCCE,
                "for j, p in enumerate(model.predict(X))",
            ],
        ),
    ],
    ids=["multiclass", "binary", "multilabel", "one-hot", "continuous", "multioutput"],
)
def test_head_keras_code_shows_layer_loss_and_decoding(y, kwargs, expected):
    code = choose_head(y, **kwargs).keras_code()
    assert code.count("\n") == 2  # layer(s), compile, decoding
    for part in expected:
        assert part in code, code


def _modules_after(statement):
    code = (
        f"import sys; {statement}; "
        "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize(
    "statement",
    [
        "import skout.heads",
        "import skout",
        "import numpy as np; from skout.heads import choose_head; choose_head(np.array([0, 1]))",
    ],
)
def test_importing_skout_does_not_import_keras_or_tensorflow(statement):
    assert _modules_after(statement) == "[]"


# ------------------------------------------------ losses and decodings as data


def test_each_estimator_accepts_its_own_loss_names():
    from skout.heads import CLASSIFIER_LOSS_NAMES, LOSS_NAMES, REGRESSOR_LOSS_NAMES

    assert set(CLASSIFIER_LOSS_NAMES) == {
        *("bce", "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy"),
        *("categorical_focal_crossentropy", "cce", "scce", "sparse_categorical_crossentropy"),
    }
    assert set(REGRESSOR_LOSS_NAMES) == {
        *("absolute_error", "huber", "log_cosh", "mae", "mean_absolute_error"),
        *("mean_squared_error", "mse", "squared_error"),
        # scikit-learn's MLPRegressor / HistGradientBoostingRegressor names
        *("poisson", "gamma", "tweedie", "quantile", "pinball"),
    }
    assert set(LOSS_NAMES) == set(CLASSIFIER_LOSS_NAMES) | set(REGRESSOR_LOSS_NAMES)


def test_loss_table_knows_the_doctors_extra_names():
    from skout.heads import LOSS_TABLE, loss_rule

    assert loss_rule("KLD").name == "kl_divergence" and loss_rule("kld").family == "categorical"
    assert loss_rule("mape").family == "regression" and not loss_rule("mape").trainable
    assert loss_rule("hinge") is None
    with pytest.raises(ValueError, match="Unknown loss 'mape'"):
        check_loss(choose_head(np.array([0.5, 1.0]), estimator="regressor"), "mape")
    for rule in LOSS_TABLE:  # each loss trains the activation its family reads
        expected = {"binary": "sigmoid", "sparse": "softmax", "categorical": "softmax"}
        if rule.family == "regression":  # a log link for the deviances, else identity
            assert rule.activation in ("exp", "linear"), rule
            assert (rule.activation == "exp") == (rule.standardize == "none"), rule
        else:
            assert rule.activation == expected[rule.family], rule


CLASSIFIER_TARGETS = {
    "binary": (np.array(["no", "yes", "no", "yes"]), {}),
    "binary-softmax": (np.array(["no", "yes", "no", "yes"]), {"binary_head": "softmax"}),
    "multiclass": (np.array(["cat", "dog", "bird", "dog"]), {}),
    "one-hot": (ONE_HOT, {}),
    "multilabel": (MULTILABEL, {}),
    "multiclass-multioutput": (
        np.column_stack([["no", "yes", "no", "yes"], ["a", "b", "c", "a"]]),
        {},
    ),
}


@pytest.mark.parametrize("name", CLASSIFIER_TARGETS)
def test_the_printed_decoding_line_predicts_what_skout_predicts(name):
    """Head.keras_code()'s last line, run on network outputs, gives skout's own predict."""
    from skout._encoding import TargetEncoder

    y, kwargs = CLASSIFIER_TARGETS[name]
    head = choose_head(y, **kwargs)
    encoder = TargetEncoder(head).fit(y)
    rng = np.random.RandomState(0)
    outputs = []
    for out in head.outputs:
        raw = rng.uniform(0.01, 0.99, size=(50, out.units))  # never exactly 0.5
        outputs.append(
            raw / raw.sum(axis=1, keepdims=True) if out.activation == "softmax" else raw
        )
    predicted = outputs if len(outputs) > 1 else outputs[0]
    model = type("Model", (), {"predict": lambda self, X: predicted})()
    scope = {"np": np, "model": model, "X": None, "classes": encoder.classes_}
    exec(head.keras_code().splitlines()[-1], scope)
    decoded = next(scope[k] for k in ("labels", "onehot", "indicator") if k in scope)
    expected = encoder.predict(outputs)
    if name == "multiclass-multioutput":
        decoded = np.column_stack(decoded)
    np.testing.assert_array_equal(np.asarray(decoded).astype(expected.dtype), expected)


def test_counts_with_many_zeros_get_a_poisson_suggestion_but_auto_stays_squared_error():
    from skout.heads import suggest_loss

    counts = np.array([0, 0, 3, 1, 0, 7, 2, 0, 1, 0])
    head = choose_head(counts, estimator="regressor")
    assert head.loss == "mean_squared_error"  # "auto" regresses integers as they are
    assert head.suggestion.startswith("loss='poisson'") and "50%" in head.suggestion
    assert head == choose_head(counts.astype(float) + 0.5, estimator="regressor")  # not compared
    assert "suggestion=" in repr(head)
    # integers without zeros (load_diabetes), negative ones, a 0/1 column: no suggestion
    for y in ([151, 75, 141, 206], [-1, 0, 0, 2, 3], [0, 1, 0, 1, 0]):
        assert suggest_loss(np.array(y)) == ""
    two = choose_head(np.column_stack([counts, counts[::-1]]), estimator="regressor")
    assert two.suggestion.startswith("loss='poisson'")
