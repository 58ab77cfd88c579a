"""Your own Keras network as the body: skout adds the head from the target."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from conftest import tensorflow_only
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from skout import AutoHeadClassifier, AutoHeadRegressor, KerasBody
from skout._engine import cache, tf_loop

keras = pytest.importorskip("keras")


def cnn(input_shape, filters=8):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(filters, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
        ]
    )


def recurrent(input_shape, units=8):
    return keras.Sequential([keras.Input(input_shape), keras.layers.LSTM(units)])


@pytest.fixture(scope="module")
def digit_images():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 8, 8, 1)  # images: (n, height, width, channels)
    return train_test_split(X, y, random_state=0)


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 12, 2)).astype(np.float32)
    return X, X[:, :, 0].sum(axis=1) > 0  # does the first channel sum to > 0?


def test_a_conv2d_body_classifies_digit_images(digit_images):
    X_train, X_test, y_train, y_test = digit_images
    clf = AutoHeadClassifier(body=KerasBody(cnn, filters=16), max_iter=40,
                             learning_rate_init=0.005, random_state=0)  # fmt: skip
    clf.fit(X_train, y_train)
    assert clf.head_.units == 10 and clf.head_.activation == "softmax"
    assert clf.model_.layers[-1].units == 10
    # Chance is 0.1. Seeds 0-3 score 0.949-0.987, and TensorFlow's two CPU
    # kernel sets (oneDNN on and off) move seed 0 by one test image (0.002):
    # 0.90 leaves a margin of 20 images.
    assert clf.score(X_test, y_test) >= 0.90
    assert clf.predict_proba(X_test[:1]).shape == (1, 10)


def test_grid_search_tunes_a_body_hyperparameter(digit_images):
    X_train, _, y_train, _ = digit_images
    net = AutoHeadClassifier(body=KerasBody(cnn, filters=4), max_iter=3, random_state=0)
    assert net.get_params()["body__filters"] == 4
    search = GridSearchCV(net, {"body__filters": [4, 8]}, cv=2).fit(X_train, y_train)
    assert search.best_params_["body__filters"] in (4, 8)
    assert search.best_estimator_.body.filters == search.best_params_["body__filters"]


def test_a_recurrent_body_learns_a_sequence_task(sequences):
    X, y = sequences
    clf = AutoHeadClassifier(
        body=KerasBody(recurrent, units=8), max_iter=60, learning_rate_init=0.01, random_state=0
    ).fit(X[:200], y[:200])
    assert clf.head_.units == 1 and clf.head_.activation == "sigmoid"
    assert clf.score(X[200:], y[200:]) > 0.85
    assert clf.predict(X[200:]).dtype == bool


def test_a_conv1d_body_regresses_sequences(sequences):
    X, _ = sequences
    target = X[:, :, 1].mean(axis=1) * 10

    def conv1d(input_shape):
        return keras.Sequential(
            [keras.Input(input_shape), keras.layers.Conv1D(8, 3, activation="relu")]
        )

    reg = AutoHeadRegressor(body=conv1d, max_iter=80, learning_rate_init=0.01, random_state=0)
    reg.fit(X, target)
    assert reg.predict(X).shape == (300,)
    assert reg.score(X, target) > 0.7


def test_every_fit_starts_from_fresh_weights_and_leaves_the_users_model_alone(digit_images):
    X_train, X_test, y_train, _ = digit_images
    body = cnn((8, 8, 1))
    before = [w.copy() for w in body.get_weights()]
    a = AutoHeadClassifier(body=body, max_iter=2, random_state=0).fit(X_train, y_train)
    again = AutoHeadClassifier(body=body, max_iter=2, random_state=0).fit(X_train, y_train)
    other = clone(a).set_params(random_state=1).fit(X_train, y_train)
    for w_before, w_after in zip(before, body.get_weights(), strict=True):
        np.testing.assert_array_equal(w_before, w_after)
    np.testing.assert_allclose(a.predict_proba(X_test), again.predict_proba(X_test), atol=1e-6)
    assert not np.allclose(a.predict_proba(X_test), other.predict_proba(X_test))


@tensorflow_only
def test_fits_of_one_body_share_one_compiled_trainer(digit_images):
    X_train, _, y_train, _ = digit_images
    cache.clear_cache()
    for seed in range(3):  # each builds the body again, with new layer names
        AutoHeadClassifier(body=KerasBody(cnn), max_iter=1, random_state=seed).fit(
            X_train[:100], y_train[:100]
        )
    counts = tf_loop.tracing_count()
    assert counts == [1]


def test_wrong_sample_shape_at_predict_is_a_clear_error(digit_images):
    X_train, _, y_train, _ = digit_images
    clf = AutoHeadClassifier(body=cnn, max_iter=1).fit(X_train, y_train)
    with pytest.raises(ValueError, match="shape"):
        clf.predict(np.zeros((2, 8, 8, 2)))


def test_a_body_with_its_own_output_layer_is_refused(digit_images):
    X_train, _, y_train, _ = digit_images

    def complete(input_shape):
        return keras.Sequential(
            [keras.Input(input_shape), keras.layers.Flatten(),
             keras.layers.Dense(10, activation="softmax")]
        )  # fmt: skip

    with pytest.raises(ValueError, match="output layer"):
        AutoHeadClassifier(body=complete, max_iter=1).fit(X_train, y_train)


def test_a_lambda_body_does_not_stop_saving_the_fitted_model(digit_images, tmp_path):
    X_train, X_test, y_train, _ = digit_images
    clf = AutoHeadClassifier(body=lambda shape: cnn(shape, filters=4), max_iter=2,
                             random_state=0).fit(X_train, y_train)  # fmt: skip
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(clf))
    np.save(tmp_path / "X.npy", X_test)
    code = (
        "import pickle, numpy as np\n"
        f"m = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"np.save({str(tmp_path / 'p.npy')!r}, m.predict_proba(X))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), clf.predict_proba(X_test), atol=1e-6)
    restored = pickle.loads(path.read_bytes())
    with pytest.raises(ValueError, match="set_params"):
        restored.fit(X_train, y_train)


def test_coefs_are_for_the_dense_body_only(digit_images):
    X_train, _, y_train, _ = digit_images
    clf = AutoHeadClassifier(body=cnn, max_iter=1).fit(X_train, y_train)
    with pytest.raises(AttributeError, match="model_"):
        clf.coefs_  # noqa: B018


def regularised(input_shape, strength=0.5):
    """A body with its own losses: an L2 kernel and an L1 activity regulariser."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Dense(
                6, activation="tanh", kernel_regularizer=keras.regularizers.L2(strength),
                activity_regularizer=keras.regularizers.L1(0.01),
            ),
        ]
    )  # fmt: skip


def test_a_bodys_own_regularisers_train_as_in_keras_fit():
    """Kernel and activity regularisers of a body are in the objective skout
    minimises, as Keras's fit adds model.losses to the loss: full-batch SGD
    from the same start lands on Keras's weights (and a fit without them does
    not)."""
    from skout import _network

    rng = np.random.RandomState(0)
    X = rng.randn(40, 5).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    params = dict(solver="sgd", momentum=0.0, alpha=0.0, batch_size=40, shuffle=False,
                  max_iter=3, tol=0.0, n_iter_no_change=100, learning_rate_init=0.05,
                  random_state=0, head_init="glorot")  # fmt: skip
    est = AutoHeadClassifier(body=KerasBody(regularised), **params).fit(X, y)
    spec = est._spec
    model = spec.build()
    _network.set_weights(model, spec, spec.initial_weights(np.random.RandomState(0)))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=est.head_.loss)
    model.fit(X, est._encoder.transform(y), epochs=3, batch_size=40, shuffle=False, verbose=0)
    for ours, theirs in zip(est._weights, _network.get_weights(model, spec), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    unregularised = AutoHeadClassifier(body=KerasBody(regularised, strength=0.0), **params)
    kernel = unregularised.fit(X, y)._weights[0]
    assert np.abs(kernel).sum() > np.abs(est._weights[0]).sum() * 1.001


# -- issue 24, finding 1: layer names never corrupt the rebuilt body -------------------------
def _named_dense(input_shape):
    inputs = keras.Input(input_shape, name="units")
    h = keras.layers.Dense(6, activation="relu", name="relu")(inputs)
    g = keras.layers.Dense(6, activation="tanh", name="float32")(inputs)
    return keras.Model(inputs, keras.layers.Add(name="tanh")([h, g]))


def _named_activation(input_shape):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Dense(6, name="dense"),
            keras.layers.Activation("relu", name="activation"),
        ]
    )


def _dropout_before_lstm(input_shape):
    return keras.Sequential(
        [keras.Input(input_shape), keras.layers.Dropout(0.1, name="dropout"), keras.layers.LSTM(4)]
    )


@pytest.mark.parametrize(
    "build, sample_shape",
    [(_named_dense, (5,)), (_named_activation, (5,)), (_dropout_before_lstm, (3, 2))],
    ids=["relu-tanh-units-float32", "activation", "dropout-before-lstm"],
)
def test_layers_named_like_config_keys_or_values_train(build, sample_shape):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, *sample_shape)).astype(np.float32)
    y = np.where(X.reshape(40, -1)[:, 0] > 0, "a", "b")
    clf = AutoHeadClassifier(body=KerasBody(build), max_iter=3, random_state=0).fit(X, y)
    assert clf.predict_proba(X).shape == (40, 2)
    built = [type(layer).__name__ for layer in build(sample_shape).layers]
    assert [type(layer).__name__ for layer in clf.model_.layers[1].layers] == built


def test_canonical_config_renames_layers_only():
    import json

    from skout.body import canonical_config

    first = canonical_config(_named_dense((5,)))
    assert first == canonical_config(_named_dense((5,)))  # positional names
    config = json.loads(first)["config"]
    dense = [layer["config"] for layer in config["layers"] if layer["class_name"] == "Dense"]
    assert [d["activation"] for d in dense] == ["relu", "tanh"]
    assert all(d["units"] == 6 and d["dtype"]["config"]["name"] == "float32" for d in dense)
    names = [layer["name"] for layer in config["layers"]]
    assert len(set(names)) == 4 and all(n.startswith("skout_layer_") for n in names)
    output = config["output_layers"]  # [name, 0, 0], or a list of such
    assert (output[0] if isinstance(output[0], str) else output[0][0]) == names[-1]


# -- issue 24, smaller findings ---------------------------------------------------------------
_QUIET_CV = """
import warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
import skout

warnings.simplefilter("ignore", ConvergenceWarning)


def body(input_shape, width=4):
    import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(width, "relu")])


X = np.random.RandomState(0).randn(60, 3)
y = np.where(X[:, 0] > 0, "a", "b")
for _ in range(2):
    clf = skout.AutoHeadClassifier(body=skout.KerasBody(body), max_iter=3, random_state=0)
    print(cross_val_score(clf, X, y, cv=5).mean())
# A search over the body's width: one compiled predict per width, eight in all,
# which TensorFlow must not take for a function re-made in a loop.
from sklearn.model_selection import GridSearchCV
search = GridSearchCV(clf, {"body__width": [2, 3, 4, 5, 6, 7, 8, 9]}, cv=2).fit(X, y)
print(search.best_params_)
"""


def test_cross_val_score_with_a_body_prints_nothing_on_stderr():
    """Ten fits, fifty predicts: one compiled predict per architecture, no retracing;
    a search over eight architectures: no warning either."""
    out = subprocess.run(
        [sys.executable, "-c", _QUIET_CV], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr == ""


def test_predicts_of_one_architecture_share_one_compiled_function():
    from skout import _network

    X = np.random.RandomState(0).randn(30, 3)
    y = np.where(X[:, 0] > 0, "a", "b")
    body = KerasBody(lambda shape: keras.Sequential([keras.Input(shape), keras.layers.Dense(5)]))
    first = AutoHeadClassifier(body=body, max_iter=2, random_state=0).fit(X, y)
    second = AutoHeadClassifier(body=body, max_iter=2, random_state=1).fit(X, y)
    assert first._spec == second._spec
    first.predict(X)
    second.predict(X[:7])
    assert _network.architecture_predict(first._spec) is _network.architecture_predict(
        second._spec
    )
    assert not np.allclose(first.predict_proba(X), second.predict_proba(X))


def test_wrong_type_body_is_a_type_error():
    X = np.random.RandomState(0).randn(20, 3)
    y = np.where(X[:, 0] > 0, "a", "b")
    with pytest.raises(TypeError, match="body must be a keras.Model"):
        AutoHeadClassifier(body="resnet", max_iter=2).fit(X, y)
    with pytest.raises(TypeError, match="not a Keras model"):
        AutoHeadClassifier(body=lambda shape: "a model", max_iter=2).fit(X, y)


def test_a_builders_own_type_error_stays_a_type_error():
    def build(input_shape, units=4):
        return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(units)])

    X = np.random.RandomState(0).randn(20, 3)
    y = np.where(X[:, 0] > 0, "a", "b")
    clf = AutoHeadClassifier(body=KerasBody(build, unit=4), max_iter=2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'unit'"):
        clf.fit(X, y)


@pytest.mark.parametrize("name", ["build", "get_params", "_param_names"])
def test_a_body_hyperparameter_cannot_hide_kerasbodys_own_names(name):
    clf = AutoHeadClassifier(body=KerasBody(recurrent, units=4))
    with pytest.raises(ValueError, match=f"Invalid parameter '{name}' for KerasBody"):
        clf.set_params(**{f"body__{name}": 3})
    with pytest.raises(ValueError, match=f"Invalid parameter '{name}'"):
        KerasBody(recurrent, **{name: 3})
    assert callable(clf.body.build)


def test_model_is_compiled_and_belongs_to_its_fitted_state():
    X = np.random.RandomState(0).randn(30, 3)
    y = np.where(X[:, 0] > 0, "a", "b")
    clf = AutoHeadClassifier(hidden_layer_sizes=(4,), max_iter=3, solver="sgd", random_state=0)
    clf.fit(X, y)
    model = clf.model_
    assert model is clf.model_  # one model per fitted state
    assert type(model.optimizer).__name__ == "SGD"
    assert model.loss == "binary_crossentropy"
    model.evaluate(X, (y == "b").astype("float32"), verbose=0)
    clf.fit(X, y)
    assert clf.model_ is not model  # a refit is a new state, with its own model
