"""The training controls an MLPClassifier user (and a Keras user) expects."""

import pickle

import numpy as np
import pytest
import sklearn
from conftest import tensorflow_only
from sklearn.datasets import load_digits, make_classification, make_multilabel_classification
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skout import AutoHeadClassifier, AutoHeadRegressor


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, test_size=0.3, random_state=0)


# -- early stopping and validation curves ------------------------------------
def test_early_stopping_stops_early_and_restores_the_best_weights(digits):
    X, X_val, y, y_val = digits
    clf = AutoHeadClassifier(
        hidden_layer_sizes=(32,), max_iter=300, early_stopping=True, n_iter_no_change=5,
        learning_rate_init=0.01, random_state=0,
    ).fit(X, y, X_val=X_val, y_val=y_val)  # fmt: skip
    assert clf.n_iter_ < 300
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # The weights kept are those of the best epoch, not of the last one.
    # (scored in float32 during training, hence the tolerance)
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_validation_score_, abs=1e-6)
    assert clf.validation_scores_[-1] < clf.best_validation_score_ + 1e-12


def test_validation_split_is_stratified(digits, monkeypatch):
    """The rows held out for early stopping have the class proportions of y, as
    in MLPClassifier: every class within one row of its share (a plain random
    split of 1,347 rows misses that for several of the ten classes)."""
    import skout._engine

    X, _, y, _ = digits
    seen = {}
    train = skout._engine.train

    def spy(options, spec, weights, data, validation, *args, **kwargs):
        seen["validation"] = validation
        return train(options, spec, weights, data, validation, *args, **kwargs)

    monkeypatch.setattr(skout._engine, "train", spy)
    clf = AutoHeadClassifier(hidden_layer_sizes=(8,), max_iter=3, early_stopping=True,
                             validation_fraction=0.2, random_state=0).fit(X, y)  # fmt: skip
    assert clf.validation_scores_ is not None and len(clf.validation_scores_) == 3
    held_out = seen["validation"][1][:, 0].astype(int)  # the encoded class indices
    share = len(held_out) / len(y)
    for k in range(10):
        assert abs(np.sum(held_out == k) - share * np.sum(y == k)) <= 1, k


def test_explicit_validation_data_gives_curves_without_stopping(digits):
    X, X_val, y, y_val = digits
    clf = AutoHeadClassifier(hidden_layer_sizes=(16,), max_iter=15, tol=0, n_iter_no_change=50,
                             random_state=0).fit(X, y, X_val=X_val, y_val=y_val)  # fmt: skip
    assert clf.n_iter_ == 15
    assert len(clf.validation_loss_curve_) == len(clf.loss_curve_) == 15
    assert clf.validation_loss_curve_[-1] < clf.validation_loss_curve_[0]
    assert clf.validation_scores_[-1] == pytest.approx(clf.score(X_val, y_val), abs=1e-6)


def test_validation_curves_are_none_without_validation_data(digits):
    X, _, y, _ = digits
    clf = AutoHeadClassifier(hidden_layer_sizes=(8,), max_iter=3).fit(X, y)
    assert clf.validation_scores_ is None and clf.validation_loss_curve_ is None


# -- partial_fit ---------------------------------------------------------------
def test_partial_fit_over_many_calls_reaches_the_score_of_fit(digits):
    X, X_test, y, y_test = digits
    params = dict(hidden_layer_sizes=(32,), random_state=0, batch_size=64)
    fitted = AutoHeadClassifier(**params, max_iter=60, tol=0, n_iter_no_change=100).fit(X, y)
    online = AutoHeadClassifier(**params)
    for _ in range(100):
        online.partial_fit(X, y, classes=np.arange(10))
    assert online.n_iter_ == 100 and len(online.loss_curve_) == 100
    assert online.t_ == 100 * len(X)
    assert online.score(X_test, y_test) >= fitted.score(X_test, y_test) - 0.02


def test_partial_fit_needs_classes_first_and_refuses_unseen_labels(digits):
    X, _, y, _ = digits
    clf = AutoHeadClassifier(hidden_layer_sizes=(8,))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 5], y[y < 5], classes=np.arange(10))
    assert clf.head_.units == 10  # from classes, not from the first batch
    with pytest.raises(ValueError, match="not fitted on"):
        clf.partial_fit(X[:5], np.array([0, 1, 2, 3, 11]))
    with pytest.raises(ValueError, match="not the same as on the first call"):
        clf.partial_fit(X, y, classes=np.arange(11))


def test_partial_fit_on_indicator_targets_needs_no_classes():
    X, Y = make_multilabel_classification(n_samples=80, n_classes=3, random_state=0)
    clf = AutoHeadClassifier(hidden_layer_sizes=(8,)).partial_fit(X, Y)
    assert clf.predict(X).shape == Y.shape


def test_partial_fit_continues_identically_after_unpickling(digits):
    X, _, y, _ = digits
    a = AutoHeadClassifier(hidden_layer_sizes=(8,), random_state=0)
    a.partial_fit(X, y, classes=np.arange(10))
    b = pickle.loads(pickle.dumps(a))  # carries the optimizer state
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-7)


def test_partial_fit_regressor_and_target_change():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    reg = AutoHeadRegressor(hidden_layer_sizes=(8,))
    for _ in range(3):
        reg.partial_fit(X, X @ [1.0, 2.0, 3.0])
    assert reg.n_iter_ == 3
    with pytest.raises(ValueError, match="column"):
        reg.partial_fit(X, np.c_[X[:, 0], X[:, 1]])


# -- weights -----------------------------------------------------------------------
def test_balanced_class_weight_raises_minority_recall():
    X, y = make_classification(n_samples=600, weights=[0.93], flip_y=0.02,
                               class_sep=0.6, random_state=0)  # fmt: skip
    params = dict(hidden_layer_sizes=(16,), max_iter=60, random_state=0)
    plain = AutoHeadClassifier(**params).fit(X, y)
    balanced = AutoHeadClassifier(**params, class_weight="balanced").fit(X, y)
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X)) + 0.1


@pytest.mark.parametrize("target", ["multilabel", "multioutput", "one-hot"])
def test_class_weight_reaches_every_classification_head(target):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    if target == "multilabel":
        y = (X[:, :2] > 0).astype(int)
        weights = [{0: 1, 1: 1}, {0: 1, 1: 1}]
        heavy = [{0: 1, 1: 1}, {0: 1e-6, 1: 50}]
    elif target == "multioutput":
        y = np.c_[(X[:, 0] > 0).astype(int), np.digitize(X[:, 1], [-0.5, 0.5])]
        weights = [{0: 1, 1: 1}, {0: 1, 1: 1, 2: 1}]
        heavy = [{0: 1, 1: 1}, {0: 1e-6, 1: 1e-6, 2: 50}]
    else:
        y = np.eye(3, dtype=int)[np.digitize(X[:, 0], [-0.5, 0.5])]
        weights, heavy = {0: 1, 1: 1, 2: 1}, {0: 1e-6, 1: 1e-6, 2: 50}
    params = dict(hidden_layer_sizes=(8,), max_iter=40, random_state=0)
    even = AutoHeadClassifier(**params, class_weight=weights).fit(X, y)
    skewed = AutoHeadClassifier(**params, class_weight=heavy).fit(X, y)
    assert not np.array_equal(even.predict(X), skewed.predict(X))


def test_sample_weight_is_routed_through_a_pipeline_in_a_grid_search():
    X, y = make_classification(n_samples=200, random_state=0)
    weight = np.where(y == 1, 0.0, 1.0)  # only class 0 counts
    with sklearn.config_context(enable_metadata_routing=True):
        net = AutoHeadClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
        net.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), net)
        search = GridSearchCV(
            pipe, {"autoheadclassifier__alpha": [1e-4]}, cv=2, error_score="raise"
        )
        search.fit(X, y, sample_weight=weight)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert np.mean(search.predict(X) == 0) > 0.9


# -- optimizers, schedules, regularisation ----------------------------------------
@tensorflow_only
def test_lbfgs_fits_small_data_full_batch():
    X, y = make_classification(n_samples=150, random_state=0)
    clf = AutoHeadClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=200,
                             random_state=0).fit(X, y)  # fmt: skip
    assert clf.score(X, y) > 0.95
    assert 0 < clf.n_iter_ <= 200 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert not hasattr(clf, "partial_fit")


@tensorflow_only
def test_lbfgs_respects_max_fun():
    X, y = make_classification(n_samples=100, random_state=0)
    clf = AutoHeadClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_fun=5)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning, match="lbfgs"):
        clf.fit(X, y)
    assert clf.n_iter_ <= 5


def _sgd(**params):
    return AutoHeadClassifier(hidden_layer_sizes=(8,), solver="sgd", max_iter=30, tol=0,
                              n_iter_no_change=100, random_state=0, **params)  # fmt: skip


def test_invscaling_schedule_decays_the_learning_rate(digits):
    X, _, y, _ = digits
    constant = _sgd(learning_rate="constant").fit(X, y)
    no_decay = _sgd(learning_rate="invscaling", power_t=0.0).fit(X, y)
    decayed = _sgd(learning_rate="invscaling", power_t=0.5).fit(X, y)
    np.testing.assert_allclose(no_decay.loss_curve_, constant.loss_curve_, rtol=1e-6)
    assert decayed.loss_curve_[-1] > constant.loss_curve_[-1]


def test_adaptive_schedule_keeps_training_past_a_plateau(digits):
    X, _, y, _ = digits
    params = dict(solver="sgd", hidden_layer_sizes=(8,), tol=0.05, n_iter_no_change=2,
                  max_iter=60, random_state=0)  # fmt: skip
    constant = AutoHeadClassifier(**params).fit(X, y)
    adaptive = AutoHeadClassifier(**params, learning_rate="adaptive").fit(X, y)
    assert adaptive.n_iter_ > constant.n_iter_


def test_dropout_adds_layers_and_stays_reproducible(digits):
    X, _, y, _ = digits
    params = dict(hidden_layer_sizes=(16, 16), max_iter=5, random_state=0)
    a = AutoHeadClassifier(**params, dropout=0.3).fit(X, y)
    b = AutoHeadClassifier(**params, dropout=0.3).fit(X, y)
    plain = AutoHeadClassifier(**params).fit(X, y)
    names = [layer.name for layer in a.model_.layers]
    assert sum(name.startswith("dropout") for name in names) == 2
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.allclose(a.predict_proba(X), plain.predict_proba(X))


def test_alpha_shrinks_every_layer(digits):
    X, _, y, _ = digits
    small = AutoHeadClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0).fit(X, y)
    big = AutoHeadClassifier(hidden_layer_sizes=(16,), max_iter=20, alpha=10.0,
                             random_state=0).fit(X, y)  # fmt: skip
    for w_small, w_big in zip(small.coefs_, big.coefs_, strict=True):
        assert np.abs(w_big).sum() < np.abs(w_small).sum()


def test_coefs_and_intercepts_follow_mlp_shapes(digits):
    X, _, y, _ = digits
    clf = AutoHeadClassifier(hidden_layer_sizes=(16, 8), max_iter=2).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(64, 16), (16, 8), (8, 10)]
    assert [i.shape for i in clf.intercepts_] == [(16,), (8,), (10,)]


# -- Keras callbacks ---------------------------------------------------------------
def test_a_keras_callback_can_stop_training(digits):
    import keras

    X, X_val, y, y_val = digits

    class StopAtThree(keras.callbacks.Callback):
        epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            StopAtThree.epochs += 1
            if epoch == 2:
                self.model.stop_training = True

    clf = AutoHeadClassifier(hidden_layer_sizes=(8,), max_iter=50, callbacks=[StopAtThree()],
                             random_state=0).fit(X, y, X_val=X_val, y_val=y_val)  # fmt: skip
    assert StopAtThree.epochs == clf.n_iter_ == 3
    assert len(clf.validation_scores_) == 3
    assert clf.predict(X_val).shape == y_val.shape


# -- values that cannot be honoured ----------------------------------------------
@pytest.mark.parametrize(
    "params, call, match",
    [
        (dict(solver="lbfgs", early_stopping=True), "fit", "lbfgs"),
        (dict(solver="lbfgs", dropout=0.2), "fit", "lbfgs"),
        (dict(early_stopping=True), "partial_fit", "partial_fit"),
        (dict(class_weight="balanced"), "partial_fit", "balanced"),
        (dict(dropout=1.0), "fit", "dropout"),
    ],
)
def test_values_that_cannot_be_honoured_raise(digits, params, call, match):
    X, _, y, _ = digits
    clf = AutoHeadClassifier(hidden_layer_sizes=(4,), max_iter=2, **params)
    with pytest.raises(ValueError, match=match):
        if call == "fit":
            clf.fit(X, y)
        else:
            clf.partial_fit(X, y, classes=np.arange(10))


def test_x_val_without_y_val_is_refused(digits):
    X, X_val, y, _ = digits
    with pytest.raises(ValueError, match="together"):
        AutoHeadClassifier(max_iter=2).fit(X, y, X_val=X_val)
