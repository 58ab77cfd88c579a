"""Networks with several named inputs: ``skout.Inputs`` and ``inputs=`` column
groups, through scikit-learn's splitters, searches and parallel backends, and
trained as Keras trains the same network (issue 21)."""

from __future__ import annotations

import pickle
import warnings

import joblib
import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_selector
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_predict,
    cross_validate,
)
from sklearn.utils import _safe_indexing

from skout import AutoHeadClassifier, AutoHeadRegressor, Inputs, KerasBody

N = 96


def _data(n=N, seed=0):
    """8x8 one-channel images and 3 tabular columns; the label needs both."""
    rng = np.random.RandomState(seed)
    image = rng.randn(n, 8, 8, 1).astype(np.float32)
    meta = rng.randn(n, 3)
    y = np.where(image[:, :4, :4, 0].mean(axis=(1, 2)) * 4 + meta[:, 0] > 0, "cat", "dog")
    return image, meta, y


IMAGE, META, Y = _data()
X = Inputs(image=IMAGE, meta=META)
PIXELS = [f"p{i}" for i in range(64)]
FRAME = pd.DataFrame(
    np.hstack([IMAGE.reshape(N, -1), META]), columns=[*PIXELS, "age", "height", "weight"]
)
MAPPING = {"image": PIXELS, "meta": make_column_selector(pattern="^(?:age|height|weight)$")}


def two_inputs(input_shapes, filters=2):
    """A small CNN on the image beside a Dense branch on the table."""
    image = keras.Input((8, 8, 1), name="image")
    meta = keras.Input((3,), name="meta")
    h = keras.layers.Conv2D(filters, 3, activation="relu")(image)
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D()(h))
    m = keras.layers.Dense(4, activation="tanh")(meta)
    return keras.Model([image, meta], keras.layers.Concatenate()([h, m]))


PARAMS = dict(body=KerasBody(two_inputs), max_iter=8, learning_rate_init=0.01, random_state=0)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def fitted():
    return _quiet(AutoHeadClassifier(**PARAMS).fit, X, Y)


# -- the container -------------------------------------------------------------------
def test_inputs_has_a_shape_a_length_and_rows():
    assert len(X) == N and X.shape == (N, 64 + 3) and X.names == ("image", "meta")
    for key in (np.array([3, 0, 7]), [3, 0, 7], slice(3, 9, 2), np.arange(N) % 5 == 0):
        part = X[key]
        assert isinstance(part, Inputs)
        np.testing.assert_array_equal(part["image"], IMAGE[key])
        np.testing.assert_array_equal(part["meta"], META[key])
    # scikit-learn's own indexing, as every splitter and search uses it
    rows = np.array([5, 1])
    np.testing.assert_array_equal(_safe_indexing(X, rows)["meta"], META[rows])
    # a DataFrame array is indexed by position, as _safe_indexing does
    framed = Inputs(image=IMAGE, meta=FRAME[["age", "height", "weight"]])
    np.testing.assert_array_equal(framed[rows]["meta"].to_numpy(), META[rows])
    again = pickle.loads(pickle.dumps(X))
    np.testing.assert_array_equal(again["image"], IMAGE)
    assert repr(X[:2]) == "Inputs(image=(2, 8, 8, 1) float32, meta=(2, 3) float64)"


def test_every_splitter_splits_inputs_as_an_array():
    for splitter in (KFold(3, shuffle=True, random_state=0), StratifiedKFold(3)):
        for (train, test), (train_a, test_a) in zip(
            splitter.split(X, Y), splitter.split(META, Y), strict=True
        ):
            np.testing.assert_array_equal(train, train_a)
            np.testing.assert_array_equal(test, test_a)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: X[3], TypeError, r"not by a single integer.*X\[\[3\]\] or X\[3:4\]"),
        (lambda: X[np.int64(3)], TypeError, "single integer"),
        (lambda: Inputs(image=IMAGE, meta=META[:-1]), ValueError, "image: 96, meta: 95"),
        (lambda: Inputs(), ValueError, "at least one array"),
        (lambda: Inputs([IMAGE]), TypeError, "takes a dict"),
        (lambda: np.asarray(X), TypeError, "holds several arrays"),
        (lambda: list(X), TypeError, "not iterable"),
        (lambda: X["label"], KeyError, r"No array named 'label'.*\['image', 'meta'\]"),
    ],
    ids=["integer", "numpy-integer", "lengths", "empty", "list", "asarray", "iterate", "name"],
)
def test_what_inputs_refuses(make, error, match):
    with pytest.raises(error, match=match):
        make()


# -- trained as Keras trains the same network -------------------------------------------------
def _hand_written():
    """The same architecture written out in Keras, with its sigmoid head."""
    image = keras.Input((8, 8, 1))
    meta = keras.Input((3,))
    h = keras.layers.Conv2D(2, 3, activation="relu")(image)
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D()(h))
    m = keras.layers.Dense(4, activation="tanh")(meta)
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Concatenate()([h, m]))
    return keras.Model([image, meta], out)


# head_init="glorot": both networks start from the same drawn weights.
FULL_BATCH_SGD = dict(solver="sgd", momentum=0.0, alpha=0.0, batch_size=N, shuffle=False,
                      max_iter=3, tol=0.0, n_iter_no_change=100, learning_rate_init=0.1,
                      random_state=0, head_init="glorot")  # fmt: skip


@pytest.mark.parametrize("given", ["Inputs", "inputs="])
def test_several_inputs_train_as_the_same_keras_model(given):
    """Full-batch SGD from the same weights: skout's network and a hand-written
    Keras model of the same architecture land on the same predictions."""
    if given == "Inputs":
        est = AutoHeadClassifier(body=KerasBody(two_inputs), **FULL_BATCH_SGD)
        est = _quiet(est.fit, X, Y)
        proba = est.predict_proba(X)[:, 1]
    else:
        est = AutoHeadClassifier(body=two_inputs({}), inputs=MAPPING, **FULL_BATCH_SGD)
        est = _quiet(est.fit, FRAME, Y)
        proba = est.predict_proba(FRAME)[:, 1]
    by_shape = {w.shape: w for w in est._spec.initial_weights(np.random.RandomState(0))}
    assert len(by_shape) == 6  # each weight has its own shape: assigned by shape below
    model = _hand_written()
    for variable in model.weights:
        variable.assign(by_shape[tuple(variable.shape)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    target = (Y == "dog").astype(np.float32)
    model.fit([IMAGE, META.astype(np.float32)], target, epochs=3, batch_size=N, shuffle=False,
              verbose=0)  # fmt: skip
    keras_proba = model.predict([IMAGE, META.astype(np.float32)], verbose=0)[:, 0]
    np.testing.assert_allclose(proba, keras_proba, atol=1e-3)
    assert np.abs(keras_proba - model_start(by_shape)).max() > 1e-2  # it did train


def model_start(by_shape):
    model = _hand_written()
    for variable in model.weights:
        variable.assign(by_shape[tuple(variable.shape)])
    return model.predict([IMAGE, META.astype(np.float32)], verbose=0)[:, 0]


def test_both_ways_of_giving_the_inputs_fit_the_same_network(fitted):
    mapped = _quiet(AutoHeadClassifier(**PARAMS, inputs=MAPPING).fit, FRAME, Y)
    np.testing.assert_allclose(mapped.predict_proba(FRAME), fitted.predict_proba(X), atol=1e-6)
    assert mapped.input_shapes_ == fitted.input_shapes_ == {"image": (8, 8, 1), "meta": (3,)}
    # scikit-learn's rules: the frame's columns, or every number of one sample
    assert mapped.n_features_in_ == 67 and list(mapped.feature_names_in_[-3:]) == [
        "age", "height", "weight",
    ]  # fmt: skip
    assert fitted.n_features_in_ == 67 and not hasattr(fitted, "feature_names_in_")
    assert fitted.head_.target_type == "binary" and fitted.head_.units == 1  # from y, as always


def test_the_arrays_are_matched_by_name_not_by_order(fitted):
    swapped = Inputs(meta=META, image=IMAGE)
    np.testing.assert_array_equal(fitted.predict_proba(swapped), fitted.predict_proba(X))


def test_a_regressor_and_validation_data_take_inputs():
    y = META[:, 0] + IMAGE[:, 0, 0, 0]
    reg = AutoHeadRegressor(**{**PARAMS, "early_stopping": True})
    reg = _quiet(reg.fit, X, y)
    assert reg.predict(X).shape == (N,) and len(reg.validation_scores_) == reg.n_iter_
    explicit = _quiet(AutoHeadRegressor(**PARAMS).fit, X[:70], y[:70], X_val=X[70:], y_val=y[70:])
    assert len(explicit.validation_scores_) == explicit.n_iter_


# -- scikit-learn's tools -----------------------------------------------------------------
def test_cross_validate_from_inputs_and_from_column_groups():
    est = AutoHeadClassifier(**PARAMS)
    from_inputs = _quiet(cross_validate, est, X, Y, cv=3)
    from_frame = _quiet(cross_validate, est.set_params(inputs=MAPPING), FRAME, Y, cv=3)
    np.testing.assert_allclose(from_inputs["test_score"], from_frame["test_score"])
    proba = _quiet(cross_val_predict, AutoHeadClassifier(**PARAMS), X, Y, cv=3,
                   method="predict_proba")  # fmt: skip
    assert proba.shape == (N, 2)


GRID = {"body__filters": [1, 2], "alpha": [1e-4, 1e-1]}


@pytest.fixture(scope="module")
def serial_search():
    return _quiet(GridSearchCV(AutoHeadClassifier(**PARAMS), GRID, cv=2).fit, X, Y)


def test_grid_search_tunes_the_body_over_inputs(serial_search):
    assert len(serial_search.cv_results_["params"]) == 4
    assert serial_search.best_estimator_.predict(X).shape == (N,)


def test_grid_search_on_the_threading_backend_equals_one_thread(serial_search):
    with joblib.parallel_config(backend="threading", n_jobs=2):
        threaded = _quiet(GridSearchCV(AutoHeadClassifier(**PARAMS), GRID, cv=2).fit, X, Y)
    np.testing.assert_allclose(
        threaded.cv_results_["mean_test_score"], serial_search.cv_results_["mean_test_score"]
    )


def test_grid_search_on_a_dask_cluster_equals_one_process(serial_search):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        on_dask = _quiet(GridSearchCV(AutoHeadClassifier(**PARAMS), GRID, cv=2).fit, X, Y)
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"], serial_search.cv_results_["mean_test_score"]
    )


def test_pickle_keeps_the_inputs(fitted):
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    assert again.input_shapes_ == fitted.input_shapes_


# -- what is refused, and how ------------------------------------------------------------
def _frame_mapping(**change):
    return {**{"image": PIXELS, "meta": ["age", "height", "weight"]}, **change}


@pytest.mark.parametrize(
    "params, X_given, match",
    [
        ({}, Inputs(image=IMAGE, metadata=META),
         r"no input named 'metadata'; its inputs are \['image', 'meta'\]"),
        ({}, Inputs(image=IMAGE), r"input 'meta' gets no data.*skout.Inputs\(meta=...\)"),
        ({"inputs": _frame_mapping(meta=["age", "age", "weight"])}, FRAME,
         r"column 'age' is listed twice in 'meta'"),
        ({"inputs": _frame_mapping(meta=["p0", "height", "weight"])}, FRAME,
         r"column 'p0' is listed in 'image' and in 'meta'"),
        ({"inputs": _frame_mapping(meta=["age", "size"])}, FRAME,
         r"names the column 'size', which X does not have"),
        ({"inputs": _frame_mapping(extra=["age"])}, FRAME, r"listed in 'meta' and in 'extra'"),
        ({"inputs": {"image": PIXELS}}, FRAME, r"input 'meta' gets no data"),
        ({"inputs": _frame_mapping()}, X, "inputs= maps the columns of a DataFrame.*None"),
        ({}, FRAME, r"The body has 2 inputs, \['image', 'meta'\], but X is one array"),
        ({"body": None}, X, r"need a body with those named keras.Input layers"),
        ({}, Inputs(image=IMAGE[:, :4], meta=META), r"'image' expects samples of shape"),
    ],
    ids=["unknown-name", "input-without-data", "column-twice-in-one", "column-in-two",
         "unknown-column", "unknown-input-of-mapping", "mapping-misses-an-input",
         "mapping-and-Inputs", "one-table-for-two-inputs", "dense-network", "wrong-shape"],
)  # fmt: skip
def test_what_a_fit_refuses(params, X_given, match):
    est = AutoHeadClassifier(**{**PARAMS, **params})
    with pytest.raises(ValueError, match=match):
        est.fit(X_given, Y)
    assert not hasattr(est, "n_features_in_")  # a fit that raises leaves nothing


def test_what_predict_refuses(fitted):
    with pytest.raises(ValueError, match=r"lacks \['meta'\].*Give the same arrays"):
        fitted.predict(Inputs(image=IMAGE))
    with pytest.raises(ValueError, match=r"fitted on skout.Inputs\(image=..., meta=...\)"):
        fitted.predict(FRAME)
    with pytest.raises(ValueError, match=r"X\['meta'\] has samples of shape \(2,\)"):
        fitted.predict(Inputs(image=IMAGE, meta=META[:, :2]))
    with pytest.raises(ValueError, match=r"Input X\['meta'\] contains NaN"):
        fitted.predict(Inputs(image=IMAGE, meta=np.where(META > 1, np.nan, META)))


def test_the_summary_shows_each_input(fitted):
    assert "inputs image 8×8×1 + meta 3 → Functional(" in fitted._repr_mimebundle_()["text/plain"]


def test_partial_fit_and_warm_start_go_on_with_inputs():
    est = AutoHeadClassifier(**PARAMS)
    for start in range(0, N, 32):
        rows = slice(start, start + 32)
        est.partial_fit(X[rows], Y[rows], classes=["cat", "dog"])
    assert est.n_iter_ == 3 and est.predict(X).shape == (N,)
    warm = AutoHeadClassifier(**PARAMS, warm_start=True)
    _quiet(warm.fit, X, Y)
    first = warm.loss_curve_[:]
    _quiet(warm.fit, X, Y)
    assert warm.loss_curve_[: len(first)] == first and len(warm.loss_curve_) > len(first)
    with pytest.raises(ValueError, match=r"lacks \['meta'\]"):
        warm.fit(Inputs(image=IMAGE), Y)


# -- DataFrames and sparse matrices inside Inputs ------------------------------------------
META_FRAME = pd.DataFrame(META, columns=["age", "height", "weight"])


@pytest.fixture(scope="module")
def fitted_on_a_frame():
    return _quiet(AutoHeadClassifier(**PARAMS).fit, Inputs(image=IMAGE, meta=META_FRAME), Y)


def test_a_frame_inside_inputs_keeps_its_column_names(fitted_on_a_frame):
    est = fitted_on_a_frame
    with pytest.warns(UserWarning, match=r"X\['meta'\] has no column names"):
        as_array = est.predict_proba(Inputs(image=IMAGE, meta=META))  # read in fit's order
    np.testing.assert_array_equal(
        est.predict_proba(Inputs(image=IMAGE, meta=META_FRAME)), as_array
    )
    reordered = META_FRAME[["weight", "height", "age"]]
    with pytest.raises(ValueError, match=r"X\['meta'\] has the columns \['weight'.*\['age'"):
        est.predict(Inputs(image=IMAGE, meta=reordered))
    with pytest.raises(ValueError, match=r"X\['meta'\] has the columns"):
        est.predict(Inputs(image=IMAGE, meta=META_FRAME.rename(columns={"age": "years"})))
    again = pickle.loads(pickle.dumps(est))
    with pytest.raises(ValueError, match=r"X\['meta'\] has the columns"):
        again.predict(Inputs(image=IMAGE, meta=reordered))


def test_a_sparse_matrix_inside_inputs_reads_as_its_dense_values(fitted):
    import scipy.sparse as sp

    sparse = Inputs(image=IMAGE, meta=sp.csr_matrix(META))
    np.testing.assert_array_equal(fitted.predict_proba(sparse), fitted.predict_proba(X))
    est = _quiet(AutoHeadClassifier(**PARAMS).fit, sparse, Y)
    np.testing.assert_array_equal(est.predict_proba(X), fitted.predict_proba(X))
