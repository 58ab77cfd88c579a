"""The kind of target, decided once: across batches, warm starts and folds.

``target_type`` declares the kind up front; ``"auto"`` reads it from the first
target. Either way every later batch (``partial_fit``, a warm-start ``fit``)
must be one the head can represent, and every fold of one dataset gets the
same head, so ``predict_proba`` has one format.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.neural_network import MLPClassifier

from skout import AutoHeadClassifier

TINY = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
_rng = np.random.RandomState(0)
X = _rng.randn(60, 4)
ONE_HOT = np.eye(3, dtype=int)[np.digitize(X[:, 0], [-0.5, 0.5])]
MULTILABEL = (X[:, :3] > 0).astype(int)


def _one_hot_rows(Y):
    return Y[Y.sum(axis=1) == 1]


# -- issue 23, finding 4: a first batch that looks one-hot ------------------------------
def test_partial_fit_refuses_a_multilabel_batch_after_a_one_hot_first_batch():
    clf = AutoHeadClassifier(**TINY)
    rows = MULTILABEL.sum(axis=1) == 1
    clf.partial_fit(X[rows], MULTILABEL[rows])  # happens to be one-hot
    assert clf.head_.target_type == "one-hot"
    before = dict(clf.__dict__)
    with pytest.raises(ValueError, match="one-hot head.*target_type='multilabel-indicator'"):
        clf.partial_fit(X, MULTILABEL)
    assert clf.__dict__.keys() == before.keys()
    assert all(clf.__dict__[k] is before[k] for k in before)


def test_declared_multilabel_stream_learns_several_labels_per_row():
    clf = AutoHeadClassifier(target_type="multilabel-indicator", **TINY)
    clf.set_params(learning_rate_init=0.03)
    rows = MULTILABEL.sum(axis=1) == 1
    clf.partial_fit(X[rows], MULTILABEL[rows])
    assert clf.head_.target_type == "multilabel-indicator"
    for _ in range(100):
        clf.partial_fit(X, MULTILABEL)
    predicted = clf.predict(X)
    assert (predicted.sum(axis=1) != 1).any()  # rows with 0, 2 or 3 labels
    assert np.mean(np.all(predicted == MULTILABEL, axis=1)) > 0.6


def test_warm_start_refuses_a_multilabel_target_after_a_one_hot_fit():
    clf = AutoHeadClassifier(warm_start=True, **TINY).fit(X, ONE_HOT)
    with pytest.raises(ValueError, match="one-hot head.*target_type='multilabel-indicator'"):
        clf.fit(X, MULTILABEL)
    assert clf.head_.target_type == "one-hot"


def test_a_one_hot_batch_continues_a_multilabel_head():
    clf = AutoHeadClassifier(**TINY).partial_fit(X, MULTILABEL)
    clf.partial_fit(X[:10], _one_hot_rows(ONE_HOT)[:10])
    assert clf.head_.target_type == "multilabel-indicator" and clf.n_iter_ == 2


def test_declared_target_type_cannot_change_while_continuing():
    clf = AutoHeadClassifier(target_type="multilabel-indicator", **TINY).partial_fit(X, MULTILABEL)
    clf.set_params(target_type="auto")
    with pytest.raises(ValueError, match="target_type='auto'.*would change"):
        clf.partial_fit(X, MULTILABEL)


def test_partial_fit_reads_the_kind_from_classes_given_per_column():
    """0/1 columns with classes per column: labels per column, not indicators."""
    Y = np.column_stack([np.digitize(X[:, 0], [0.0]), np.digitize(X[:, 1], [-0.5, 0.5])])
    first = Y[Y[:, 1] < 2]  # this batch holds only 0 and 1 in both columns
    clf = AutoHeadClassifier(**TINY)
    clf.partial_fit(X[Y[:, 1] < 2], first, classes=[[0, 1], [0, 1, 2]])
    assert clf.head_.target_type == "multiclass-multioutput"
    assert [p.shape[1] for p in clf.predict_proba(X)] == [2, 3]
    clf.partial_fit(X, Y)  # the label 2 is known
    assert clf.n_iter_ == 2


@pytest.mark.parametrize(
    "declared, y, match",
    [
        ("one-hot", MULTILABEL, r"rows \[.*\] hold .* ones"),
        ("binary", np.digitize(X[:, 0], [-0.5, 0.5]), "it has 3 classes"),
        ("multiclass-multioutput", np.digitize(X[:, 0], [0.0]), "needs a 2-D y"),
        ("multilabel-indicator", np.digitize(X[:, 0], [0.0]), "reads as a binary target"),
    ],
    ids=["one-hot", "binary", "multioutput-1d", "multilabel-1d"],
)
def test_a_target_that_is_not_the_declared_kind_is_refused(declared, y, match):
    clf = AutoHeadClassifier(target_type=declared, **TINY)
    with pytest.raises(ValueError, match=f"target_type='{declared}'.*{match}"):
        clf.fit(X, y)
    assert not hasattr(clf, "head_")


def test_declared_multiclass_keeps_a_softmax_head_over_two_classes():
    y = np.where(X[:, 0] > 0, "b", "a")
    clf = AutoHeadClassifier(target_type="multiclass", **TINY).fit(X, y)
    assert (clf.head_.units, clf.head_.activation) == (2, "softmax")
    assert clf.predict_proba(X).shape == (60, 2)


# -- issue 23, finding 3: partial_fit keeps every label whole ---------------------------
def test_partial_fit_multioutput_predicts_labels_longer_than_the_first_batch_has():
    Y = np.column_stack([np.where(X[:, 0] > 0, "ab", "cd"), np.where(X[:, 1] > 0, "x", "y")])
    first = Y.copy()
    assert first.dtype == "<U2"
    clf = AutoHeadClassifier(**TINY)
    clf.partial_fit(X, first, classes=[["ab", "cd", "long_label"], ["x", "y"]])
    long = Y.astype(object)
    long[:20, 0] = "long_label"
    for _ in range(30):
        clf.partial_fit(X, long)
    predicted = clf.predict(X)
    assert set(predicted[:, 0]) <= {"ab", "cd", "long_label"}
    assert "long_label" in set(predicted[:, 0])


# -- issue 24, finding 5: the same kind in every fold -----------------------------------
# The first fold holds only classes 0 and 1 on purpose; scikit-learn pads its
# probabilities to the three classes and says so.
@pytest.mark.filterwarnings("ignore:Number of classes in training fold:RuntimeWarning")
def test_every_fold_of_a_multioutput_target_gets_the_same_proba_format():
    # Column by column 0/1 in the first half, 0/1/2 in the second: a 2-fold split
    # gives one fold that reads as multilabel.
    Y = np.column_stack([np.r_[np.arange(30) % 2, np.arange(30) % 3]] * 2)
    clf = AutoHeadClassifier(target_type="multiclass-multioutput", **TINY)
    proba = cross_val_predict(clf, X, Y, cv=KFold(2), method="predict_proba")
    assert isinstance(proba, list) and [p.shape for p in proba] == [(60, 3), (60, 3)]
    for p in proba:
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


# -- issue 24, finding 4: sparse multilabel y ------------------------------------------
def test_sparse_multilabel_target_is_accepted_as_mlp_accepts_it():
    Y = sp.csr_matrix(MULTILABEL)
    clf = AutoHeadClassifier(**TINY).fit(X, Y)
    dense = AutoHeadClassifier(**TINY).fit(X, MULTILABEL)
    assert clf.head_ == dense.head_
    predicted = clf.predict(X)
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5).fit(X, Y).predict(X)
    assert sp.issparse(predicted) and sp.issparse(mlp)  # as MLPClassifier does
    np.testing.assert_array_equal(predicted.toarray(), dense.predict(X))
    assert 0.0 <= clf.score(X, Y) <= 1.0
    folds = cross_val_predict(AutoHeadClassifier(**TINY), X, Y, cv=3)
    assert folds.shape == (60, 3)


# -- issue 23, misleading errors on targets ---------------------------------------------
@pytest.mark.parametrize(
    "y",
    [
        pd.Series(np.digitize(X[:, 0], [-0.5, 0.5]).tolist(), dtype=object),
        pd.Series((X[:, 0] > 0).tolist(), dtype=object),
    ],
    ids=["object-ints", "object-bools"],
)
def test_an_object_series_of_ints_or_bools_is_read_as_labels(y):
    clf = AutoHeadClassifier(**TINY).fit(X, y)
    assert clf.head_.target_type in ("binary", "multiclass")
    assert set(clf.predict(X)) <= set(y)


def test_a_frame_target_with_a_string_and_an_int_column_is_multioutput():
    y = pd.DataFrame({"colour": np.where(X[:, 0] > 0, "red", "blue"),
                      "size": np.digitize(X[:, 1], [-0.5, 0.5])})  # fmt: skip
    clf = AutoHeadClassifier(**TINY).fit(X, y)
    assert clf.head_.target_type == "multiclass-multioutput"
    predicted = clf.predict(X)
    assert set(predicted[:, 0]) <= {"red", "blue"} and set(predicted[:, 1]) <= {0, 1, 2}
    right = np.all(predicted == y.to_numpy(), axis=1)
    assert clf.score(X, y) == pytest.approx(right.mean()) and right.any()
