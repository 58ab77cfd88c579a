"""Beyond one process and one backend: JAX, devices, Dask, memory-mapped data."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.datasets import make_classification

from skout import AutoHeadClassifier, AutoHeadRegressor
from skout._devices import training_device

JAX_SCRIPT = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import keras
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler
    from skout import AutoHeadClassifier, AutoHeadRegressor
    assert keras.backend.backend() == "jax", keras.backend.backend()
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = AutoHeadClassifier(hidden_layer_sizes=(16,), max_iter=150,
                             learning_rate_init=0.01, random_state=0).fit(X, names)
    assert clf.score(X, names) > 0.9, clf.score(X, names)
    assert clf.predict_proba(X[:1]).shape == (1, 3)
    assert set(clf.predict(X)) <= set(names)
    online = AutoHeadClassifier(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(3):
        online.partial_fit(X, names, classes=np.unique(names))
    assert online.n_iter_ == 3
    reg = AutoHeadRegressor(hidden_layer_sizes=(8,), max_iter=20).fit(X, X[:, 0] * 3)
    assert reg.predict(X).shape == (150,)
    assert clf.model_.layers[-1].units == 3
    linear = AutoHeadClassifier(hidden_layer_sizes=(), max_iter=100, learning_rate_init=0.05,
                                random_state=0).fit(X, names)
    assert [w.shape for w in linear.coefs_] == [(4, 3)] and linear.n_layers_ == 2
    assert linear.score(X, names) > 0.9, linear.score(X, names)
    assert "tensorflow" not in sys.modules
    print("jax ok")
    """
)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_fits_and_predicts_on_the_jax_backend():
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "jax ok" in out.stdout


def test_spread_places_worker_processes_round_robin_over_gpus():
    gpus = ["/device:GPU:0", "/device:GPU:1", "/device:GPU:2"]
    pids = range(99, 105)  # 99 % 3 == 0
    chosen = [training_device("spread", gpus=gpus, pid=pid) for pid in pids]
    assert chosen == gpus + gpus
    assert training_device("spread", gpus=[], pid=3) is None  # CPU only: TF's default
    assert training_device(None, gpus=gpus) is None
    assert training_device("/GPU:1", gpus=gpus) == "/GPU:1"


@pytest.mark.parametrize("device", ["/CPU:0", "spread"])
def test_device_option_trains_like_the_default_on_this_machine(device):
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    params = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    placed = AutoHeadClassifier(**params, device=device).fit(X, y)
    default = AutoHeadClassifier(**params).fit(X, y)
    np.testing.assert_allclose(placed.predict_proba(X), default.predict_proba(X), atol=1e-6)


def test_memory_mapped_data_fits_whole_or_in_chunks(tmp_path):
    X, y = make_classification(n_samples=400, n_features=8, random_state=0)
    path = tmp_path / "X.f32"
    mapped = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mapped[:] = X
    mapped.flush()
    X_disk = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    params = dict(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0)
    whole = AutoHeadClassifier(**params, max_iter=30).fit(X_disk, y)
    assert whole.score(X, y) > 0.8
    online = AutoHeadClassifier(**params)
    for _ in range(10):  # out of core: one chunk in memory at a time
        for start in range(0, len(y), 100):
            chunk = slice(start, start + 100)
            online.partial_fit(X_disk[chunk], y[chunk], classes=[0, 1])
    assert online.score(X, y) > 0.8


@pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="dask.distributed is not installed"
)
def test_grid_search_on_a_local_dask_cluster_equals_one_process():
    import joblib
    import keras
    from distributed import Client, LocalCluster
    from sklearn.model_selection import GridSearchCV

    import skout

    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    grid = {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(4,), (8,)]}
    net = AutoHeadClassifier(max_iter=15, random_state=0)
    serial = GridSearchCV(net, grid, cv=2, n_jobs=1).fit(X, y)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, Client(cluster) as client:  # fmt: skip
        # Workers brought up before the first task reaches them.
        backends = client.run(skout.warm_up)
        assert sorted(backends.values()) == [keras.backend.backend()] * 2
        with joblib.parallel_backend("dask"):
            distributed = GridSearchCV(net, grid, cv=2, n_jobs=-1).fit(X, y)
    np.testing.assert_allclose(
        distributed.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(distributed.predict_proba(X), serial.predict_proba(X))


def test_regressor_accepts_device_too():
    X = np.random.RandomState(0).normal(size=(40, 3))
    reg = AutoHeadRegressor(hidden_layer_sizes=(4,), max_iter=3, device="/CPU:0")
    assert reg.fit(X, X.sum(axis=1)).predict(X).shape == (40,)
