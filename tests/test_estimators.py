"""AutoHeadClassifier / AutoHeadRegressor: the head table, end to end."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skout import AutoHeadClassifier, AutoHeadRegressor

SCCE, CCE, BCE, MSE = (
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
)

# case -> (target name in conftest, estimator kwargs, target_type, units, activation, loss)
CLASSIFIER_CASES = {
    "binary-int": ("binary-int", {}, "binary", 1, "sigmoid", BCE),
    "binary-str": ("binary-str", {}, "binary", 1, "sigmoid", BCE),
    "binary-bool": ("binary-bool", {}, "binary", 1, "sigmoid", BCE),
    "binary-categorical": ("binary-categorical", {}, "binary", 1, "sigmoid", BCE),
    "binary-softmax": ("binary-str", {"binary_head": "softmax"}, "binary", 2, "softmax", SCCE),
    "multiclass-str": ("multiclass-str", {}, "multiclass", 3, "softmax", SCCE),
    "multiclass-int": ("multiclass-int", {}, "multiclass", 3, "softmax", SCCE),
    "one-hot-int": ("one-hot-int", {}, "one-hot", 3, "softmax", CCE),
    "one-hot-bool-dummies": ("one-hot-bool-dummies", {}, "one-hot", 3, "softmax", CCE),
    "multilabel": ("multilabel", {}, "multilabel-indicator", 3, "sigmoid", BCE),
    "multiclass-multioutput": (
        "multiclass-multioutput",
        {},
        "multiclass-multioutput",
        (1, 3),
        ("sigmoid", "softmax"),
        (BCE, SCCE),
    ),
    "multiclass-multioutput-str": (
        "multiclass-multioutput-str",
        {"binary_head": "softmax"},
        "multiclass-multioutput",
        (2, 3),
        ("softmax", "softmax"),
        (SCCE, SCCE),
    ),
}
REGRESSOR_CASES = {
    "continuous": ("continuous", {}, "continuous", 1, "linear", MSE),
    "continuous-multioutput": (
        "continuous-multioutput",
        {},
        "continuous-multioutput",
        2,
        "linear",
        MSE,
    ),
}
LABEL_CASES = [c for c, v in CLASSIFIER_CASES.items() if v[2] in ("binary", "multiclass")]


@pytest.fixture(scope="module")
def fitted(X, targets):
    """fitted(case) -> (estimator, y); each case is trained once per module."""
    cache = {}

    def get(case):
        if case not in cache:
            cases = {**CLASSIFIER_CASES, **REGRESSOR_CASES}
            name, kwargs = cases[case][:2]
            Est = AutoHeadRegressor if case in REGRESSOR_CASES else AutoHeadClassifier
            y = targets[name]
            est = Est(hidden_layer_sizes=(8,), max_iter=30, random_state=0, **kwargs)
            cache[case] = (est.fit(X, y), y)
        return cache[case]

    return get


@pytest.mark.parametrize("case", [*CLASSIFIER_CASES, *REGRESSOR_CASES])
def test_fit_chooses_the_head_from_the_table(fitted, case):
    _, _, target_type, units, activation, loss = {**CLASSIFIER_CASES, **REGRESSOR_CASES}[case]
    est, y = fitted(case)
    assert est.target_type_ == target_type
    assert est.head_.target_type == target_type
    assert est.head_.units == units
    assert est.head_.activation == activation
    assert est.head_.loss == loss
    assert est.n_outputs_ == (1 if np.ndim(y) == 1 else np.shape(y)[1])


@pytest.mark.parametrize("case", LABEL_CASES)
def test_predict_returns_the_original_labels_and_dtype(fitted, X, case):
    clf, y = fitted(case)
    y = np.asarray(y)
    pred = clf.predict(X)
    assert isinstance(pred, np.ndarray)
    assert pred.shape == y.shape
    assert pred.dtype == y.dtype
    assert set(pred.tolist()) <= set(y.tolist())
    np.testing.assert_array_equal(clf.classes_, np.unique(y))


def test_categorical_series_predicts_its_categories(fitted, X, targets):
    clf, _ = fitted("binary-categorical")
    categories = set(targets["binary-categorical"].cat.categories)
    assert set(clf.classes_.tolist()) == categories
    assert set(clf.predict(X).tolist()) <= categories


@pytest.mark.parametrize("case", ["one-hot-int", "one-hot-bool-dummies"])
def test_one_hot_target_predicts_one_hot_rows_of_the_same_dtype(fitted, X, case):
    clf, y = fitted(case)
    y = np.asarray(y)
    pred = clf.predict(X)
    assert pred.shape == y.shape
    assert pred.dtype == y.dtype
    np.testing.assert_array_equal(pred.astype(int).sum(axis=1), 1)


def test_multilabel_target_predicts_a_0_1_indicator_matrix(fitted, X):
    clf, y = fitted("multilabel")
    pred = clf.predict(X)
    assert pred.shape == y.shape
    assert pred.dtype == y.dtype
    assert set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (clf.predict_proba(X) > 0.5).astype(y.dtype))


@pytest.mark.parametrize("case", ["multiclass-multioutput", "multiclass-multioutput-str"])
def test_multiclass_multioutput_predicts_one_label_per_column(fitted, X, case):
    clf, y = fitted(case)
    pred = clf.predict(X)
    assert pred.shape == y.shape
    assert pred.dtype == y.dtype
    assert len(clf.classes_) == y.shape[1]
    for j in range(y.shape[1]):
        np.testing.assert_array_equal(clf.classes_[j], np.unique(y[:, j]))
        assert set(pred[:, j].tolist()) <= set(y[:, j].tolist())


def test_column_vector_y_gives_column_vector_predictions(X, targets, tiny):
    y = targets["binary-str"].reshape(-1, 1)
    clf = AutoHeadClassifier(**tiny).fit(X, y)
    pred = clf.predict(X)
    assert pred.shape == (len(X), 1)
    assert set(pred.ravel().tolist()) <= {"yes", "no"}


@pytest.mark.parametrize("case", LABEL_CASES + ["one-hot-int"])
def test_predict_proba_is_n_by_n_classes_and_rows_sum_to_one(fitted, X, case):
    clf, _ = fitted(case)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert clf.predict_proba(X[:1]).shape == (1, len(clf.classes_))
    assert clf.predict_proba(X[0].reshape(1, -1)).shape == (1, len(clf.classes_))


def test_multilabel_predict_proba_is_independent_probabilities(fitted, X):
    clf, y = fitted("multilabel")
    proba = clf.predict_proba(X)
    assert proba.shape == y.shape
    assert np.all((proba >= 0) & (proba <= 1))
    assert not np.allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("case", ["multiclass-multioutput", "multiclass-multioutput-str"])
def test_multiclass_multioutput_predict_proba_is_a_list_per_column(fitted, X, case):
    clf, y = fitted(case)
    proba = clf.predict_proba(X)
    assert isinstance(proba, list)
    assert [p.shape for p in proba] == [(len(X), len(np.unique(y[:, j]))) for j in range(2)]
    for p in proba:
        assert np.all((p >= 0) & (p <= 1))
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "case", [c for c, v in CLASSIFIER_CASES.items() if v[2] != "multiclass-multioutput"]
)
def test_predict_log_proba_is_log_of_predict_proba(fitted, X, case):
    clf, _ = fitted(case)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(clf.predict_proba(X)))


def test_predict_log_proba_multioutput_is_a_list_of_logs(fitted, X):
    clf, _ = fitted("multiclass-multioutput")
    for log_p, p in zip(clf.predict_log_proba(X), clf.predict_proba(X), strict=True):
        np.testing.assert_allclose(log_p, np.log(p))


@pytest.mark.parametrize("case", LABEL_CASES)
def test_predict_is_classes_at_argmax_of_predict_proba(fitted, X, case):
    clf, _ = fitted(case)
    expected = clf.classes_[clf.predict_proba(X).argmax(axis=1)]
    np.testing.assert_array_equal(clf.predict(X), expected)


def test_one_hot_and_multioutput_predict_are_argmax_of_predict_proba(fitted, X):
    clf, y = fitted("one-hot-int")
    np.testing.assert_array_equal(clf.predict(X), np.eye(3)[clf.predict_proba(X).argmax(1)])
    clf, y = fitted("multiclass-multioutput-str")
    pred, proba = clf.predict(X), clf.predict_proba(X)
    for j, p in enumerate(proba):
        np.testing.assert_array_equal(pred[:, j], clf.classes_[j][p.argmax(axis=1)])


def _keras_outputs(model, X, use_predict=False):
    X = np.asarray(X, dtype=np.float32)
    out = model.predict(X, verbose=0) if use_predict else model(X)
    import keras

    # convert_to_numpy: np.asarray fails on a PyTorch tensor that requires grad.
    outputs = out if isinstance(out, (list, tuple)) else [out]
    return [keras.ops.convert_to_numpy(o) for o in outputs]


@pytest.mark.parametrize("case", list(CLASSIFIER_CASES))
def test_keras_model_has_the_head_and_agrees_with_predict_proba(fitted, X, case):
    clf, _ = fitted(case)
    n_out = len(clf.head_.outputs)
    last = clf.model_.layers[-n_out:]
    assert [layer.units for layer in last] == [o.units for o in clf.head_.outputs]
    assert [layer.get_config()["activation"] for layer in last] == [
        o.activation for o in clf.head_.outputs
    ]
    proba = clf.predict_proba(X)
    proba = proba if isinstance(proba, list) else [proba]
    for use_predict in (False, True):
        outputs = _keras_outputs(clf.model_, X, use_predict)
        assert len(outputs) == n_out
        for out, p, head_out in zip(outputs, proba, clf.head_.outputs):
            expected = p[:, 1:] if head_out.units == 1 else p  # one sigmoid unit: P(class 1)
            np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("case", list(REGRESSOR_CASES))
def test_regressor_keras_model_predicts_the_standardized_target(fitted, X, case):
    reg, y = fitted(case)
    y2 = np.asarray(y).reshape(len(y), -1)
    (out,) = _keras_outputs(reg.model_, X)
    assert reg.model_.layers[-1].units == y2.shape[1]
    assert reg.model_.layers[-1].get_config()["activation"] == "linear"
    pred = reg.predict(X).reshape(len(X), -1)
    np.testing.assert_allclose(out * y2.std(axis=0) + y2.mean(axis=0), pred, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("target", ["continuous", "continuous-multioutput"])
def test_regressor_without_standardization_model_predicts_y(X, targets, tiny, target):
    y = targets[target]
    reg = AutoHeadRegressor(standardize_target=False, **tiny).fit(X, y)
    (out,) = _keras_outputs(reg.model_, X)
    np.testing.assert_allclose(out.reshape(reg.predict(X).shape), reg.predict(X), atol=1e-4)


@pytest.mark.parametrize("case", list(REGRESSOR_CASES))
def test_regressor_predict_has_the_shape_of_y(fitted, X, case):
    reg, y = fitted(case)
    assert reg.predict(X).shape == y.shape
    assert reg.predict(X[:1]).shape == (1, *y.shape[1:])
    assert reg.predict(X).dtype == np.float64


def test_regressor_learns_diabetes_with_standardized_target():
    X, y = load_diabetes(return_X_y=True)
    reg = make_pipeline(
        StandardScaler(), AutoHeadRegressor(hidden_layer_sizes=(16,), max_iter=100, random_state=0)
    )
    assert reg.get_params()["autoheadregressor__standardize_target"] is True
    assert reg.fit(X, y).score(X, y) > 0.3


def test_regressor_standardize_target_false_still_learns(X, targets):
    y = targets["continuous"]
    reg = AutoHeadRegressor(
        hidden_layer_sizes=(8,),
        max_iter=100,
        learning_rate_init=0.03,
        standardize_target=False,
        random_state=0,
    )
    assert reg.fit(X, y).score(X, y) > 0.8


@pytest.mark.parametrize(
    "Est, target", [(AutoHeadClassifier, "multiclass-str"), (AutoHeadRegressor, "continuous")]
)
def test_same_random_state_gives_identical_predictions(X, targets, tiny, Est, target):
    y = targets[target]
    a = Est(**tiny).fit(X, y)
    b = Est(**tiny).fit(X, y)
    c = Est(**{**tiny, "random_state": 1}).fit(X, y)
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    if Est is AutoHeadClassifier:
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
        assert not np.allclose(a.predict_proba(X), c.predict_proba(X))
    else:
        np.testing.assert_array_equal(a.predict(X), b.predict(X))
        assert not np.allclose(a.predict(X), c.predict(X))


def test_seeded_fit_leaves_tensorflow_global_random_state_alone(X, targets):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(1)
    expected = [tf.random.uniform([4]).numpy() for _ in range(2)]
    keras.utils.set_random_seed(1)
    first = tf.random.uniform([4]).numpy()
    # A new architecture, so skout builds (and seeds) a fresh network here.
    AutoHeadClassifier(hidden_layer_sizes=(7,), max_iter=5, random_state=3).fit(
        X, targets["multiclass-str"]
    )
    second = tf.random.uniform([4]).numpy()
    np.testing.assert_array_equal([first, second], expected)


def test_seeded_fit_leaves_numpy_global_random_state_alone(X, targets, tiny):
    # The legacy global RandomState is what random_state=None code draws from.
    np.random.seed(5)  # noqa: NPY002
    expected = np.random.rand(3)  # noqa: NPY002
    np.random.seed(5)  # noqa: NPY002
    AutoHeadClassifier(**tiny).fit(X, targets["multiclass-str"])
    np.testing.assert_array_equal(np.random.rand(3), expected)  # noqa: NPY002


def test_early_stopping_records_validation_scores_and_stops_early(X, targets):
    clf = AutoHeadClassifier(
        hidden_layer_sizes=(8,),
        max_iter=40,
        learning_rate_init=0.05,
        early_stopping=True,
        n_iter_no_change=3,
        random_state=0,
    ).fit(X, targets["binary-bool"])
    assert isinstance(clf.validation_scores_, list)
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 40
    assert clf.best_loss_ is None


@pytest.mark.parametrize(
    "Est, target", [(AutoHeadClassifier, "binary-int"), (AutoHeadRegressor, "continuous")]
)
def test_without_early_stopping_best_loss_is_the_lowest_training_loss(
    X, targets, tiny, Est, target
):
    est = Est(**tiny).fit(X, targets[target])
    assert est.validation_scores_ is None
    assert est.best_validation_score_ is None
    assert len(est.loss_curve_) == est.n_iter_ == tiny["max_iter"]
    assert est.best_loss_ == pytest.approx(min(est.loss_curve_))


def test_warm_start_continues_from_the_previous_weights(X, targets):
    y = targets["multiclass-str"]
    params = dict(hidden_layer_sizes=(8,), max_iter=20, learning_rate_init=0.01, random_state=0)
    clf = AutoHeadClassifier(warm_start=True, **params).fit(X, y)
    first = list(clf.loss_curve_)
    assert first[0] - first[-1] > 0.1  # the first fit moved the weights a lot
    clf.fit(X, y)
    second = clf.loss_curve_[len(first) :]  # the curve goes on, as MLP's does
    assert abs(second[0] - first[-1]) < 0.25 * (first[0] - first[-1])
    cold = AutoHeadClassifier(**params).fit(X, y)
    assert cold.loss_curve_[0] == pytest.approx(first[0])


@pytest.mark.parametrize("new_target", ["binary-str", "multiclass-int", "one-hot-int"])
def test_warm_start_refuses_a_changed_target(X, targets, tiny, new_target):
    clf = AutoHeadClassifier(warm_start=True, **tiny).fit(X, targets["multiclass-str"])
    with pytest.raises(ValueError):
        clf.fit(X, targets[new_target])


def test_zero_sample_weight_on_a_class_moves_predictions_to_the_other(X, targets):
    y = targets["binary-int"]
    params = dict(hidden_layer_sizes=(8,), max_iter=30, learning_rate_init=0.01, random_state=0)
    plain = AutoHeadClassifier(**params).fit(X, y)
    weighted = AutoHeadClassifier(**params).fit(X, y, sample_weight=np.where(y == 7, 0.0, 1.0))
    share_plain = np.mean(plain.predict(X) == 3)
    share_weighted = np.mean(weighted.predict(X) == 3)
    assert share_weighted > share_plain
    assert share_weighted > 0.9


def test_categorical_crossentropy_on_a_1d_multiclass_target(X, targets, tiny):
    y = targets["multiclass-str"]
    clf = AutoHeadClassifier(loss="categorical_crossentropy", **tiny).fit(X, y)
    assert clf.head_.loss == "categorical_crossentropy"
    assert clf.head_.activation == "softmax"
    assert clf.predict_proba(X).shape == (len(X), 3)
    assert set(clf.predict(X).tolist()) <= set(y.tolist())


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_either_softmax_loss_trains_a_one_hot_target(X, targets, tiny, loss):
    y = targets["one-hot-int"]
    clf = AutoHeadClassifier(loss=loss, **tiny).fit(X, y)
    assert clf.head_.loss == loss
    assert clf.predict(X).shape == y.shape


def test_predict_follows_weights_changed_in_model(X, targets, tiny):
    clf = AutoHeadClassifier(**tiny).fit(X, targets["multiclass-str"])
    bias = np.zeros(3, dtype=np.float32)
    bias[2] = 100.0  # force class "c"
    clf.model_.layers[-1].bias.assign(bias)
    assert set(clf.predict(X).tolist()) == {"c"}
    assert set(pickle.loads(pickle.dumps(clf)).predict(X).tolist()) == {"c"}


@pytest.mark.parametrize("touch_model_first", [False, True])
def test_model_still_works_after_pickling(fitted, X, touch_model_first):
    clf, _ = fitted("multiclass-str")
    if touch_model_first:
        clf.model_  # noqa: B018
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict_proba(X), clf.predict_proba(X))
    (out,) = _keras_outputs(clone.model_, X)
    np.testing.assert_allclose(out, clone.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_verbose_prints_one_line_per_epoch(X, targets, capsys, early_stopping):
    clf = AutoHeadClassifier(
        hidden_layer_sizes=(8,), max_iter=5, verbose=True, early_stopping=early_stopping
    ).fit(X, targets["binary-int"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == clf.n_iter_
    for epoch, (line, loss) in enumerate(zip(lines, clf.loss_curve_), start=1):
        assert line.startswith(f"Iteration {epoch}, loss = ")
        assert f"{loss:.8f}" in line
        assert ("validation score" in line) == early_stopping


def test_quiet_fit_prints_nothing(X, targets, tiny, capsys):
    AutoHeadClassifier(**tiny).fit(X, targets["binary-int"])
    assert capsys.readouterr().out == ""


# -- issue 24, finding 3: hidden_layer_sizes=() as in MLP -------------------------------
@pytest.mark.parametrize("sizes", [(), []])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_no_hidden_layer_is_a_logistic_model_as_in_mlp(sizes, solver):
    from sklearn.neural_network import MLPClassifier

    Xl = np.random.RandomState(0).randn(80, 3)
    y = np.where(Xl[:, 0] - Xl[:, 1] > 0, "a", "b")
    clf = AutoHeadClassifier(
        hidden_layer_sizes=sizes, solver=solver, max_iter=200, learning_rate_init=0.05,
        random_state=0,
    ).fit(Xl, y)  # fmt: skip
    mlp = MLPClassifier(hidden_layer_sizes=sizes, max_iter=5).fit(Xl, y)
    assert clf.n_layers_ == mlp.n_layers_ == 2
    assert [w.shape for w in clf.coefs_] == [w.shape for w in mlp.coefs_] == [(3, 1)]
    assert clf.score(Xl, y) > 0.95
    assert "3 inputs → 1 sigmoid" in clf._repr_mimebundle_()["text/plain"]
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(Xl), clf.predict_proba(Xl))
    keras_proba = clf.model_.predict(Xl, verbose=0)[:, 0]
    np.testing.assert_allclose(keras_proba, clf.predict_proba(Xl)[:, 1], rtol=1e-4, atol=1e-6)


def test_no_hidden_layer_regressor_is_linear():
    Xl = np.random.RandomState(1).randn(80, 3)
    y = Xl @ np.array([1.0, -2.0, 0.5]) + 4.0
    reg = AutoHeadRegressor(hidden_layer_sizes=(), solver="lbfgs", max_iter=500).fit(Xl, y)
    assert reg.score(Xl, y) > 0.999


# -- issue 24: a warm-start fit extends the curves, as MLPRegressor does ----------------
@pytest.mark.parametrize("early_stopping", [False, True])
def test_warm_start_extends_the_curves_as_mlp_does(early_stopping):
    from sklearn.neural_network import MLPRegressor

    Xw = np.random.RandomState(0).randn(80, 3)
    y = Xw[:, 0] - Xw[:, 1]
    params = dict(max_iter=5, warm_start=True, early_stopping=early_stopping, random_state=0)
    params.update(n_iter_no_change=50)  # run every epoch
    ours, mlp = AutoHeadRegressor(hidden_layer_sizes=(4,), **params), MLPRegressor(**params)
    for est in (ours, mlp):
        est.fit(Xw, y)
        first_curve = list(est.loss_curve_)
        est.fit(Xw, y)
        assert est.loss_curve_[:5] == first_curve
    assert len(ours.loss_curve_) == len(mlp.loss_curve_) == 10
    assert ours.n_iter_ == mlp.n_iter_ == 5
    assert ours.t_ == mlp.t_
    if early_stopping:
        assert len(ours.validation_scores_) == len(mlp.validation_scores_) == 10
