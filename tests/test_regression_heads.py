"""Counts, positive amounts and quantiles: the regressor's log-link and pinball
heads, on data drawn from the models they fit."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    d2_tweedie_score,
    mean_gamma_deviance,
    mean_pinball_loss,
    mean_poisson_deviance,
)
from sklearn.model_selection import GridSearchCV, cross_val_predict
from sklearn.utils._param_validation import InvalidParameterError

from skout import AutoHeadRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
N = 600
NET = dict(hidden_layer_sizes=(16,), max_iter=150, learning_rate_init=0.01, random_state=0)


def _features(n=N, seed=0):
    return np.random.RandomState(seed).normal(size=(n, 3))


def _poisson(seed=0, n=N):
    X = _features(n, seed)
    mean = np.exp(0.5 + 0.7 * X[:, 0] - 0.4 * X[:, 1])
    return X, np.random.RandomState(seed + 1).poisson(mean).astype(float), mean


def _gamma(seed=0, n=N):
    X = _features(n, seed)
    mean = np.exp(1.0 + 0.5 * X[:, 0] - 0.5 * X[:, 2])
    return X, np.random.RandomState(seed + 1).gamma(3.0, mean / 3.0), mean


def _heteroscedastic(seed=0, n=N):
    X = _features(n, seed)
    spread = 0.2 + 0.8 * np.abs(X[:, 0])
    return X, X[:, 1] + spread * np.random.RandomState(seed + 1).normal(size=n), spread


@pytest.fixture(scope="module")
def counts():
    return _poisson()


@pytest.fixture(scope="module")
def poisson_model(counts):
    X, y, _ = counts
    return AutoHeadRegressor(loss="poisson", **NET).fit(X, y)


def test_poisson_head_is_a_log_link_trained_on_the_deviance(poisson_model):
    out = poisson_model.head_.outputs[0]
    assert (out.units, out.activation, out.loss) == (1, "exp", "poisson")
    # No centring of y: the scale of a log link is its bias.
    assert poisson_model._state().encoder.mean_.tolist() == [0.0]
    assert poisson_model._state().encoder.scale_.tolist() == [1.0]


def test_poisson_recovers_the_generating_model_on_unseen_data(poisson_model):
    X, y, mean = _poisson(seed=7)
    predicted = poisson_model.predict(X)
    assert np.all(predicted > 0)
    # As good as the true means, to within a few per cent of their deviance.
    assert mean_poisson_deviance(y, predicted) < 1.05 * mean_poisson_deviance(y, mean)
    assert d2_tweedie_score(y, predicted, power=1) > 0.9 * d2_tweedie_score(y, mean, power=1)


def test_gamma_recovers_the_generating_model_on_unseen_data():
    X, y, _ = _gamma()
    model = AutoHeadRegressor(loss="gamma", **NET).fit(X, y)
    X_new, y_new, mean = _gamma(seed=7)
    predicted = model.predict(X_new)
    assert np.all(predicted > 0)
    assert mean_gamma_deviance(y_new, predicted) < 1.05 * mean_gamma_deviance(y_new, mean)


def test_tweedie_fits_exact_zeros_and_amounts():
    X = _features()
    rng = np.random.RandomState(3)
    mean = np.exp(0.3 + 0.6 * X[:, 0])
    # compound Poisson-gamma: N ~ Poisson, each amount gamma; many exact zeros
    claims = rng.poisson(mean * 0.5)
    y = np.array([rng.gamma(2.0, 1.0, k).sum() for k in claims])
    assert np.mean(y == 0) > 0.2
    model = AutoHeadRegressor(loss="tweedie", power=1.5, **NET).fit(X, y)
    assert model.head_.outputs[0].loss_params == (1.5,)
    predicted = model.predict(X)
    assert np.all(predicted > 0)
    assert np.corrcoef(np.log(predicted), np.log(mean))[0, 1] > 0.9


def test_a_quantile_list_makes_an_interval_that_never_crosses():
    X, y, spread = _heteroscedastic()
    model = AutoHeadRegressor(loss="quantile", quantile=[0.9, 0.1, 0.5], **NET).fit(X, y)
    out = model.head_.outputs[0]
    assert (out.units, out.activation, out.loss_params) == (3, "increasing", (0.1, 0.5, 0.9))
    X_new, y_new, spread_new = _heteroscedastic(seed=7)
    for rows in (X, X_new, 100 * _features(50, seed=9)):  # far outside the data too
        predicted = model.predict(rows)
        assert predicted.shape == (len(rows), 3)
        assert np.all(np.diff(predicted, axis=1) >= 0)
    low, median, high = model.predict(X_new).T
    inside = np.mean((y_new >= low) & (y_new <= high))
    assert 0.72 <= inside <= 0.88  # an 80 % interval
    # It widens where the noise does.
    wide = spread_new > np.median(spread_new)
    assert np.mean((high - low)[wide]) > 1.5 * np.mean((high - low)[~wide])
    # score() is the R^2 of the median column
    assert model.score(X_new, y_new) == pytest.approx(
        1 - np.sum((y_new - median) ** 2) / np.sum((y_new - y_new.mean()) ** 2)
    )


def test_one_quantile_level_and_the_median_head():
    X, y, _ = _heteroscedastic()
    upper = AutoHeadRegressor(loss="quantile", quantile=0.9, **NET).fit(X, y)
    median = AutoHeadRegressor(loss="absolute_error", **NET).fit(X, y)
    assert upper.predict(X).shape == (N,) and median.predict(X).shape == (N,)
    assert np.mean(y <= upper.predict(X)) == pytest.approx(0.9, abs=0.05)
    assert np.mean(y <= median.predict(X)) == pytest.approx(0.5, abs=0.05)
    # their pinball losses beat the other's at its level
    assert mean_pinball_loss(y, upper.predict(X), alpha=0.9) < mean_pinball_loss(
        y, median.predict(X), alpha=0.9
    )


def test_a_quantile_head_is_scaled_by_the_median_not_the_mean():
    X, y, _ = _heteroscedastic()
    y = np.where(np.arange(N) % 50 == 0, 1e4, y)  # outliers move the mean and std
    model = AutoHeadRegressor(loss="quantile", quantile=0.5, **NET).fit(X, y)
    encoder = model._state().encoder
    assert encoder.mean_[0] == pytest.approx(np.quantile(y, 0.5, method="inverted_cdf"))
    assert encoder.scale_[0] < np.std(y) / 10


@pytest.mark.parametrize(
    "loss, y, message",
    [
        ("poisson", np.r_[-1.0, np.ones(N - 1)], "negative which is not allowed for Poisson"),
        ("poisson", np.zeros(N), "0 everywhere"),
        ("gamma", np.r_[0.0, np.ones(N - 1)], "not positive which is not allowed for gamma"),
        ("tweedie", np.r_[-2.0, np.ones(N - 1)], "negative which is not allowed for Tweedie"),
    ],
)
def test_a_target_a_loss_cannot_take_is_refused_and_the_model_is_kept(loss, y, message):
    X, counts, _ = _poisson()
    model = AutoHeadRegressor(loss="poisson", **{**NET, "max_iter": 5}).fit(X, counts)
    before = model.predict(X)
    with pytest.raises(ValueError, match=message):
        model.set_params(loss=loss).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), before)
    assert model.loss_curve_ and model.head_.outputs[0].loss == "poisson"


def test_a_later_partial_fit_batch_is_checked_too():
    X, y, _ = _poisson()
    model = AutoHeadRegressor(loss="poisson", **NET).partial_fit(X, y)
    with pytest.raises(ValueError, match="negative"):
        model.partial_fit(X[:5], -np.ones(5))


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"loss": "quantile"}, ValueError, "needs quantile="),
        ({"loss": "quantile", "quantile": 1.0}, InvalidParameterError, "quantile"),
        ({"loss": "quantile", "quantile": [0.1, 0.1]}, ValueError, "twice"),
        ({"loss": "quantile", "quantile": [0.1, 1.5]}, ValueError, "strictly between 0 and 1"),
        ({"loss": "tweedie", "power": 3.0}, InvalidParameterError, "power"),
    ],
)
def test_loss_parameters_are_checked(params, error, match):
    X, y, _ = _poisson()
    with pytest.raises(error, match=match):
        AutoHeadRegressor(**params).fit(X, y)


def test_a_quantile_list_on_a_2d_target_says_what_to_do():
    X, y, _ = _heteroscedastic()
    with pytest.raises(ValueError, match="needs a 1-D target.*one estimator per column"):
        AutoHeadRegressor(loss="quantile", quantile=[0.1, 0.9]).fit(X, np.c_[y, y])


def test_multi_output_counts_get_one_log_link_unit_per_column():
    X, y, _ = _poisson()
    Y = np.c_[y, np.random.RandomState(5).poisson(2.0, N)]
    model = AutoHeadRegressor(loss="poisson", **{**NET, "max_iter": 20}).fit(X, Y)
    assert model.head_.outputs[0].units == 2
    assert model.predict(X).shape == (N, 2) and np.all(model.predict(X) > 0)


def test_early_stopping_judges_counts_by_their_deviance():
    X, y, _ = _poisson()
    model = AutoHeadRegressor(
        loss="poisson", early_stopping=True, validation_fraction=0.25, **NET
    ).fit(X, y)
    # The validation score is the D^2 of the Poisson deviance, not R^2: its
    # best is what scikit-learn's d2_tweedie_score gives the best weights.
    assert model.best_validation_score_ == pytest.approx(max(model.validation_scores_))
    assert 0 < model.best_validation_score_ < 1


def test_new_heads_go_through_grid_search_cross_validation_pickle_and_clone():
    X, y, _ = _poisson()
    small = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    search = GridSearchCV(
        AutoHeadRegressor(loss="quantile", quantile=[0.2, 0.8], **small),
        {"alpha": [1e-4, 1e-2]}, cv=2,
    ).fit(X, y)  # fmt: skip
    assert search.best_estimator_.predict(X).shape == (N, 2)
    predicted = cross_val_predict(AutoHeadRegressor(loss="poisson", **small), X, y, cv=3)
    assert predicted.shape == (N,) and np.all(predicted > 0)
    model = AutoHeadRegressor(loss="tweedie", power=1.2, **small).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert again.head_ == model.head_
    assert clone(model).get_params() == model.get_params()


def test_new_heads_round_trip_through_skops(tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y, _ = _heteroscedastic()
    model = AutoHeadRegressor(loss="quantile", quantile=[0.25, 0.75], hidden_layer_sizes=(4,),
                              max_iter=5, random_state=0).fit(X, y)  # fmt: skip
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_every_regression_head_starts_at_the_best_constant():
    """head_init="constant": before any step the network predicts the loss's
    best constant (mean, median, quantiles, the mean through the log link)."""
    X, y, _ = _poisson()
    expected = {
        ("squared_error", None): [np.mean(y)],
        ("absolute_error", None): [np.quantile(y, 0.5, method="inverted_cdf")],
        ("quantile", (0.1, 0.9)): np.quantile(y, [0.1, 0.9], method="inverted_cdf"),
        ("poisson", None): [np.mean(y)],
    }
    for (loss, levels), values in expected.items():
        model = AutoHeadRegressor(loss=loss, quantile=None if levels is None else list(levels),
                                  head_init="constant", max_iter=1, learning_rate_init=1e-12,
                                  random_state=0)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            predicted = model.fit(X, y).predict(X[:3])
        np.testing.assert_allclose(
            np.reshape(predicted, (3, -1)), [values] * 3, rtol=1e-4, atol=1e-6
        )
