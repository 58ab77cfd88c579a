"""What one fit leaves for the next: refits, failed fits, partial fits, warm starts.

The state machine at the end runs random sequences of fit / partial_fit /
warm-start refit / set_params / pickle / clone / failing fits, on the dense
network and on a tiny body, against a shadow estimator that is given only the
steps that succeed: after every step both must predict the same, and a step
that raised must leave the estimator exactly as it was.
"""

from __future__ import annotations

import pickle
import sys
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skout import AutoHeadClassifier, AutoHeadRegressor, KerasBody

TINY = dict(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
_rng = np.random.RandomState(0)
X3 = _rng.randn(12, 3)
X5 = _rng.randn(12, 5)
Y = np.array(["a", "b"] * 6)
Y_FLIP = np.where(Y == "a", "b", "a")
Y_ONE = np.full(12, "a")
X_NAN = X3.copy()
X_NAN[2, 1] = np.nan


def tiny_body(input_shape, units=3):
    import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(units, "relu")])


def _dict_unchanged(before, after):
    assert before.keys() == after.keys(), set(before) ^ set(after)
    changed = [k for k in before if before[k] is not after[k]]
    assert not changed, changed


# -- finding 1: a refit never reuses a cache of the previous fit ---------------------------
def test_refit_of_a_body_estimator_predicts_with_the_new_fit():
    clf = AutoHeadClassifier(body=KerasBody(tiny_body), max_iter=30, random_state=0)
    clf.set_params(learning_rate_init=0.05)
    clf.fit(X3, Y)
    first = clf.predict_proba(X3)  # builds and caches a compiled predict function
    clf.fit(X3, Y_FLIP)
    fresh = clone(clf).fit(X3, Y_FLIP)
    np.testing.assert_allclose(clf.predict_proba(X3), fresh.predict_proba(X3), rtol=1e-6)
    assert not np.allclose(clf.predict_proba(X3), first)


def test_refit_replaces_model_():
    clf = AutoHeadClassifier(**TINY).fit(X3, Y)
    old_model = clf.model_
    clf.fit(X5, Y)
    assert clf.model_ is not old_model
    assert clf.model_.input_shape == (None, 5)


# -- finding 2: a fit that fails changes nothing -------------------------------------------
@pytest.mark.parametrize(
    "X_bad, y_bad",
    [(X5, Y_ONE), (X_NAN, Y), (X5[:, :0], Y)],
    ids=["5-features-one-class", "nan", "no-features"],
)
def test_a_failed_refit_leaves_the_estimator_as_it_was(X_bad, y_bad):
    clf = AutoHeadClassifier(**TINY).fit(X3, Y)
    before, proba = dict(clf.__dict__), clf.predict_proba(X3)
    with pytest.raises(ValueError):
        clf.fit(X_bad, y_bad)
    _dict_unchanged(before, clf.__dict__)
    assert clf.n_features_in_ == 3
    np.testing.assert_array_equal(clf.predict_proba(X3), proba)


def test_partial_fit_refuses_a_changed_solver_and_changes_nothing():
    # The optimizer state of one solver cannot drive another's update.
    clf = AutoHeadClassifier(**TINY, solver="sgd").fit(X3, Y)
    before, proba = dict(clf.__dict__), clf.predict_proba(X3)
    clf.set_params(solver="adam")
    with pytest.raises(ValueError, match="solver='sgd' back"):
        clf.partial_fit(X3, Y)
    clf.set_params(solver="sgd")
    _dict_unchanged(before, clf.__dict__)
    np.testing.assert_array_equal(clf.predict_proba(X3), proba)
    clf.partial_fit(X3, Y)  # the same solver goes on
    assert clf.n_iter_ == 3
    # A refit (warm_start included) starts a fresh optimizer: any solver will do.
    clf.set_params(solver="adam", warm_start=True).fit(X3, Y)


def test_a_diverging_refit_leaves_the_estimator_as_it_was():
    reg = AutoHeadRegressor(**TINY, solver="sgd").fit(X3, X3[:, 0])
    pred = reg.predict(X3)
    reg.set_params(learning_rate_init=1e30, max_iter=3)
    before = dict(reg.__dict__)
    with pytest.raises(ValueError, match="diverged"):
        reg.fit(X5 * 1e3, X5[:, 0] * 1e3)
    _dict_unchanged(before, reg.__dict__)
    np.testing.assert_array_equal(reg.predict(X3), pred)


def test_an_interrupted_fit_leaves_the_estimator_as_it_was():
    import keras

    class CtrlC(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    clf = AutoHeadClassifier(**TINY).fit(X3, Y)
    proba = clf.predict_proba(X3)
    clf.set_params(callbacks=[CtrlC()])
    before = dict(clf.__dict__)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X5, Y)
    _dict_unchanged(before, clf.__dict__)
    assert clf.n_features_in_ == 3
    np.testing.assert_array_equal(clf.predict_proba(X3), proba)


def test_a_failed_first_fit_leaves_the_estimator_unfitted():
    clf = AutoHeadClassifier(**TINY)
    with pytest.raises(ValueError, match="one class"):
        clf.fit(X5, Y_ONE)
    assert not hasattr(clf, "n_features_in_")
    assert set(clf.__dict__) == set(AutoHeadClassifier(**TINY).__dict__)


# -- finding 3: partial_fit's classes must describe every column ----------------------------
Y2 = np.column_stack([Y, np.array(["x", "y", "z"] * 4)])


@pytest.mark.parametrize(
    "classes, match",
    [
        ([np.array(["a", "b"])], "2 columns but classes has 1"),
        ([["a", "b"], ["x", "y", "z"], ["p", "q"]], "2 columns but classes has 3"),
        (["a", "b", "x", "y", "z"], "one array of labels per column"),
    ],
    ids=["one-column", "too-many", "flat"],
)
def test_partial_fit_classes_must_match_the_columns_of_y(classes, match):
    clf = AutoHeadClassifier(**TINY)
    with pytest.raises(ValueError, match=match):
        clf.partial_fit(X3, Y2, classes=classes)
    assert not hasattr(clf, "classes_")


def test_partial_fit_on_two_columns_predicts_two_columns():
    clf = AutoHeadClassifier(**TINY).partial_fit(X3, Y2, classes=[["a", "b"], ["x", "y", "z"]])
    assert clf.predict(X3).shape == (12, 2)


# -- finding 4: class_weight gets the checks sample_weight gets ----------------------------
@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({"a": -1.0, "b": 1.0}, "finite and >= 0"),
        ({"a": 0.0, "b": 0.0}, "0 for every sample"),
        ({"a": np.nan, "b": 1.0}, "finite and >= 0"),
        ({"a": np.inf, "b": 1.0}, "finite and >= 0"),
        ({"a": 1.0, "c": 2.0}, r"class\(es\) \['c'\] that are not in the target"),
    ],
    ids=["negative", "all-zero", "nan", "inf", "unknown-key"],
)
def test_class_weight_is_checked_like_sample_weight(class_weight, match):
    with pytest.raises(ValueError, match=match):
        AutoHeadClassifier(**TINY, class_weight=class_weight).fit(X3, Y)


def test_sample_weight_that_underflows_float32_is_refused():
    with pytest.raises(ValueError, match="float32"):
        AutoHeadClassifier(**TINY).fit(X3, Y, sample_weight=np.full(12, 1e-46))


def test_partial_fit_with_class_weight_on_a_column_batch_of_one_class():
    clf = AutoHeadClassifier(**TINY, class_weight={"a": 2.0, "b": 1.0})
    clf.partial_fit(X3, Y.reshape(-1, 1), classes=["a", "b"])
    clf.partial_fit(X3[:4], Y_ONE[:4].reshape(-1, 1))
    assert clf.n_iter_ == 2


# -- finding 7: warm_start and partial_fit cannot change the head ---------------------------
@pytest.mark.parametrize(
    "Est, y, change",
    [
        (AutoHeadClassifier, Y, {"binary_head": "softmax"}),
        (AutoHeadClassifier, Y, {"loss": "categorical_crossentropy"}),
        (AutoHeadRegressor, X3[:, 0] * 50 + 7, {"standardize_target": False}),
        (AutoHeadRegressor, X3[:, 0], {"loss": "mean_absolute_error"}),
    ],
    ids=["binary_head", "classifier-loss", "standardize_target", "regressor-loss"],
)
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_continuing_refuses_a_changed_head_parameter(Est, y, change, how):
    est = Est(**TINY, warm_start=how == "warm_start").fit(X3, y)
    est.set_params(**change)
    before = dict(est.__dict__)
    name = next(iter(change))
    with pytest.raises(ValueError, match=f"{name}=.*would change"):
        if how == "warm_start":
            est.fit(X3, y)
        else:
            est.partial_fit(X3, y)
    _dict_unchanged(before, est.__dict__)


# -- the state machine ------------------------------------------------------------------------
def _outputs(est):
    if not hasattr(est, "classes_"):
        return None
    return est.predict_proba(X3 if est.n_features_in_ == 3 else X5)


def _outcome(est, X):
    """What one predict_proba call gives: probabilities, or why it cannot."""
    try:
        return est.predict_proba(X)
    except NotFittedError:
        return "not fitted"
    except ValueError as exc:
        assert "features" in str(exc), exc
        return "other width"


def _same_outcome(a, b):
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return np.array_equal(a, b)


class Lifecycle(RuleBasedStateMachine):
    """Subject and shadow get the same steps; the shadow never sees a failure,
    a pickle round trip or a predict, so it is a fresh estimator given the
    same history."""

    make = staticmethod(lambda: AutoHeadClassifier(**TINY))

    @initialize()
    def start(self):
        self.subject, self.shadow = self.make(), self.make()

    def _both(self, step):
        """Run ``step`` on the shadow, then the subject; they must agree."""
        try:
            step(self.shadow)
        except ValueError:
            before = dict(self.subject.__dict__)
            proba = _outputs(self.subject)
            with pytest.raises(ValueError):
                step(self.subject)
            _dict_unchanged(before, self.subject.__dict__)
            after = _outputs(self.subject)
            assert (proba is None and after is None) or np.array_equal(proba, after)
        else:
            step(self.subject)

    @rule(wide=st.booleans(), flip=st.booleans())
    def fit(self, wide, flip):
        self._both(lambda est: est.fit(X5 if wide else X3, Y_FLIP if flip else Y))

    @rule(wide=st.booleans(), first=st.sampled_from([0, 4]))
    def partial_fit(self, wide, first):
        X = X5 if wide else X3
        self._both(lambda est: est.partial_fit(X[first:], Y[first:], classes=["a", "b"]))

    @rule(wide=st.booleans(), flip=st.booleans())
    def fit_while_reading(self, wide, flip):
        """Reads from another thread during a fit see the model before or after it."""
        queries = (X3, X5)
        before = [_outcome(self.subject, Xq) for Xq in queries]
        done, seen = threading.Event(), []

        def read():
            while not done.is_set():
                for which, Xq in enumerate(queries):
                    seen.append((which, _outcome(self.subject, Xq)))

        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        reader = threading.Thread(target=read)
        reader.start()
        try:
            self._both(lambda est: est.fit(X5 if wide else X3, Y_FLIP if flip else Y))
        finally:
            done.set()
            reader.join()
            sys.setswitchinterval(interval)
        after = [_outcome(self.subject, Xq) for Xq in queries]
        assert seen
        for which, got in seen:
            assert _same_outcome(got, before[which]) or _same_outcome(got, after[which])

    @rule()
    def warm_refit(self):
        def step(est):
            est.set_params(warm_start=True)
            try:
                est.fit(X3, Y_FLIP)
            finally:
                est.set_params(warm_start=False)

        self._both(step)

    @rule(max_iter=st.integers(1, 3), binary_head=st.sampled_from(["sigmoid", "softmax"]))
    def set_params(self, max_iter, binary_head):
        for est in (self.subject, self.shadow):
            est.set_params(max_iter=max_iter, binary_head=binary_head)

    @rule(how=st.sampled_from(["nan", "one-class", "wide-one-class", "warm-wide"]))
    def failing_fit(self, how):
        def step(est):
            if how == "warm-wide":
                est.set_params(warm_start=True)
                try:
                    est.fit(X5, Y) if est.__sklearn_is_fitted__() else est.fit(X3, Y_ONE)
                finally:
                    est.set_params(warm_start=False)
            else:
                X, y = {"nan": (X_NAN, Y), "one-class": (X3, Y_ONE)}.get(how, (X5, Y_ONE))
                est.fit(X, y)

        self._both(step)

    @rule()
    def pickle_round_trip(self):
        self.subject = pickle.loads(pickle.dumps(self.subject))

    @rule()
    def clone_both(self):
        self.subject, self.shadow = clone(self.subject), clone(self.shadow)

    @invariant()
    def same_predictions(self):
        mine, fresh = _outputs(self.subject), _outputs(self.shadow)
        assert (mine is None) == (fresh is None)
        if mine is not None:
            np.testing.assert_array_equal(mine, fresh)
            assert self.subject.n_features_in_ == self.shadow.n_features_in_


class BodyLifecycle(Lifecycle):
    make = staticmethod(lambda: AutoHeadClassifier(body=KerasBody(tiny_body), **TINY))


_SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(max_examples=220, stateful_step_count=5, **_SETTINGS)
TestBodyLifecycle = BodyLifecycle.TestCase
TestBodyLifecycle.settings = settings(max_examples=20, stateful_step_count=5, **_SETTINGS)
