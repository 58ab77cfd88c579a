"""Mistakes users make, and the clear ValueError each one gets."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import skout._engine
from skout import AutoHeadClassifier, AutoHeadRegressor

BOTH = pytest.mark.parametrize(
    "Est, target", [(AutoHeadClassifier, "binary-int"), (AutoHeadRegressor, "continuous")]
)


def _with(X, i, value):
    X = np.array(X, dtype=float)
    X.flat[i] = value
    return X


@BOTH
@pytest.mark.parametrize("value, match", [(np.nan, "Input X contains NaN"), (np.inf, "infinity")])
def test_nan_or_inf_in_X_is_refused_at_fit_and_predict(
    X, targets, tiny, Est, target, value, match
):
    y = targets[target]
    with pytest.raises(ValueError, match=match):
        Est(**tiny).fit(_with(X, 5, value), y)
    est = Est(**tiny).fit(X, y)
    with pytest.raises(ValueError, match=match):
        est.predict(_with(X, 5, value))


@pytest.mark.parametrize(
    "Est, y",
    [
        (AutoHeadRegressor, np.arange(60, dtype=float)),
        (AutoHeadClassifier, (np.arange(60) % 2).astype(float)),  # float class labels
    ],
)
def test_nan_in_y_is_refused(X, tiny, Est, y):
    with pytest.raises(
        ValueError, match=r"y has no value \(NaN, None or NA\) in 1 row.*rows \[3\]"
    ):
        Est(**tiny).fit(X, _with(y, 3, np.nan))


@BOTH
def test_wrong_number_of_features_at_predict(X, targets, tiny, Est, target):
    est = Est(**tiny).fit(X, targets[target])
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 4 features"):
        est.predict(X[:, :3])


@BOTH
def test_mismatched_X_and_y_lengths(X, targets, tiny, Est, target):
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Est(**tiny).fit(X, targets[target][:-1])


@BOTH
def test_empty_X(X, targets, tiny, Est, target):
    with pytest.raises(ValueError, match="0 sample"):
        Est(**tiny).fit(X[:0], targets[target][:0])


def test_one_dimensional_X_is_refused(X, targets, tiny):
    with pytest.raises(ValueError, match="Expected 2D array"):
        AutoHeadClassifier(**tiny).fit(X[:, 0], targets["binary-int"])


@pytest.mark.parametrize("y", [np.ones(60, dtype=int), np.full(60, "only")])
def test_single_class_is_refused(X, tiny, y):
    with pytest.raises(ValueError, match="only one class"):
        AutoHeadClassifier(**tiny).fit(X, y)


@pytest.mark.parametrize(
    "target, kind",
    [("continuous", "continuous"), ("continuous-multioutput", "continuous-multioutput")],
)
def test_continuous_target_to_classifier_names_type_and_regressor(X, targets, tiny, target, kind):
    with pytest.raises(ValueError, match=f"Unknown label type: '{kind}'") as info:
        AutoHeadClassifier(**tiny).fit(X, targets[target])
    assert "AutoHeadRegressor" in str(info.value)


@pytest.mark.parametrize("target", ["binary-str", "multiclass-str"])
def test_string_target_to_regressor_is_refused(X, targets, tiny, target):
    with pytest.raises(ValueError, match="(?i)numeric|could not convert"):
        AutoHeadRegressor(**tiny).fit(X, targets[target])


@pytest.mark.parametrize(
    "param, value, match",
    [
        ("hidden_layer_sizes", (0,), "hidden_layer_sizes"),
        ("hidden_layer_sizes", (8, -1), "hidden_layer_sizes"),
        ("hidden_layer_sizes", (4.5,), "hidden_layer_sizes"),  # () is no hidden layer, as MLP
        ("target_type", "ordinal", "target_type"),
        ("max_iter", 0, "max_iter"),
        ("solver", "newton", "solver"),
        ("activation", "gelu", "activation"),
        ("loss", "nonsense", "loss"),
        ("binary_head", "x", "binary_head"),
        ("learning_rate_init", -1, "learning_rate_init"),
        ("learning_rate_init", 0, "learning_rate_init"),
        ("alpha", -1.0, "alpha"),
        ("batch_size", 0, "batch_size"),
        ("validation_fraction", 1.0, "validation_fraction"),
        ("n_iter_no_change", 0, "n_iter_no_change"),
    ],
)
def test_invalid_hyperparameters_are_refused_at_fit(X, targets, tiny, param, value, match):
    est = AutoHeadClassifier(**{**tiny, param: value})  # __init__ only stores
    assert est.get_params()[param] == value
    with pytest.raises(ValueError, match=match):
        est.fit(X, targets["binary-int"])


@pytest.mark.parametrize("param, value", [("standardize_target", "yes"), ("loss", "nonsense")])
def test_invalid_regressor_hyperparameters(X, targets, tiny, param, value):
    with pytest.raises(ValueError, match=param):
        AutoHeadRegressor(**{**tiny, param: value}).fit(X, targets["continuous"])


@pytest.mark.parametrize(
    "Est, target, loss, offered",
    [
        (AutoHeadClassifier, "multiclass-int", "mean_squared_error", "categorical_crossentropy"),
        (AutoHeadClassifier, "binary-int", "poisson", "binary_crossentropy"),
        (AutoHeadRegressor, "continuous", "binary_crossentropy", "poisson"),
        (AutoHeadRegressor, "continuous", "scce", "squared_error"),
    ],
)
def test_each_estimator_offers_only_its_own_losses(X, targets, tiny, Est, target, loss, offered):
    """A regressor's loss options are regression losses, a classifier's
    classification losses: another is refused as a parameter, listing them."""
    from sklearn.utils._param_validation import InvalidParameterError

    est = Est(**tiny, loss=loss)
    with pytest.raises(InvalidParameterError, match=f"'loss' parameter of {Est.__name__}") as info:
        est.fit(X, targets[target])
    assert offered in str(info.value) and f"'{loss}'" in str(info.value)
    with pytest.raises(NotFittedError):
        est.predict(X)


@pytest.mark.parametrize(
    "Est, target, loss, advice",
    [
        (AutoHeadClassifier, "multiclass-int", "binary_crossentropy", "categorical_crossentropy"),
        (AutoHeadClassifier, "binary-int", "categorical_crossentropy", "binary_head='softmax'"),
        (AutoHeadClassifier, "multilabel", "categorical_crossentropy", "binary_crossentropy"),
    ],
)
def test_impossible_loss_is_refused_before_training(
    X, targets, tiny, monkeypatch, Est, target, loss, advice
):
    def no_training(*args, **kwargs):
        raise AssertionError("training started before the loss was checked")

    monkeypatch.setattr(skout._engine, "train", no_training)
    est = Est(**tiny, loss=loss)
    with pytest.raises(ValueError, match=f"loss='{loss}' cannot train") as info:
        est.fit(X, targets[target])
    assert advice in str(info.value)
    with pytest.raises(NotFittedError):
        est.predict(X)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba"])
def test_classifier_not_fitted(X, method):
    with pytest.raises(NotFittedError):
        getattr(AutoHeadClassifier(), method)(X)


@pytest.mark.parametrize("Est", [AutoHeadClassifier, AutoHeadRegressor])
def test_model_and_predict_before_fit_raise_not_fitted(X, Est):
    est = Est()
    with pytest.raises(NotFittedError):
        est.predict(X)
    with pytest.raises(NotFittedError):
        est.model_  # noqa: B018


@BOTH
def test_negative_sample_weight_is_refused(X, targets, tiny, Est, target):
    weights = np.ones(len(X))
    weights[0] = -1.0
    with pytest.raises(ValueError, match="(?i)negative"):
        Est(**tiny).fit(X, targets[target], sample_weight=weights)


def test_sample_weight_of_wrong_length_is_refused(X, targets, tiny):
    with pytest.raises(ValueError, match="sample_weight"):
        AutoHeadClassifier(**tiny).fit(X, targets["binary-int"], sample_weight=np.ones(5))


def test_unseen_labels_in_a_warm_start_fit_are_refused(X, targets, tiny):
    clf = AutoHeadClassifier(warm_start=True, **tiny).fit(X, targets["binary-int"])
    with pytest.raises(ValueError):
        clf.fit(X, targets["binary-int"] + 1)


def test_mixed_label_types_are_refused_with_a_value_error(X, tiny):
    y = np.array(["a", 1] * (len(X) // 2), dtype=object)
    with pytest.raises(ValueError, match="label"):
        AutoHeadClassifier(**tiny).fit(X, y)


# -- issue 13: checks made before training, warnings at the caller's line --------------
def test_skout_warnings_point_at_the_callers_line():
    import warnings

    X = np.random.RandomState(0).randn(30, 3)
    y = np.eye(3)[np.arange(30) % 3]
    y[4] = [1, 1, 0]  # one corrupted one-hot row
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AutoHeadClassifier(hidden_layer_sizes=(3,), max_iter=1).fit(X, y)
    ours = [w for w in caught if "exactly one 1" in str(w.message)]
    assert len(ours) == 1
    assert ours[0].filename == __file__, ours[0].filename


def test_body_predict_refuses_X_beyond_float32_like_the_dense_network():
    import keras

    from skout import KerasBody

    def body(shape):
        return keras.Sequential([keras.Input(shape), keras.layers.Dense(3, activation="relu")])

    X = np.random.RandomState(0).randn(30, 3)
    y = np.where(X[:, 0] > 0, 1, 0)
    clf = AutoHeadClassifier(body=KerasBody(body), max_iter=1, random_state=0).fit(X, y)
    for value in (1e39, -1e39):
        with pytest.raises(ValueError, match="beyond float32's range"):
            clf.predict_proba(_with(X, 0, value))


def test_lbfgs_on_a_raw_target_near_1e15_is_refused_before_training():
    X = np.random.RandomState(0).randn(30, 3)
    y = X[:, 0] * 1e15
    reg = AutoHeadRegressor(hidden_layer_sizes=(3,), solver="lbfgs", standardize_target=False)
    with pytest.raises(ValueError, match="standardize_target=False.*float32"):
        reg.fit(X, y)
    assert not hasattr(reg, "n_features_in_")
