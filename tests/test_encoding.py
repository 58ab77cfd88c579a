"""Targets to training arrays and network outputs back (skout._encoding)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from skout._encoding import TargetEncoder
from skout.heads import choose_head

ROOT = Path(__file__).resolve().parents[1]


def _encoder(y, **fit):
    return TargetEncoder(choose_head(y, estimator=fit.pop("estimator", "classifier"))).fit(
        y, **fit
    )


def test_a_tie_at_one_half_is_the_negative_label_for_every_sigmoid_head():
    # One sigmoid unit (binary) and K sigmoid units (multilabel): a probability of
    # exactly 0.5 decodes to the negative label for both, as in MLPClassifier.
    binary = _encoder(np.array(["no", "yes", "no"]))
    multilabel = _encoder(np.array([[0, 1], [1, 1], [0, 0]]))
    half = np.array([[0.5]])
    assert binary.predict([half]).tolist() == ["no"]
    assert multilabel.predict([np.array([[0.5, 0.5]])]).tolist() == [[0, 0]]
    # and just above it, the positive one
    above = np.nextafter(0.5, 1.0)
    assert binary.predict([np.array([[above]])]).tolist() == ["yes"]
    assert multilabel.predict([np.array([[above, 0.5]])]).tolist() == [[1, 0]]


TIE_SCRIPT = textwrap.dedent(
    """
    import warnings
    import numpy as np
    from skout import AutoHeadClassifier
    warnings.simplefilter("ignore")
    X = np.random.RandomState(0).randn(40, 3)
    results = []
    for y in ((X[:, 0] > 0).astype(int), (X[:, :2] > 0).astype(int)):
        clf = AutoHeadClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
        out = clf.model_.get_layer("output_0")
        out.kernel.assign(np.zeros(out.kernel.shape))  # every output: sigmoid(0) = 0.5
        out.bias.assign(np.zeros(out.bias.shape))
        proba = clf.predict_proba(X[:3])
        assert np.all(proba == 0.5), proba
        results.append(np.asarray(clf.predict(X[:3])).ravel().tolist())
    print(results)
    """
)


def test_binary_and_multilabel_models_agree_on_a_tie_in_a_fresh_interpreter():
    result = subprocess.run(
        [sys.executable, "-c", TIE_SCRIPT], capture_output=True, text=True, cwd=ROOT,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    binary, multilabel = eval(result.stdout.strip())
    assert binary == [0, 0, 0]  # classes_[0] for P(class 1) == 0.5
    assert multilabel == [0] * 6  # no label for P == 0.5


def test_regression_standardisation_is_weighted_as_repeated_rows():
    y = np.array([1.0, 2.0, 4.0, 8.0])
    weights = np.array([1.0, 3.0, 0.0, 2.0])
    weighted = _encoder(y, estimator="regressor", sample_weight=weights)
    repeated = _encoder(np.repeat(y, weights.astype(int)), estimator="regressor")
    np.testing.assert_allclose(weighted.mean_, repeated.mean_, rtol=1e-15)
    np.testing.assert_allclose(weighted.scale_, repeated.scale_, rtol=1e-15)
    # unit weights change nothing
    plain = _encoder(y, estimator="regressor")
    ones = _encoder(y, estimator="regressor", sample_weight=np.ones(4))
    np.testing.assert_allclose(plain.mean_, ones.mean_, rtol=1e-15)
    np.testing.assert_allclose(plain.scale_, ones.scale_, rtol=1e-15)
