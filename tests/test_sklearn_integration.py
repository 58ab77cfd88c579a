"""skout estimators inside scikit-learn's tools: pipelines, search, meta-estimators."""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    TunedThresholdClassifierCV,
    cross_val_predict,
    cross_val_score,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from skout import AutoHeadClassifier, AutoHeadRegressor


def test_estimator_kinds_are_recognised():
    assert is_classifier(AutoHeadClassifier())
    assert not is_regressor(AutoHeadClassifier())
    assert is_regressor(AutoHeadRegressor())
    assert not is_classifier(AutoHeadRegressor())


@pytest.mark.parametrize(
    "Est, MLP", [(AutoHeadClassifier, MLPClassifier), (AutoHeadRegressor, MLPRegressor)]
)
def test_parameters_shared_with_mlp_have_mlp_defaults(Est, MLP):
    ours, theirs = Est().get_params(), MLP().get_params()
    shared = (set(ours) & set(theirs)) - {"loss"}
    assert {"hidden_layer_sizes", "alpha", "max_iter", "early_stopping", "tol"} <= shared
    assert {k: ours[k] for k in shared} == {k: theirs[k] for k in shared}


def test_pipeline_with_standard_scaler_equals_scaling_by_hand(Xy_multiclass, tiny):
    X, y = Xy_multiclass
    X = X * 100 + 5
    pipe = make_pipeline(StandardScaler(), AutoHeadClassifier(**tiny)).fit(X, y)
    Xs = StandardScaler().fit_transform(X)
    by_hand = AutoHeadClassifier(**tiny).fit(Xs, y)
    np.testing.assert_array_equal(pipe.predict(X), by_hand.predict(Xs))
    np.testing.assert_allclose(pipe.predict_proba(X), by_hand.predict_proba(Xs))


def test_grid_search_in_parallel_workers(Xy_multiclass):
    # The suite's only n_jobs=2 search. Its cost (the slowest test in this file) is
    # two fresh worker processes each importing TensorFlow, not the tiny fits.
    X, y = Xy_multiclass
    grid = {"hidden_layer_sizes": [(4,), (8,)], "alpha": [1e-4, 1e-1]}
    search = GridSearchCV(
        AutoHeadClassifier(max_iter=10, random_state=0), grid, cv=2, n_jobs=2
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_params_["hidden_layer_sizes"] in grid["hidden_layer_sizes"]
    assert search.best_estimator_.hidden_layer_sizes == search.best_params_["hidden_layer_sizes"]
    assert set(search.predict(X).tolist()) <= set(y.tolist())


@pytest.mark.parametrize("target, n_classes", [("binary-str", 2), ("multiclass-str", 3)])
def test_cross_val_predict_proba_shapes(X, targets, tiny, target, n_classes):
    proba = cross_val_predict(
        AutoHeadClassifier(**tiny), X, targets[target], cv=3, method="predict_proba"
    )
    assert proba.shape == (len(X), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_calibrated_classifier(Xy_binary, tiny):
    X, y = Xy_binary
    cal = CalibratedClassifierCV(AutoHeadClassifier(**tiny), cv=2).fit(X, y)
    np.testing.assert_array_equal(cal.classes_, [3, 7])
    proba = cal.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(cal.predict(X).tolist()) <= {3, 7}


def test_tuned_threshold_classifier(X, targets, tiny):
    y = targets["binary-str"]
    tuned = TunedThresholdClassifierCV(
        AutoHeadClassifier(**tiny), scoring="balanced_accuracy", cv=2
    ).fit(X, y)
    np.testing.assert_array_equal(tuned.classes_, ["no", "yes"])
    assert 0.0 <= tuned.best_threshold_ <= 1.0
    proba = tuned.estimator_.predict_proba(X)[:, 1]
    expected = np.where(proba >= tuned.best_threshold_, "yes", "no")
    np.testing.assert_array_equal(tuned.predict(X), expected)


def test_soft_voting_averages_probabilities(Xy_multiclass, tiny):
    X, y = Xy_multiclass
    vote = VotingClassifier(
        [("skout", AutoHeadClassifier(**tiny)), ("lr", LogisticRegression())], voting="soft"
    ).fit(X, y)
    expected = np.mean([est.predict_proba(X) for est in vote.estimators_], axis=0)
    np.testing.assert_allclose(vote.predict_proba(X), expected)
    assert set(vote.predict(X).tolist()) <= set(y.tolist())


def test_stacking_uses_predict_proba(Xy_multiclass, tiny):
    X, y = Xy_multiclass
    stack = StackingClassifier(
        [("skout", AutoHeadClassifier(**tiny)), ("lr", LogisticRegression())],
        final_estimator=LogisticRegression(),
        cv=2,
    ).fit(X, y)
    assert stack.transform(X).shape == (len(X), 2 * 3)  # 3 class probabilities each
    np.testing.assert_allclose(
        stack.transform(X)[:, :3], stack.named_estimators_["skout"].predict_proba(X)
    )
    assert set(stack.predict(X).tolist()) <= set(y.tolist())


def test_cross_val_score_for_the_regressor(Xy_regression):
    X, y = Xy_regression
    reg = AutoHeadRegressor(
        hidden_layer_sizes=(8,), max_iter=40, learning_rate_init=0.03, random_state=0
    )
    scores = cross_val_score(reg, X, y, cv=3)
    assert scores.shape == (3,)
    assert np.all(scores > 0.5)


def _pickle(est):
    return pickle.loads(pickle.dumps(est))


def _joblib(est, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    return joblib.load(path)


def _refit_clone(est, X, y):
    return clone(est).fit(X, y)


@pytest.mark.parametrize("roundtrip", ["pickle", "joblib", "clone-refit"])
@pytest.mark.parametrize(
    "Est, target", [(AutoHeadClassifier, "multiclass-str"), (AutoHeadRegressor, "continuous")]
)
def test_round_trips_give_identical_predictions(
    X, targets, tiny, tmp_path, roundtrip, Est, target
):
    y = targets[target]
    est = Est(**tiny).fit(X, y)
    other = {
        "pickle": lambda: _pickle(est),
        "joblib": lambda: _joblib(est, tmp_path),
        "clone-refit": lambda: _refit_clone(est, X, y),
    }[roundtrip]()
    np.testing.assert_array_equal(other.predict(X), est.predict(X))
    if is_classifier(est):
        np.testing.assert_array_equal(other.predict_proba(X), est.predict_proba(X))
        np.testing.assert_array_equal(other.classes_, est.classes_)
    assert other.head_ == est.head_


def test_clone_does_not_carry_fitted_state(Xy_binary, tiny):
    X, y = Xy_binary
    est = AutoHeadClassifier(**tiny).fit(X, y)
    est.model_  # noqa: B018  (build the Keras model too)
    fresh = clone(est)
    assert fresh.get_params() == est.get_params()
    for attr in ("head_", "classes_", "n_features_in_", "loss_curve_", "target_type_"):
        assert not hasattr(fresh, attr)
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
    with pytest.raises(NotFittedError):
        fresh.model_  # noqa: B018


def test_get_params_and_set_params(tiny):
    est = AutoHeadClassifier(**tiny)
    params = est.get_params()
    assert params["hidden_layer_sizes"] == (8,)
    assert params["max_iter"] == 30
    assert params["binary_head"] == "sigmoid"
    assert est.set_params(alpha=0.5, binary_head="softmax") is est
    assert est.get_params()["alpha"] == 0.5
    assert est.binary_head == "softmax"
    with pytest.raises(ValueError, match="nonsense"):
        est.set_params(nonsense=1)


def test_set_params_changes_the_next_fit(Xy_binary, tiny):
    X, y = Xy_binary
    est = AutoHeadClassifier(**tiny).fit(X, y)
    assert est.head_.units == 1
    est.set_params(binary_head="softmax").fit(X, y)
    assert est.head_.units == 2


def test_dataframe_sets_feature_names_and_predicts(Xy_binary, tiny):
    X, y = Xy_binary
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = AutoHeadClassifier(**tiny).fit(df, y)
    np.testing.assert_array_equal(est.feature_names_in_, df.columns)
    assert est.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(est.predict(df), AutoHeadClassifier(**tiny).fit(X, y).predict(X))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df[df.columns[::-1]])


def test_numpy_fit_has_no_feature_names(Xy_binary, tiny):
    X, y = Xy_binary
    assert not hasattr(AutoHeadClassifier(**tiny).fit(X, y), "feature_names_in_")


@pytest.mark.parametrize("fit", [False, True])
def test_html_repr(Xy_binary, tiny, fit):
    X, y = Xy_binary
    est = AutoHeadClassifier(**tiny)
    if fit:
        est.fit(X, y)
    html = est._repr_html_()
    assert "AutoHeadClassifier" in html
    assert "hidden_layer_sizes" in html
    assert "AutoHeadClassifier" in repr(est)
