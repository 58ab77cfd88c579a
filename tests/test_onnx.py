"""skout.onnx: every head exports, inside pipelines, and predicts as skout does.

Each graph runs in onnxruntime and is compared with the estimator itself:
labels identical to ``predict``, probabilities and regression values within
1e-5 of ``predict_proba``/``predict`` for float32 inputs.
"""

import doctest
import importlib
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skout import AutoHeadClassifier, AutoHeadRegressor, KerasBody
from skout.heads import DECODINGS

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
import skout.onnx  # noqa: E402

SMALL = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
TOL = dict(rtol=1e-5, atol=1e-5)

#: One case per row of the head table (and per label type worth a look):
#: (name, target in conftest's ``targets``, estimator parameters).
ROWS = [
    ("binary-sigmoid", "binary-int", {}),
    ("binary-softmax", "binary-int", {"binary_head": "softmax"}),
    ("binary-str", "binary-str", {}),
    ("binary-bool", "binary-bool", {}),
    ("multiclass-str", "multiclass-str", {}),
    ("multiclass-int", "multiclass-int", {}),
    ("one-hot-int", "one-hot-int", {}),
    ("one-hot-bool", "one-hot-bool-dummies", {}),
    ("multilabel", "multilabel", {}),
    ("multiclass-multioutput", "multiclass-multioutput", {}),
    ("multioutput-str-softmax", "multiclass-multioutput-str", {"binary_head": "softmax"}),
    ("continuous", "continuous", {}),
    ("continuous-raw", "continuous", {"standardize_target": False}),
    ("continuous-multioutput", "continuous-multioutput", {}),
    ("counts-poisson", "continuous-counts", {"loss": "poisson"}),
    ("amounts-gamma", "continuous-amounts", {"loss": "gamma"}),
    ("amounts-tweedie", "continuous-counts", {"loss": "tweedie", "power": 1.3}),
    ("median", "continuous", {"loss": "absolute_error"}),
    ("quantile-list", "continuous", {"loss": "quantile", "quantile": [0.1, 0.5, 0.9]}),
]
IDS = [r[0] for r in ROWS]


def _estimator(target, params):
    cls = AutoHeadRegressor if target.startswith("continuous") else AutoHeadClassifier
    return cls(**SMALL, **params)


def _run(onx, feeds):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onx.SerializeToString(), options)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


def _assert_matches(model, X, out, tol=TOL):
    """The graph's outputs are ``model``'s predictions on ``X``."""
    pred = np.asarray(model.predict(X))
    if "variable" in out:
        np.testing.assert_allclose(out["variable"], pred.reshape(len(pred), -1), **tol)
        return
    label = out.get("label", out.get("output_label"))
    assert label.shape == pred.shape
    assert np.array_equal(label, pred), (label[:5], pred[:5])
    if pred.ndim == 2 and pred.dtype.kind not in "OUS":
        assert label.dtype == pred.dtype  # one-hot and 0/1 rows in the dtype of y
    proba = model.predict_proba(X)
    if "probabilities" in out:
        got = out["probabilities"]
    else:  # zipmap: one {label: probability} dict per row
        got = np.array([list(row.values()) for row in out["output_probability"]])
    if isinstance(proba, list):
        assert len(got) == len(proba)
        for g, p in zip(got, proba):
            np.testing.assert_allclose(g, p, **tol)
    else:
        np.testing.assert_allclose(got, proba, **tol)


def _classifier(model):
    return is_classifier(model)


# -- every head, in a scaler pipeline and in a ColumnTransformer -------------------
@pytest.fixture(scope="module", params=ROWS, ids=IDS)
def pipeline(request, X, targets):
    _, target, params = request.param
    y = targets[target]
    return make_pipeline(StandardScaler(), _estimator(target, params)).fit(X, y)


def test_float32_pipeline_matches_predict(pipeline, X):
    X32 = X.astype(np.float32)
    options = {"zipmap": False} if _classifier(pipeline) else None
    onx = skout.onnx.to_onnx(pipeline, X32[:1], options=options)
    _assert_matches(pipeline, X32, _run(onx, {"X": X32}))


def test_float64_pipeline_computes_in_double(pipeline, X):
    options = {"zipmap": False} if _classifier(pipeline) else None
    onx = skout.onnx.to_onnx(pipeline, X[:1], options=options)
    out = _run(onx, {"X": X})
    values = out.get("variable", out.get("probabilities"))
    values = values[0] if isinstance(values, list) else values
    assert values.dtype == np.float64
    _assert_matches(pipeline, X, out, tol=dict(rtol=1e-10, atol=1e-12))


def test_default_zipmap_gives_one_dict_per_row(pipeline, X):
    if not _classifier(pipeline):
        pytest.skip("regressors have no zipmap")
    X32 = X.astype(np.float32)
    out = _run(skout.onnx.to_onnx(pipeline, X32[:1]), {"X": X32})
    if pipeline[-1].target_type_ == "multiclass-multioutput":
        # As skl2onnx's MultiOutputClassifier: a sequence of tables, no ZipMap.
        assert set(out) == {"label", "probabilities"}
    else:
        assert set(out) == {"output_label", "output_probability"}
        keys = list(out["output_probability"][0])
        assert np.array_equal(keys, pipeline.classes_)  # labels (bools as 0/1), or columns
    _assert_matches(pipeline, X32, out)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_column_transformer_on_a_frame_matches_predict(row, X, targets):
    _, target, params = row
    frame = pd.DataFrame(X.astype(np.float32), columns=["a", "b", "c", "d"])
    frame["colour"] = np.where(X[:, 3] > 0, "red", "blue")
    columns = ColumnTransformer(
        [("num", StandardScaler(), ["a", "b", "c", "d"]), ("cat", OneHotEncoder(), ["colour"])]
    )
    model = make_pipeline(columns, _estimator(target, params)).fit(frame, targets[target])
    # skl2onnx's own entry point: importing skout.onnx registered the converters.
    onx = skl2onnx.to_onnx(model, frame[:1], options={AutoHeadClassifier: {"zipmap": False}})
    feeds = {c: frame[[c]].to_numpy() for c in frame.columns}
    _assert_matches(model, frame, _run(onx, feeds))


# -- meta-estimators and options ----------------------------------------------------
@pytest.mark.parametrize("target", ["binary-str", "multiclass-int"])
def test_calibrated_classifier_cv_matches(target, X, targets):
    # Sigmoid calibration only: skl2onnx's isotonic calibration differs from
    # scikit-learn's by up to ~0.1 for MLPClassifier and LogisticRegression too.
    model = CalibratedClassifierCV(AutoHeadClassifier(**SMALL), cv=2, method="sigmoid")
    model.fit(X, targets[target])
    X32 = X.astype(np.float32)
    out = _run(skout.onnx.to_onnx(model, X32[:1], options={"zipmap": False}), {"X": X32})
    _assert_matches(model, X32, out)


def test_voting_ensembles_with_skout_inside_match(X, targets):
    X32 = X.astype(np.float32)
    wider = AutoHeadClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=1)
    voters = [("skout", AutoHeadClassifier(**SMALL)), ("wider", wider)]
    # skl2onnx converts soft voting without flatten_transform only.
    vote = VotingClassifier(voters, voting="soft", flatten_transform=False)
    vote.fit(X, targets["multiclass-str"])
    out = _run(skout.onnx.to_onnx(vote, X32[:1], options={id(vote): {"zipmap": False}}),
               {"X": X32})  # fmt: skip
    _assert_matches(vote, X32, out)
    average = VotingRegressor([("skout", AutoHeadRegressor(**SMALL)), ("ridge", Ridge())])
    average.fit(X, targets["continuous"])
    _assert_matches(average, X32, _run(skout.onnx.to_onnx(average, X32[:1]), {"X": X32}))


def test_zipmap_columns_gives_one_output_per_class(X, targets):
    model = AutoHeadClassifier(**SMALL).fit(X, targets["multiclass-str"])
    X32 = X.astype(np.float32)
    out = _run(skout.onnx.to_onnx(model, X32[:1], options={"zipmap": "columns"}), {"X": X32})
    assert list(out) == ["output_label", "sa", "sb", "sc"]
    proba = model.predict_proba(X32)
    for k, name in enumerate(["sa", "sb", "sc"]):
        np.testing.assert_allclose(out[name], proba[:, k], **TOL)


@pytest.mark.parametrize("target", ["multiclass-str", "multiclass-multioutput-str"])
def test_nocl_gives_class_indices(target, X, targets):
    model = AutoHeadClassifier(**SMALL).fit(X, targets[target])
    X32 = X.astype(np.float32)
    onx = skout.onnx.to_onnx(model, X32[:1], options={"zipmap": False, "nocl": True})
    out = _run(onx, {"X": X32})
    pred = model.predict(X32)
    classes = model.classes_ if isinstance(model.classes_, list) else [model.classes_]
    indices = out["label"].reshape(len(pred), -1)
    decoded = np.column_stack([c[i] for c, i in zip(classes, indices.T)])
    assert out["label"].dtype == np.int64
    assert np.array_equal(decoded.reshape(pred.shape), pred)


@pytest.mark.parametrize("opset", [skout.onnx.MIN_OPSET, 13, 17])
@pytest.mark.parametrize(
    "target", ["multiclass-multioutput-str", "one-hot-bool-dummies", "continuous"]
)
def test_older_opsets(opset, target, X, targets):
    model = _estimator(target, {}).fit(X, targets[target])
    X32 = X.astype(np.float32)
    options = {"zipmap": False} if target != "continuous" else None
    onx = skout.onnx.to_onnx(model, X32[:1], options=options, target_opset=opset)
    assert max(o.version for o in onx.opset_import if o.domain == "") <= opset
    _assert_matches(model, X32, _run(onx, {"X": X32}))


def test_an_opset_below_the_minimum_is_refused(X, targets):
    model = AutoHeadClassifier(**SMALL).fit(X, targets["binary-int"])
    with pytest.raises(RuntimeError, match=f"opset {skout.onnx.MIN_OPSET} or higher"):
        skout.onnx.to_onnx(model, X[:1], target_opset=skout.onnx.MIN_OPSET - 1)


# -- decisions at exactly one half ----------------------------------------------------
@pytest.mark.parametrize("target", ["binary-str", "multilabel"])
def test_ties_decode_as_skout_predicts(target, X, targets):
    model = AutoHeadClassifier(**SMALL).fit(X, targets[target])
    layer = model.model_.get_layer("output_0")  # predict follows model_'s weights
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    X32 = X.astype(np.float32)
    out = _run(skout.onnx.to_onnx(model, X32[:1], options={"zipmap": False}), {"X": X32})
    np.testing.assert_array_equal(out["probabilities"][:, -1], 0.5)
    _assert_matches(model, X32, out)


# -- custom bodies ---------------------------------------------------------------------
def _keras_backend():
    import keras

    return keras.backend.backend()


def _cnn(input_shape):
    import keras

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu"),
        ]
    )


@pytest.fixture(scope="module")
def images():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X[:150] / 16.0).reshape(-1, 8, 8, 1).astype(np.float32), y[:150]


@pytest.mark.skipif(
    _keras_backend() != "tensorflow", reason="Keras's ONNX export is tested on TensorFlow"
)
@pytest.mark.parametrize("target_opset", [None, 15])
def test_cnn_body_exports_through_keras(images, target_opset):
    pytest.importorskip(
        "tf2onnx", reason="Keras's ONNX export on TensorFlow needs tf2onnx (pip install tf2onnx)"
    )
    X, y = images
    model = AutoHeadClassifier(body=KerasBody(_cnn), max_iter=2, random_state=0).fit(X, y)
    onx = skout.onnx.to_onnx(model, X[:1], options={"zipmap": False}, target_opset=target_opset)
    assert {"Conv", "MaxPool"} <= {n.op_type for n in onx.graph.node}
    # The export reads the layers from a model it does not leave behind:
    # a kept model_ would make every later predict read weights back from Keras.
    assert model._state().keras_model is None
    _assert_matches(model, X, _run(onx, {"X": X}), tol=dict(rtol=1e-4, atol=1e-4))


def test_body_without_the_exporter_package_names_it(images, monkeypatch):
    import keras

    X, y = images
    model = AutoHeadRegressor(body=KerasBody(_cnn), max_iter=1, random_state=0).fit(X, y * 1.0)

    def missing(self, *args, **kwargs):
        raise ImportError("No module named 'tf2onnx'")

    monkeypatch.setattr(keras.Model, "export", missing)
    package = {"tensorflow": "tf2onnx", "jax": "jax2onnx", "torch": "onnxscript"}
    with pytest.raises(ImportError, match=f"pip install {package[_keras_backend()]}"):
        skout.onnx.to_onnx(model, X[:1])


# -- categorical columns (issue 21) ----------------------------------------------------------
def _category_frame():
    rng = np.random.RandomState(0)
    cities = np.array([f"c{i}" for i in range(25)])
    city = rng.randint(0, 25, 200)
    X = pd.DataFrame({
        "x": rng.randn(200),
        "colour": pd.Categorical(rng.choice(["red", "blue", "green"], 200)),
        "city": pd.Categorical(cities[city], categories=cities),
    })  # fmt: skip
    X.loc[X.index[::9], "colour"] = np.nan  # "missing" is trained too
    y = np.where(np.random.RandomState(1).randn(25)[city] + X["x"] > 0, "yes", "no")
    return X, y


def _column_feeds(X):
    """One (n, 1) input per column, as skl2onnx declares them from a frame; a
    missing text value is the empty string (a string tensor holds no NaN)."""
    feeds = {}
    for name in X.columns:
        column = X[[name]]
        if isinstance(X[name].dtype, pd.CategoricalDtype):
            feeds[name] = column.astype(object).fillna("").astype(str).to_numpy()
        else:
            feeds[name] = column.to_numpy(np.float32)
    return feeds


def test_categorical_columns_export_as_lookups_and_gathers():
    X, y = _category_frame()
    model = AutoHeadClassifier(**SMALL).fit(X, y)
    onx = skout.onnx.to_onnx(model, X[1:2].astype({"x": np.float32}), options={"zipmap": False})
    ops = [n.op_type for n in onx.graph.node]
    assert ops.count("Gather") == 2 and ops.count("LabelEncoder") == 2
    new = X.copy()
    new["city"] = new["city"].cat.add_categories(["nowhere"])
    new.loc[[0, 1], "city"] = ["nowhere", np.nan]  # unseen, missing
    new.loc[[2, 3], "colour"] = [np.nan, "red"]
    _assert_matches(model, new, _run(onx, _column_feeds(new)))


def test_a_numeric_input_with_a_categorical_column_exports():
    rng = np.random.RandomState(0)
    group = rng.randint(0, 12, 150)
    X = np.column_stack([rng.randn(150), group, rng.randn(150)])
    y = np.random.RandomState(1).randn(12)[group] + X[:, 0]
    model = AutoHeadRegressor(**SMALL, categorical_features=[1]).fit(X, y)
    onx = skout.onnx.to_onnx(model, X[:1].astype(np.float32))
    X_new = X.copy()
    X_new[:2, 1] = [99.0, np.nan]  # unseen, missing
    _assert_matches(model, X_new, _run(onx, {"X": X_new.astype(np.float32)}))


def _id_frame():
    """A categorical column of ids above 2**24, where float32 has gaps of 2 or more:
    20000001 and 20000002 are one float32 number."""
    rng = np.random.RandomState(0)
    ids = rng.choice(20_000_001 + np.arange(4), 120)
    X = np.column_stack([rng.randn(120), ids])
    return X, np.random.RandomState(1).randn(4)[ids - 20_000_001] * 3 + X[:, 0]


@pytest.mark.parametrize("input_type", ["DoubleTensorType", "Int64TensorType"])
def test_large_integer_categories_keep_their_identity(input_type):
    """Each id keeps its own embedding row in the graph, as in skout; a value between
    ids is unseen and NaN is missing, as in skout."""
    X, y = _id_frame()
    model = AutoHeadRegressor(**SMALL, categorical_features=[1]).fit(X, y)
    kind = getattr(skl2onnx.common.data_types, input_type)
    onx = skout.onnx.to_onnx(model, initial_types=[("X", kind([None, 2]))])
    X_new = np.column_stack([np.zeros(4), 20_000_001 + np.arange(4)])
    expected = model.predict(X_new)
    assert len(np.unique(expected)) == 4  # the ids really differ in the model
    if input_type == "Int64TensorType":
        _assert_matches(model, X_new, _run(onx, {"X": X_new.astype(np.int64)}))
    else:
        X_new = np.vstack([X_new, [[0.0, 20_000_001.5], [0.0, np.nan]]])  # unseen, missing
        _assert_matches(model, X_new, _run(onx, {"X": X_new}))


def test_categories_float32_cannot_tell_apart_are_refused():
    X, y = _id_frame()
    model = AutoHeadRegressor(**SMALL, categorical_features=[1]).fit(X, y)
    with pytest.raises(ValueError, match="DoubleTensorType"):
        skout.onnx.to_onnx(model, X[:1].astype(np.float32))


@pytest.mark.skipif(
    _keras_backend() != "tensorflow", reason="Keras's ONNX export is tested on TensorFlow"
)
def test_a_body_reading_categorical_codes_exports():
    pytest.importorskip("tf2onnx")
    import keras

    def dense(input_shape):
        return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(4)])

    X, y = _category_frame()
    model = AutoHeadClassifier(body=KerasBody(dense), max_iter=2, random_state=0).fit(X, y)
    onx = skout.onnx.to_onnx(model, X[1:2].astype({"x": np.float32}), options={"zipmap": False})
    _assert_matches(model, X, _run(onx, _column_feeds(X)), tol=dict(rtol=1e-4, atol=1e-4))


def test_a_network_with_several_inputs_says_it_does_not_export_yet():
    import keras

    def two(input_shapes):
        a, b = keras.Input((2,), name="a"), keras.Input((1,), name="b")
        return keras.Model([a, b], keras.layers.Concatenate()([a, b]))

    X = skout.Inputs(a=np.random.RandomState(0).randn(30, 2), b=np.ones((30, 1)))
    model = AutoHeadRegressor(body=KerasBody(two), max_iter=1).fit(X, np.arange(30.0))
    with pytest.raises(NotImplementedError, match="several named inputs"):
        skout.onnx.to_onnx(model, initial_types=[("a", skl2onnx.common.data_types
                                                    .FloatTensorType([None, 2]))])  # fmt: skip


# -- errors and imports ----------------------------------------------------------------
@pytest.mark.parametrize("make", [AutoHeadClassifier, AutoHeadRegressor])
def test_unfitted_estimator_raises_not_fitted(make, X):
    with pytest.raises(NotFittedError):
        skout.onnx.to_onnx(make(), X[:1].astype(np.float32))
    with pytest.raises(NotFittedError):
        skout.onnx.to_onnx(make_pipeline(StandardScaler().fit(X), make()), X[:1])


@pytest.mark.parametrize("missing", ["skl2onnx", "onnx"])
def test_missing_package_names_the_extra(missing, monkeypatch):
    monkeypatch.setitem(sys.modules, missing, None)  # "import missing" now fails
    for name in [m for m in sys.modules if m == "skout.onnx" or m.startswith("skout._onnx")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r'pip install "skout\[onnx\]"'):
        importlib.import_module("skout.onnx")


def test_dense_export_imports_no_framework(X, targets, tmp_path):
    """In a fresh process: import skout stays light, and exporting a dense
    network imports neither Keras nor any backend."""
    model = make_pipeline(StandardScaler(), AutoHeadClassifier(**SMALL))
    model.fit(X, targets["multiclass-str"])
    path = tmp_path / "model.pkl"
    X32 = X.astype(np.float32)
    path.write_bytes(pickle.dumps((model, X32, model.predict(X32))))
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import skout
        assert "skout.onnx" not in sys.modules and "skl2onnx" not in sys.modules
        model, X, expected = pickle.loads(open({str(path)!r}, "rb").read())
        import onnxruntime, skout.onnx
        # options= makes skl2onnx read every fitted attribute, model_ included:
        # the conversion must still not build (nor import) a Keras model.
        clf = model[-1]
        onx = skout.onnx.to_onnx(model, X[:1], options={{id(clf): {{"zipmap": False}}}})
        assert clf._state().keras_model is None  # predict stays in NumPy
        # skl2onnx's own entry point (skout.onnx registered the converters) too.
        import skl2onnx
        again = skl2onnx.to_onnx(model, X[:1], options={{id(clf): {{"zipmap": False}}}})
        assert clf._state().keras_model is None
        for graph in (onx, again):
            session = onnxruntime.InferenceSession(graph.SerializeToString())
            labels = session.run(None, {{"X": X}})[0]
            assert (labels == expected).all()
        frameworks = ("tensorflow", "keras", "jax", "torch", "tf2onnx")
        print(sorted(m for m in sys.modules if m.split(".")[0] in frameworks))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- the tables cover skout's vocabulary ----------------------------------------------
def test_every_decoding_of_the_head_table_has_an_onnx_decoder():
    assert set(DECODINGS) <= set(skout.onnx.DECODERS)


def test_every_activation_skout_trains_has_an_onnx_node():
    from skout._network import KERAS_ACTIVATIONS
    from skout.heads import LOSS_TABLE

    used = set(KERAS_ACTIVATIONS.values()) | {rule.activation for rule in LOSS_TABLE}
    assert used <= set(skout.onnx.ACTIVATIONS)


def test_module_docstring_example_runs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(skout.onnx, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize(
    "target, params",
    [("binary-str", {}), ("binary-int", {"binary_head": "softmax"}), ("multiclass-str", {})],
)
def test_raw_scores_are_the_decision_function(target, params, X, targets):
    model = AutoHeadClassifier(**SMALL, **params).fit(X, targets[target])
    X32 = X.astype(np.float32)
    onx = skout.onnx.to_onnx(model, X32[:1], options={"zipmap": False, "raw_scores": True})
    scores = _run(onx, {"X": X32})["probabilities"]
    decision = model.decision_function(X32)
    expected = np.column_stack([-decision, decision]) if decision.ndim == 1 else decision
    np.testing.assert_allclose(scores, expected, **TOL)
