"""scikit-learn's own estimator checks, run on both estimators, in float32 and
float64, and with a Keras body.

Expected failures are kept as data, each with a one-line reason.
"""

import pytest
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from skout import AutoHeadClassifier, AutoHeadRegressor, KerasBody


def dense_body(input_shape, width=100):
    """The built-in network's hidden layer, as a Keras body."""
    import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(width, "relu")])


# The settings scikit-learn uses for its own MLP checks (max_iter=100), in the
# default float32 and in float64; and a Keras body (float32 only: Keras layers).
ESTIMATORS = [
    AutoHeadClassifier(max_iter=100, random_state=0),
    AutoHeadRegressor(max_iter=100, random_state=0),
    AutoHeadClassifier(max_iter=100, random_state=0, dtype="float64"),
    AutoHeadRegressor(max_iter=100, random_state=0, dtype="float64"),
    AutoHeadClassifier(body=KerasBody(dense_body), max_iter=100, random_state=0),
    AutoHeadRegressor(body=KerasBody(dense_body), max_iter=100, random_state=0),
]

# No check is known to fail: each estimator passes every check, in float64
# with no exception at all, in float32 with the rounding allowance below.
EXPECTED_FAILED_CHECKS = {}

# Checks whose outcome in float32 depends on the CPU's rounding, not on what
# skout computes. check_sample_weight_equivalence compares a fit with integer
# weights to a fit on the repeated rows at rtol=1e-7. The two fits sum the
# same per-sample gradients in a different order (w * g against g + g), and
# float32 rounds each operation by up to 6e-8 relative (half its machine
# epsilon of 1.19e-7). Over 100 epochs those differences reach about 1e-7 in
# the predictions: one ulp of float32 already spends the whole tolerance, so
# whether the check passes depends on which kernels the CPU runs (it passed
# on the machine where CI ran and fails with TF_ENABLE_ONEDNN_OPTS=0). That
# the two fits differ by rounding *only* is what the float64 estimators show:
# there the same check passes at 1e-7 on every CPU (float64's rounding is
# 1e-16), with no allowance.
_FLOAT32_ROUNDING = (
    "float32 training: the weighted and the repeated fits add the same gradients "
    "in another order, and after 100 epochs their rounding (6e-8 per operation) "
    "reaches the check's rtol of 1e-7 on some CPUs and not on others."
)
FLOAT32_ROUNDING_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": _FLOAT32_ROUNDING,
    "check_sample_weight_equivalence_on_sparse_data": _FLOAT32_ROUNDING,
}


# With a Keras body, predict runs in the framework's float32 kernels, which
# sum a row's products in an order that depends on the batch (one row goes
# through a matrix-vector kernel, twenty through a matrix-matrix one): a row's
# prediction can move by an ulp of float32 (1.2e-7 relative) with the rows
# around it, which these checks compare at atol=1e-7. The built-in network
# predicts in NumPy, whose row sums do not depend on the batch, and passes them.
_BODY_KERNELS = (
    "a Keras body predicts in float32 kernels whose summation order depends on the "
    "batch size, so a row may move by one float32 ulp, the check's whole tolerance."
)
BODY_ROUNDING_CHECKS = {
    "check_methods_subset_invariance": _BODY_KERNELS,
    "check_methods_sample_order_invariance": _BODY_KERNELS,
}


def _rounding_reason(estimator, check):
    """Why ``check`` may fail by float32 rounding alone for ``estimator``, or None."""
    if estimator.dtype == "float64":
        return None
    name = _name(check)
    if estimator.body is not None and name in BODY_ROUNDING_CHECKS:
        return BODY_ROUNDING_CHECKS[name]
    return FLOAT32_ROUNDING_CHECKS.get(name)


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator), {})


def _name(check):
    return getattr(check, "func", check).__name__


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_compatible_estimator(estimator, check):
    reason = _rounding_reason(estimator, check)
    if reason is None:
        check(estimator)
        return
    # A non-strict expected failure: passing is fine, and so is failing by
    # rounding alone.
    try:
        check(estimator)
    except AssertionError as exc:
        pytest.xfail(f"{reason} ({str(exc).splitlines()[-1].strip()})")


def test_sample_weight_equivalence_with_scikit_learns_own_mlp_regressor_settings():
    """scikit-learn checks MLPRegressor's weights with solver="sgd", tol=1e-2,
    random_state=42; skout's regressor passes the same check with them (its
    target standardisation is weighted: a weight of 2 is a repeated row)."""
    estimator = AutoHeadRegressor(solver="sgd", tol=1e-2, random_state=42, dtype="float64")
    check_sample_weight_equivalence_on_dense_data("AutoHeadRegressor", estimator)
