"""Shared small data and settings: every network here is tiny and quick."""

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

TINY = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=0)


@pytest.fixture(scope="session", autouse=True)
def one_blas_thread():
    """One BLAS thread: the suite's matrices are tiny, and OpenBLAS's spinning
    threads made scikit-learn's MLP 12x slower on a busy 2-core machine (digits,
    5-fold: 139 s against 11.5 s). TensorFlow's own thread pools are not BLAS's."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def tiny():
    """Constructor kwargs for a network that trains in a few milliseconds."""
    return dict(TINY)


@pytest.fixture(scope="session")
def X():
    return np.random.RandomState(0).randn(60, 4)


def _targets(X):
    """One target per row of the head table, all learnable from ``X``."""
    pos = X[:, 0] > 0
    k = np.digitize(X[:, 1], [-0.5, 0.5])  # 3 roughly balanced classes
    abc = np.array(["a", "b", "c"])[k]
    return {
        "binary-int": np.where(pos, 7, 3),
        "binary-str": np.where(pos, "yes", "no"),
        "binary-bool": pos,
        "binary-categorical": pd.Series(pd.Categorical(np.where(pos, "yes", "no"))),
        "multiclass-str": abc,
        "multiclass-int": k + 10,
        "one-hot-int": np.eye(3, dtype=np.int64)[k],
        "one-hot-bool-dummies": pd.get_dummies(pd.Series(abc)),
        "multilabel": (X[:, :3] > 0).astype(np.int64),
        "multiclass-multioutput": np.column_stack([pos.astype(np.int64), k]),
        "multiclass-multioutput-str": np.column_stack([np.where(pos, "yes", "no"), abc]),
        "continuous": X @ np.array([1.5, -2.0, 0.5, 0.0]) + 3.0,
        "continuous-multioutput": np.column_stack([X[:, 0] - X[:, 1], 2 * X[:, 2] + 1]),
        # for the log-link losses: counts (with zeros) and positive amounts
        "continuous-counts": np.floor(np.exp(0.6 * X[:, 0] + 0.3)),
        "continuous-amounts": np.exp(X[:, 0] - 0.5 * X[:, 1]),
    }


@pytest.fixture(scope="session")
def targets(X):
    return _targets(X)


@pytest.fixture(scope="session")
def Xy_binary(X, targets):
    return X, targets["binary-int"]


@pytest.fixture(scope="session")
def Xy_multiclass(X, targets):
    return X, targets["multiclass-str"]


@pytest.fixture(scope="session")
def Xy_regression(X, targets):
    return X, targets["continuous"]


def _keras_backend():
    import keras

    return keras.backend.backend()


#: For tests of what only TensorFlow's loop does (one trace per dense family,
#: device placement, its program cache); the JAX and PyTorch loops train the
#: same networks (tests/test_engine_backends.py).
tensorflow_only = pytest.mark.skipif(
    _keras_backend() != "tensorflow", reason="tests the compiled TensorFlow training path"
)
