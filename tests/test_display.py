"""TrainingCurvesDisplay: drawn from a fitted estimator, saved to a PNG file."""

import builtins
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skout import AutoHeadClassifier, AutoHeadRegressor
from skout.display import TrainingCurvesDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PARAMS = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 4)
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    return X[:60], X[60:], y[:60], y[60:]


def _fit(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def with_validation(data):
    X, X_val, y, y_val = data
    return _fit(AutoHeadClassifier(**PARAMS), X, y, X_val=X_val, y_val=y_val)


@pytest.fixture(scope="module")
def without_validation(data):
    X, _, y, _ = data
    return _fit(AutoHeadClassifier(**PARAMS), X, y)


def _save(display, tmp_path):
    path = tmp_path / "curves.png"
    display.figure_.savefig(path)
    assert path.exists() and path.stat().st_size > 0
    return path


def test_with_validation_curves_renders_every_curve(with_validation, tmp_path):
    clf = with_validation
    display = TrainingCurvesDisplay.from_estimator(clf)
    _save(display, tmp_path)

    assert set(display.lines_) == {"loss", "validation_loss", "validation_score"}
    epochs = np.arange(1, clf.n_iter_ + 1)
    for key, curve in [
        ("loss", clf.loss_curve_),
        ("validation_loss", clf.validation_loss_curve_),
        ("validation_score", clf.validation_scores_),
    ]:
        np.testing.assert_array_equal(display.lines_[key].get_xdata(), epochs)
        np.testing.assert_allclose(display.lines_[key].get_ydata(), curve)

    assert display.ax_.get_xlabel() == "epoch"
    assert display.ax_.get_ylabel() == "loss"
    assert display.score_ax_ is not None
    assert display.score_ax_.get_ylabel() == "validation accuracy"
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["training loss", "validation loss", "validation accuracy"]
    assert display.figure_ is display.ax_.figure


def test_without_validation_curves_draws_the_loss_only(without_validation, tmp_path):
    clf = without_validation
    assert clf.validation_scores_ is None and clf.validation_loss_curve_ is None
    display = TrainingCurvesDisplay.from_estimator(clf)
    _save(display, tmp_path)
    assert list(display.lines_) == ["loss"]
    np.testing.assert_allclose(display.lines_["loss"].get_ydata(), clf.loss_curve_)
    assert display.score_ax_ is None
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["training loss"]


def test_show_scores_false_keeps_one_axis(with_validation):
    display = TrainingCurvesDisplay.from_estimator(with_validation, show_scores=False)
    assert set(display.lines_) == {"loss", "validation_loss"}
    assert display.score_ax_ is None


def test_draws_on_a_given_axes_with_a_name_and_styles(with_validation, without_validation):
    fig, ax = plt.subplots()
    first = TrainingCurvesDisplay.from_estimator(
        without_validation, ax=ax, name="no val", loss_kwargs={"color": "black"}
    )
    second = TrainingCurvesDisplay.from_estimator(
        with_validation, ax=ax, name="with val", show_scores=False
    )
    assert first.ax_ is ax and second.ax_ is ax and first.figure_ is fig
    assert first.lines_["loss"].get_label() == "no val: training loss"
    assert first.lines_["loss"].get_color() == "black"
    assert second.lines_["validation_loss"].get_label() == "with val: validation loss"


def test_regressor_scores_are_labelled_r2(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = X @ np.array([1.0, -2.0, 0.5])
    reg = _fit(AutoHeadRegressor(**PARAMS, early_stopping=True), X, y)
    display = TrainingCurvesDisplay.from_estimator(reg)
    _save(display, tmp_path)
    assert display.score_ax_.get_ylabel() == "validation R²"
    np.testing.assert_allclose(display.lines_["validation_score"].get_ydata(),
                               reg.validation_scores_)  # fmt: skip


def test_a_pipeline_is_read_through_its_last_step(data):
    X, _, y, _ = data
    pipe = _fit(make_pipeline(StandardScaler(), AutoHeadClassifier(**PARAMS)), X, y)
    display = TrainingCurvesDisplay.from_estimator(pipe)
    np.testing.assert_allclose(display.lines_["loss"].get_ydata(), pipe[-1].loss_curve_)


def test_lbfgs_has_a_loss_curve_and_no_validation_curves(data):
    X, _, y, _ = data
    clf = _fit(AutoHeadClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=15,
                                  random_state=0), X, y)  # fmt: skip
    display = TrainingCurvesDisplay.from_estimator(clf)
    assert list(display.lines_) == ["loss"]
    np.testing.assert_allclose(display.lines_["loss"].get_ydata(), clf.loss_curve_)


def test_scikit_learns_mlp_works_too(data):
    X, _, y, _ = data
    mlp = _fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=15, early_stopping=True,
                             random_state=0), X, y)  # fmt: skip
    display = TrainingCurvesDisplay.from_estimator(mlp)
    assert set(display.lines_) == {"loss", "validation_score"}
    np.testing.assert_allclose(display.lines_["validation_score"].get_ydata(),
                               mlp.validation_scores_)  # fmt: skip


def test_not_fitted_raises_not_fitted_error():
    with pytest.raises(NotFittedError):
        TrainingCurvesDisplay.from_estimator(AutoHeadClassifier())


def test_a_fitted_estimator_without_curves_is_a_clear_value_error(data):
    X, _, y, _ = data
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="LogisticRegression has no loss_curve_"):
        TrainingCurvesDisplay.from_estimator(model)


def test_curves_held_already_plot_without_an_estimator():
    display = TrainingCurvesDisplay(
        loss_curve=[1.0, 0.5, 0.4], validation_loss_curve=[1.1, 0.7, 0.6]
    ).plot()
    np.testing.assert_array_equal(display.lines_["loss"].get_xdata(), [1, 2, 3])
    assert display.score_ax_ is None
    with pytest.raises(ValueError, match="empty"):
        TrainingCurvesDisplay(loss_curve=[]).plot()


def test_missing_matplotlib_is_a_clear_import_error(with_validation, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match="requires matplotlib"):
        TrainingCurvesDisplay.from_estimator(with_validation)
    with pytest.raises(ImportError, match="requires matplotlib"):
        TrainingCurvesDisplay(loss_curve=[1.0]).plot()
