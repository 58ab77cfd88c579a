"""Heads that start at the data's prior, and the classifier's logits
(``decision_function``), as scikit-learn's calibration and threshold tools read them."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import TunedThresholdClassifierCV

from skout import AutoHeadClassifier, AutoHeadRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(n_samples=1000, n_features=6, weights=[0.97], flip_y=0,
                               random_state=0)  # fmt: skip
    return X, y


def _entropy(y, weights=None):
    p = np.bincount(y, weights=weights) / (len(y) if weights is None else np.sum(weights))
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _untrained(Est, **params):
    """An estimator whose one epoch cannot move the weights (its loss_curve_[0]
    is the loss of the network as initialised)."""
    return Est(max_iter=1, learning_rate_init=1e-12, alpha=0.0, random_state=0, **params)


@pytest.mark.parametrize("target", ["binary", "multiclass"])
def test_a_constant_head_starts_at_the_entropy_of_the_prior(target):
    X, y = make_classification(n_samples=600, n_features=5, n_informative=3, n_classes=3,
                               weights=[0.7, 0.2], random_state=1)  # fmt: skip
    if target == "binary":
        y = (y == 0).astype(int)
    model = _untrained(AutoHeadClassifier, head_init="constant").fit(X, y)
    # float32 arithmetic on values near 1: agreement to 1e-6
    assert model.loss_curve_[0] == pytest.approx(_entropy(y), rel=1e-6)
    np.testing.assert_allclose(model.predict_proba(X[:3]), [np.bincount(y) / len(y)] * 3,
                               rtol=1e-6)  # fmt: skip


def test_the_prior_is_weighted_by_class_and_sample_weights(imbalanced):
    X, y = imbalanced
    balanced = _untrained(AutoHeadClassifier, head_init="constant", class_weight="balanced")
    np.testing.assert_allclose(balanced.fit(X, y).predict_proba(X[:2]), 0.5, rtol=1e-6)
    weights = np.where(y == 1, 3.0, 1.0)
    weighted = _untrained(AutoHeadClassifier, head_init="constant").fit(X, y, weights)
    share = 3 * np.sum(y) / (3 * np.sum(y) + np.sum(1 - y))
    np.testing.assert_allclose(weighted.predict_proba(X[:1])[0, 1], share, rtol=1e-6)


def test_a_prior_head_starts_near_the_prior_where_a_random_one_does_not(imbalanced):
    X, y = imbalanced
    prior = _untrained(AutoHeadClassifier).fit(X, y)  # the default: head_init="prior"
    random = _untrained(AutoHeadClassifier, head_init="glorot").fit(X, y)
    entropy = _entropy(y)
    # The bias is the logit of the rate; the random kernel adds a little.
    rate = np.mean(y)
    assert prior.intercepts_[-1][0] == pytest.approx(np.log(rate / (1 - rate)), rel=1e-6)
    # (seeds 0-2: 0.12-0.15 against an entropy of 0.135; random: 0.49-1.0)
    assert prior.loss_curve_[0] < 1.5 * entropy
    assert random.loss_curve_[0] > 3 * entropy


def test_an_imbalanced_problem_does_not_spend_its_first_epochs_learning_the_prior(imbalanced):
    X, y = imbalanced
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    for seed in (0, 1, 2):
        prior = AutoHeadClassifier(**{**params, "random_state": seed}).fit(X, y)
        random = AutoHeadClassifier(**{**params, "random_state": seed}, head_init="glorot")
        # After 5 epochs a prior head is near the prior's entropy (0.135: seeds
        # 0-2 at 0.121-0.149); a random one is still learning the class
        # balance (0.32-0.44).
        entropy = _entropy(y)
        assert prior.loss_curve_[-1] < 1.25 * entropy
        assert random.fit(X, y).loss_curve_[-1] > 2 * entropy


def test_partial_fit_starts_from_random_heads():
    # Its first batch is one sample of a stream: a class it lacks would start
    # at a probability near 0 and stay there.
    X = np.random.RandomState(0).normal(size=(30, 3))
    first = np.zeros(30, dtype=int)
    glorot = AutoHeadClassifier(head_init="glorot", random_state=0)
    stream = AutoHeadClassifier(random_state=0)
    for model in (glorot, stream):
        model.partial_fit(X, first, classes=[0, 1, 2])
    np.testing.assert_array_equal(stream.intercepts_[-1], glorot.intercepts_[-1])


# -- decision_function ----------------------------------------------------------------
TARGETS = ["binary-str", "binary-softmax", "multiclass-str", "one-hot-int", "multilabel",
           "multiclass-multioutput"]  # fmt: skip


def _fitted(targets, X, name):
    params = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
    if name == "binary-softmax":
        return AutoHeadClassifier(binary_head="softmax", **params).fit(X, targets["binary-str"])
    return AutoHeadClassifier(**params).fit(X, targets[name])


@pytest.mark.parametrize("name", TARGETS)
def test_decision_function_is_what_predict_and_predict_proba_read(targets, X, name):
    model = _fitted(targets, X, name)
    decision, proba, predicted = (
        model.decision_function(X),
        model.predict_proba(X),
        model.predict(X),
    )
    if name == "multiclass-multioutput":
        for j, (d, p) in enumerate(zip(decision, proba)):
            _check_one(d, p, predicted[:, j], model.classes_[j])
        return
    if name.startswith("binary"):
        assert decision.shape == (len(X),)
        np.testing.assert_array_equal(predicted, model.classes_[(decision > 0).astype(int)])
        np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-decision)), rtol=1e-9)
    elif name == "multilabel":
        assert decision.shape == proba.shape
        np.testing.assert_array_equal(predicted, (decision > 0).astype(predicted.dtype))
        np.testing.assert_allclose(proba, 1 / (1 + np.exp(-decision)), rtol=1e-9)
    else:
        _check_one(decision, proba, predicted, model.classes_)


def _check_one(decision, proba, predicted, classes):
    if decision.ndim == 1:
        np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-decision)), rtol=1e-9)
        return
    softmax = np.exp(decision - decision.max(axis=1, keepdims=True))
    np.testing.assert_allclose(proba, softmax / softmax.sum(axis=1, keepdims=True), rtol=1e-9)
    if predicted.ndim == 2:  # one-hot rows
        np.testing.assert_array_equal(predicted.argmax(axis=1), decision.argmax(axis=1))
    else:
        np.testing.assert_array_equal(predicted, classes[decision.argmax(axis=1)])


def test_predict_log_proba_is_finite_where_a_probability_rounds_to_zero():
    X = np.r_[np.zeros((20, 1)), np.ones((20, 1))] * 200.0
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    model = AutoHeadClassifier(hidden_layer_sizes=(4,), max_iter=400, learning_rate_init=0.1,
                               random_state=0).fit(X, y)  # fmt: skip
    assert np.any(model.predict_proba(X) == 0.0)  # saturated
    log_proba = model.predict_log_proba(X)
    assert np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(np.exp(log_proba), model.predict_proba(X), atol=1e-12)


def test_scikit_learns_tools_read_the_logits(imbalanced):
    X, y = imbalanced
    model = AutoHeadClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = model.fit(X, y)
        assert roc_auc_score(y, fitted.decision_function(X)) == pytest.approx(
            roc_auc_score(y, fitted.predict_proba(X)[:, 1])
        )
        tuned = TunedThresholdClassifierCV(model, cv=3).fit(X, y)
        assert set(tuned.predict(X)) <= {0, 1}
        if tuple(int(v) for v in sklearn.__version__.split(".")[:2]) >= (1, 8):
            calibrated = CalibratedClassifierCV(model, method="temperature", cv=3).fit(X, y)
            np.testing.assert_allclose(calibrated.predict_proba(X).sum(axis=1), 1.0)


def test_the_regressor_has_no_decision_function():
    assert not hasattr(AutoHeadRegressor(), "decision_function")
