"""Categorical columns: HistGradientBoosting's ``categorical_features``, learned
embeddings in the dense network, integer codes for a custom body, and every
scikit-learn tool on a frame that holds them (issue 21)."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score

from skout import AutoHeadClassifier, AutoHeadRegressor, KerasBody

N_CITIES = 200
PARAMS = dict(hidden_layer_sizes=(16,), max_iter=40, learning_rate_init=0.01, random_state=0)


def frame(n=400, seed=0):
    """A numeric column, a colour (4 levels, a few missing), a city (200
    levels, each with its own hidden effect) and another numeric column (after
    the categorical ones, so that their order matters): the label needs the
    categories."""
    rng = np.random.RandomState(seed)
    colours = np.array(["red", "green", "blue", "grey"])
    cities = np.array([f"city{i:03d}" for i in range(N_CITIES)])
    effect = np.random.RandomState(99).choice([-1.5, 1.5], N_CITIES)
    city = rng.randint(0, N_CITIES, n)
    colour = rng.randint(0, 4, n)
    x = rng.randn(n)
    score = effect[city] + np.array([1.0, -1.0, 0.5, -0.5])[colour] + 0.5 * x
    X = pd.DataFrame(
        {
            "x": x,
            "colour": pd.Categorical(colours[colour], categories=sorted(colours)),
            "city": pd.Categorical(cities[city], categories=cities),
            "z": 0.1 * rng.randn(n),
        }
    )
    X.loc[X.index[::37], "colour"] = np.nan  # missing values are a category of their own
    return X, np.where(score > 0, "yes", "no")


X, Y = frame()


def _quiet_fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kw)


@pytest.fixture(scope="module")
def fitted():
    return _quiet_fit(AutoHeadClassifier(**PARAMS), X, Y)


def _width(n_categories):
    """The documented rule for embedding_dim="auto"."""
    return min(50, math.ceil(1.6 * n_categories**0.56))


def _tables(est):
    state = est._state()
    return list(state.weights[state.spec.n_layer_weights :])


def _codes(X, name):
    """A category column's codes as skout documents them: its categories'
    positions, n for a value not among them, n + 1 for a missing value."""
    column = X[name]
    n = len(column.cat.categories)
    codes = column.cat.codes.to_numpy().astype(float)
    return np.where(column.isna(), n + 1, codes)


# -- the dense network embeds each categorical column -------------------------------------
def test_each_categorical_column_gets_its_own_embedding_table(fitted):
    width = _width(N_CITIES)
    assert (_width(4), width) == (4, 32)
    assert fitted._state().spec.embeddings == ((4 + 2, 4), (N_CITIES + 2, width))
    assert [t.shape for t in _tables(fitted)] == [(6, 4), (N_CITIES + 2, width)]
    np.testing.assert_array_equal(fitted.is_categorical_, [False, True, True, False])
    assert fitted.n_features_in_ == 4
    np.testing.assert_array_equal(fitted.feature_names_in_, ["x", "colour", "city", "z"])
    # coefs_ stay MLP's: the layers' kernels only (the first reads x, z and both embeddings)
    assert [c.shape for c in fitted.coefs_] == [(2 + 4 + width, 16), (16, 1)]


def test_the_embeddings_carry_the_categories_signal(fitted):
    assert fitted.score(X, Y) > 0.9
    numeric_only = _quiet_fit(AutoHeadClassifier(**PARAMS), X[["x"]], Y)
    assert numeric_only.score(X[["x"]], Y) < 0.75
    # another city for one row changes its probability: its row of the table is read
    other = X.copy()
    other.loc[0, "city"] = "city001" if other.loc[0, "city"] != "city001" else "city002"
    assert not np.allclose(fitted.predict_proba(other)[0], fitted.predict_proba(X)[0])


def test_unseen_and_missing_categories_predict_from_their_own_rows(fitted):
    new = X.head(3).copy()
    new["city"] = pd.Categorical(["nowhere", None, "city005"], categories=["nowhere", "city005"])
    new["colour"] = pd.Categorical(["purple", None, "red"])
    proba = fitted.predict_proba(new)
    assert proba.shape == (3, 2) and np.isfinite(proba).all()
    colour, city = _tables(fitted)
    # No training row read the city's "unseen" and "missing" rows, nor the colour's
    # "unseen" one: each is the count-weighted mean of the rows that were read.
    counts = np.bincount(_codes(X, "city").astype(int), minlength=N_CITIES + 2)
    mean = counts @ city.astype(float) / counts.sum()
    np.testing.assert_allclose(city[N_CITIES], mean, rtol=1e-5)
    np.testing.assert_allclose(city[N_CITIES + 1], mean, rtol=1e-5)
    colour_counts = np.bincount(_codes(X, "colour").astype(int), minlength=6)
    np.testing.assert_allclose(colour[4], colour_counts @ colour.astype(float) / 400, rtol=1e-5)
    # The colour's "missing" row was trained on the rows without a colour.
    assert colour_counts[5] > 0 and not np.allclose(colour[5], colour[4], atol=1e-3)
    # An unseen category predicts as its row says: the same as any other unseen one.
    again = new.copy()
    again["city"] = pd.Categorical(["elsewhere", None, "city005"])
    np.testing.assert_allclose(fitted.predict_proba(again), proba)


def test_categories_of_a_category_column_are_its_declared_ones():
    """Every fold of a frame has the same codes: a city absent from the training
    rows still has its own row (trained on nothing: the mean)."""
    train = X[X["city"] != "city007"]
    est = _quiet_fit(AutoHeadClassifier(**PARAMS), train, Y[train.index])
    city = _tables(est)[1]
    np.testing.assert_allclose(city[7], city[N_CITIES], rtol=1e-5)
    assert est._state().features.categorical[1].categories[7] == "city007"


def test_the_keras_model_reads_the_codes_as_the_numpy_path(fitted):
    # The numeric columns, then the codes (the network embeds its last columns).
    encoded = np.column_stack([X["x"], X["z"], _codes(X, "colour"), _codes(X, "city")])
    keras_proba = np.asarray(fitted.model_.predict(encoded, verbose=0))[:, 0]
    np.testing.assert_allclose(keras_proba, fitted.predict_proba(X)[:, 1], atol=1e-5)


# -- which columns are categorical: HGB's parameter ----------------------------------------
def _as_object(X):
    return X.assign(colour=X["colour"].astype(object), city=X["city"].astype(object))


@pytest.mark.parametrize(
    "features",
    [["colour", "city"], [1, 2], [False, True, True, False], np.array(["city", "colour"])],
    ids=["names", "indices", "mask", "names-reordered"],
)
def test_categorical_features_as_hgb_takes_it(fitted, features):
    """Object columns declared categorical are the same fit as category columns
    (their sorted values are the categories the category dtype declared)."""
    X_object = _as_object(X)
    est = _quiet_fit(AutoHeadClassifier(**PARAMS, categorical_features=features), X_object, Y)
    np.testing.assert_array_equal(est.is_categorical_, [False, True, True, False])
    sorted_cities = X_object.assign(city=pd.Categorical(X["city"].astype(str)))
    assert est._state().spec.embeddings[1][0] == len(sorted_cities["city"].cat.categories) + 2
    assert est.score(X_object, Y) > 0.9
    colour_only = AutoHeadClassifier(**PARAMS, categorical_features=["colour"])
    with pytest.raises(ValueError, match=r"text in column\(s\) \['city'\]"):
        colour_only.fit(X_object, Y)


def test_from_dtype_on_a_frame_with_category_columns_equals_names():
    X_sorted = X.assign(city=pd.Categorical(X["city"].astype(str)))
    by_dtype = _quiet_fit(AutoHeadClassifier(**PARAMS), X_sorted, Y)
    by_name = _quiet_fit(
        AutoHeadClassifier(**PARAMS, categorical_features=["colour", "city"]), _as_object(X), Y
    )
    np.testing.assert_allclose(by_name.predict_proba(_as_object(X)), by_dtype.predict_proba(X))


def test_an_integer_coded_array_column_can_be_declared_categorical():
    rng = np.random.RandomState(0)
    group = rng.randint(0, 30, 300)
    effect = np.random.RandomState(1).randn(30)
    X_array = np.column_stack([rng.randn(300), group])
    y = effect[group] + 0.3 * X_array[:, 0]
    est = AutoHeadRegressor(**PARAMS, categorical_features=[1])
    est = _quiet_fit(est, X_array, y)
    assert est._state().spec.embeddings[0][0] == 32
    assert est.score(X_array, y) > 0.8
    assert est.predict(np.array([[0.0, 1000.0], [0.0, np.nan]])).shape == (2,)  # unseen, missing
    plain = _quiet_fit(AutoHeadRegressor(**PARAMS), X_array, y)  # "from_dtype": an array has none
    assert plain.is_categorical_ is None and not plain._state().spec.embeddings


def test_embedding_dim_sets_the_widths():
    one = AutoHeadClassifier(**PARAMS, embedding_dim=2)
    assert _quiet_fit(one, X, Y)._state().spec.embeddings == ((6, 2), (N_CITIES + 2, 2))
    some = AutoHeadClassifier(**PARAMS, embedding_dim={"city": 7})
    assert _quiet_fit(some, X, Y)._state().spec.embeddings == ((6, 4), (N_CITIES + 2, 7))
    by_index = AutoHeadClassifier(**PARAMS, embedding_dim={1: 5})
    assert _quiet_fit(by_index, X, Y)._state().spec.embeddings[0] == (6, 5)
    with pytest.raises(ValueError, match=r"column 'x', which is not a categorical column"):
        AutoHeadClassifier(**PARAMS, embedding_dim={"x": 3}).fit(X, Y)
    with pytest.raises(ValueError, match="'embedding_dim' parameter"):
        AutoHeadClassifier(**PARAMS, embedding_dim=0).fit(X, Y)


# -- what is refused, and how ------------------------------------------------------------
def test_text_columns_not_declared_categorical_name_the_columns_and_the_ways_out():
    with pytest.raises(ValueError) as error:
        AutoHeadClassifier(**PARAMS, categorical_features=None).fit(_as_object(X), Y)
    message = str(error.value)
    assert "text in column(s) ['colour', 'city']" in message
    assert "X['colour'] = X['colour'].astype('category')" in message
    assert "categorical_features=['colour', 'city']" in message


def test_text_at_predict_for_a_model_fitted_on_numbers_says_to_refit():
    numeric = _quiet_fit(AutoHeadClassifier(**PARAMS), X[["x"]].assign(z=1.0), Y)
    with pytest.raises(ValueError, match=r"text in column\(s\) \['z'\].*declare them and refit"):
        numeric.predict(X[["x"]].assign(z="a"))


def test_columns_are_checked_as_scikit_learn_checks_them(fitted):
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        fitted.predict(X[["colour", "x", "city", "z"]])
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        fitted.predict(X.rename(columns={"x": "y"}))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.predict(X.assign(x=np.nan))


def test_a_refused_fit_leaves_the_model_as_it_was(fitted):
    est = clone(fitted).set_params(max_iter=3)
    _quiet_fit(est, X, Y)
    before = est.predict_proba(X)
    with pytest.raises(ValueError, match="text in column"):
        est.set_params(categorical_features=None).fit(_as_object(X), Y)
    np.testing.assert_array_equal(est.predict_proba(X), before)


# -- scikit-learn's tools on the frame ------------------------------------------------------
def test_cross_val_score_and_clone(fitted):
    scores = cross_val_score(AutoHeadClassifier(**PARAMS), X, Y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.7
    twin = _quiet_fit(clone(fitted), X, Y)
    np.testing.assert_array_equal(twin.predict_proba(X), fitted.predict_proba(X))


def test_grid_search_in_two_worker_processes():
    grid = {"embedding_dim": ["auto", 2]}
    est = AutoHeadClassifier(**{**PARAMS, "max_iter": 10})
    search = GridSearchCV(est, grid, cv=2, n_jobs=2).fit(X, Y)
    serial = GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X, Y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    new = X.head(2).assign(city=pd.Categorical(["nowhere", None]))
    assert search.predict(new).shape == (2,)


def test_a_regressor_and_validation_data_on_the_frame():
    y = np.where(Y == "yes", 1.0, -1.0) + 0.1 * X["x"].to_numpy()
    reg = AutoHeadRegressor(**PARAMS, early_stopping=True)
    reg = _quiet_fit(reg, X, y)
    assert reg.score(X, y) > 0.5 and reg.validation_scores_
    explicit = _quiet_fit(AutoHeadRegressor(**PARAMS), X[:300], y[:300], X_val=X[300:],
                          y_val=y[300:])  # fmt: skip
    assert len(explicit.validation_scores_) == explicit.n_iter_


def test_partial_fit_counts_the_rows_of_every_batch():
    est = AutoHeadClassifier(**PARAMS)
    for start in range(0, 400, 100):
        est.partial_fit(X[start : start + 100], Y[start : start + 100], classes=["no", "yes"])
    counts = est._state().features.categorical[1].counts
    np.testing.assert_array_equal(
        counts, np.bincount(_codes(X, "city").astype(int), minlength=N_CITIES + 2)
    )
    warm = AutoHeadClassifier(**PARAMS, warm_start=True)
    _quiet_fit(warm, X, Y)
    _quiet_fit(warm, X, Y)
    assert warm._state().features.categorical[0].counts.sum() == 800


def test_pickle_and_skops_in_a_fresh_process(fitted, tmp_path):
    import skops.io

    new = X.head(5).assign(city=pd.Categorical(["nowhere", None, "city001", "city002", "x"]))
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(fitted))
    skops.io.dump(fitted, tmp_path / "model.skops")
    new.to_pickle(tmp_path / "new.pkl")
    code = f"""
import json, pickle, pandas as pd
from skout import load_skops
new = pd.read_pickle({str(tmp_path / "new.pkl")!r})
a = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
b = load_skops({str(tmp_path / "model.skops")!r})
print(json.dumps([a.predict_proba(new).tolist(), b.predict_proba(new).tolist(),
                  "tensorflow" in __import__("sys").modules]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    from_pickle, from_skops, framework = json.loads(out.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(from_pickle, fitted.predict_proba(new), rtol=1e-6)
    np.testing.assert_allclose(from_skops, fitted.predict_proba(new), rtol=1e-6)
    assert not framework  # the lookup and the network run in NumPy


def test_a_damaged_table_description_fails_at_load(fitted):
    state = fitted.__getstate__()
    state["_fitted_state"]["features"]["categorical"][1]["categories"] = np.array(["a", "a"])
    est = object.__new__(AutoHeadClassifier)
    with pytest.raises(ValueError, match="categories are not unique"):
        est.__setstate__(state)
    state = fitted.__getstate__()
    state["_fitted_state"]["spec"]["embeddings"][1][0] = 7
    with pytest.raises(ValueError, match="weights have shapes|tables do not match"):
        object.__new__(AutoHeadClassifier).__setstate__(state)


# -- a custom body gets codes ----------------------------------------------------------------
def _city_embedding_body(input_shape, width=4):
    """The numeric columns, and the city's codes (column 2) through an Embedding."""
    import keras

    x = keras.Input(input_shape)
    city = keras.layers.Embedding(N_CITIES + 2, width)(x[:, 2])
    return keras.Model(x, keras.layers.Concatenate()([x[:, :2], city, x[:, 3:]]))


def test_a_custom_body_gets_the_codes_in_place():
    import keras

    def identity(input_shape):
        return keras.Sequential([keras.Input(input_shape)])

    est = _quiet_fit(AutoHeadRegressor(**{**PARAMS, "max_iter": 3}, body=KerasBody(identity)),
                     X, np.where(Y == "yes", 1.0, 0.0))  # fmt: skip
    new = X.head(4).assign(city=pd.Categorical(["nowhere", None, "city003", "city000"]))
    codes = np.column_stack(
        [new["x"], _codes(new, "colour"), [N_CITIES, N_CITIES + 1, 3, 0], new["z"]]
    )
    head = est.model_.predict(codes.astype(np.float32), verbose=0)[:, 0]
    np.testing.assert_allclose(est.predict(new), head * est._encoder.scale_ + est._encoder.mean_,
                               rtol=1e-5)  # fmt: skip
    embedded = AutoHeadClassifier(**PARAMS, body=KerasBody(_city_embedding_body))
    assert _quiet_fit(embedded, X, Y).score(X, Y) > 0.8


def test_polars_categorical_and_enum_columns_are_categorical(fitted):
    pl = pytest.importorskip("polars")
    cities = [f"city{i:03d}" for i in range(N_CITIES)]
    X_polars = pl.DataFrame(
        {
            "x": X["x"].to_numpy(),
            "colour": pl.Series(
                [None if v is np.nan else v for v in X["colour"].astype(object)],
                dtype=pl.Categorical,
            ),
            "city": pl.Series(X["city"].astype(str).tolist(), dtype=pl.Enum(cities)),
            "z": X["z"].to_numpy(),
        }
    )
    est = _quiet_fit(AutoHeadClassifier(**PARAMS), X_polars, Y)
    np.testing.assert_array_equal(est.is_categorical_, [False, True, True, False])
    np.testing.assert_allclose(est.predict_proba(X_polars), fitted.predict_proba(X), atol=1e-6)


def test_the_summary_shows_the_embedded_columns(fitted):
    text = fitted._repr_mimebundle_()["text/plain"]
    assert "2 numeric + 2 embedded (4, 32) → 16 relu → 1 sigmoid" in text


# -- continuing a fit, and values of another type (review of issue 21) ----------------------
@pytest.mark.parametrize(
    "change",
    [
        {"categorical_features": None},  # the embedded columns dropped
        {"categorical_features": ["colour"]},  # one of them dropped
    ],
)
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_continuing_with_other_categorical_columns_is_refused(change, how):
    est = AutoHeadClassifier(**{**PARAMS, "max_iter": 2}, warm_start=how == "warm_start")
    if how == "warm_start":
        _quiet_fit(est, X, Y)
    else:
        est.partial_fit(X, Y, classes=["no", "yes"])
    before = est.predict_proba(X)
    est.set_params(**change)
    with pytest.raises(ValueError, match="needs the same architecture.*categorical"):
        if how == "warm_start":
            est.fit(X.assign(city=X.city.cat.codes), Y)
        else:
            est.partial_fit(X.assign(city=X.city.cat.codes), Y)
    np.testing.assert_array_equal(est.predict_proba(X), before)  # the refused fit left it


def test_continuing_on_a_numeric_model_with_categorical_columns_is_refused():
    numbers = X.assign(colour=X.colour.cat.codes, city=X.city.cat.codes)
    est = _quiet_fit(AutoHeadClassifier(**{**PARAMS, "max_iter": 2}, warm_start=True), numbers, Y)
    with pytest.raises(ValueError, match="needs the same architecture.*categorical"):
        est.set_params(categorical_features=["city"]).fit(numbers, Y)


def test_continuing_with_the_same_columns_as_text_goes_on():
    """A later batch read without the category dtype (a CSV chunk) is the same data."""
    est = AutoHeadClassifier(**PARAMS)
    est.partial_fit(X[:200], Y[:200], classes=["no", "yes"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same labels: no "unseen" warning
        est.partial_fit(_as_object(X[200:]), Y[200:])
    assert est._state().features.categorical[1].counts.sum() == 400


@pytest.mark.parametrize(
    "other",
    [
        lambda X: X.assign(city=X.city.cat.codes),  # codes where labels were
        lambda X: X.assign(city=X.city.astype(str).str.slice(4).astype(int)),  # 7 for "007"
    ],
)
def test_a_categorical_column_of_another_value_type_warns(fitted, other):
    with pytest.warns(UserWarning, match=r"'city'.*none of its values is a category"):
        proba = fitted.predict_proba(other(X))
    unseen = fitted.predict_proba(X.assign(city=pd.Categorical(["nowhere"] * len(X))))
    np.testing.assert_array_equal(proba, unseen)  # what the warning says: all unseen


def test_new_labels_of_the_same_type_do_not_warn(fitted):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.predict(X.head(3).assign(city=pd.Categorical(["nowhere", "elsewhere", None])))


@pytest.mark.parametrize("shape", [(20,), (20, 2, 2)])
def test_an_array_of_the_wrong_rank_with_categorical_features_says_so(shape):
    values = np.random.RandomState(0).randint(0, 3, shape).astype(float)
    with pytest.raises(ValueError, match="2-D"):
        AutoHeadClassifier(categorical_features=[0]).fit(values, np.arange(20) % 2)


@pytest.mark.parametrize("categorical_features", [None, "from_dtype"])
def test_image_arrays_need_no_table_to_fit_and_continue(categorical_features):
    import keras

    def flat(input_shape):
        return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten()])

    images = np.random.RandomState(0).rand(20, 4, 4, 1)
    est = AutoHeadClassifier(body=KerasBody(flat), max_iter=2, warm_start=True,
                             categorical_features=categorical_features)  # fmt: skip
    _quiet_fit(est, images, np.arange(20) % 2)
    _quiet_fit(est, images, np.arange(20) % 2)
    est.partial_fit(images, np.arange(20) % 2)
    assert est.predict(images).shape == (20,)
