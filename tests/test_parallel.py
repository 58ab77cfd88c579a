"""Parallel fits: threads share one process safely; workers keep to their share."""

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pytest
from joblib import Parallel, delayed, parallel_config
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from skout import AutoHeadClassifier, AutoHeadRegressor
from skout._framework import thread_budget

X, y = make_classification(n_samples=80, n_features=5, random_state=0)


def _fit(params, barrier=None):
    est = (AutoHeadRegressor if params.pop("regress", False) else AutoHeadClassifier)(**params)
    if barrier is not None:
        barrier.wait()  # both threads enter fit together
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, X[:, 0] if isinstance(est, AutoHeadRegressor) else y)
    return est


def _state(est):
    return est.loss_curve_, [np.asarray(c) for c in est.coefs_ + est.intercepts_]


PAIRS = {
    "two architectures": (
        dict(hidden_layer_sizes=(6,), max_iter=8, random_state=0),
        dict(hidden_layer_sizes=(5, 3), max_iter=8, random_state=1, regress=True),
    ),
    "one architecture, two fits": (
        dict(hidden_layer_sizes=(6,), max_iter=8, random_state=0, alpha=1e-4),
        dict(hidden_layer_sizes=(6,), max_iter=8, random_state=3, alpha=1e-1),
    ),
}


@pytest.mark.parametrize("pair", list(PAIRS), ids=list(PAIRS))
def test_fits_in_two_threads_equal_the_same_fits_one_after_the_other(pair):
    params = PAIRS[pair]
    sequential = [_fit(dict(p)) for p in params]
    for _ in range(2):  # the second round reuses the trainers the first one built
        barrier = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            threaded = list(pool.map(partial(_fit, barrier=barrier), map(dict, params)))
        for one, other in zip(sequential, threaded):
            curve, weights = _state(one)
            curve_t, weights_t = _state(other)
            assert curve_t == curve
            for w, w_t in zip(weights, weights_t):
                np.testing.assert_array_equal(w_t, w)


def test_the_threading_backend_gives_the_same_grid_as_one_job():
    from sklearn.model_selection import GridSearchCV

    grid = {"hidden_layer_sizes": [(4,), (3, 2)]}
    est = AutoHeadClassifier(max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = GridSearchCV(est, grid, cv=2).fit(X, y)
        with parallel_config(backend="threading", n_jobs=2):
            two = GridSearchCV(est, grid, cv=2).fit(X, y)
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(two.cv_results_[key], one.cv_results_[key])


def _worker_fit_and_pools():
    import os

    import tensorflow as tf

    _fit(dict(hidden_layer_sizes=(3,), max_iter=2, random_state=0))
    threading_config = tf.config.threading
    return (
        os.environ.get("OMP_NUM_THREADS"),
        threading_config.get_intra_op_parallelism_threads(),
        threading_config.get_inter_op_parallelism_threads(),
    )


def test_a_worker_given_one_core_sizes_the_framework_pools_to_it():
    # loky gives each of n_jobs workers cpu_count() // n_jobs cores through
    # OMP_NUM_THREADS (1 each for 2 jobs on a 2-core machine).
    import os

    n_jobs = 2
    share = max(os.cpu_count() // n_jobs, 1)
    results = Parallel(n_jobs=n_jobs, backend="loky")(
        delayed(_worker_fit_and_pools)() for _ in range(2)
    )
    for omp, intra, inter in results:
        assert (int(omp), intra, inter) == (share, share, share)
    # This process: no budget was set, so TensorFlow's defaults stand.
    if thread_budget() is None:
        _fit(dict(hidden_layer_sizes=(3,), max_iter=2))
        import tensorflow as tf

        assert tf.config.threading.get_intra_op_parallelism_threads() == 0
        assert tf.config.threading.get_inter_op_parallelism_threads() == 0
