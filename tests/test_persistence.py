"""Saving and loading fitted estimators: skops, strict format tags, damaged files."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skout import AutoHeadClassifier, AutoHeadRegressor

sio = pytest.importorskip("skops.io")

ROOT = Path(__file__).parents[1]
TINY = dict(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
_rng = np.random.RandomState(0)
X = _rng.randn(20, 3)
FRAME = pd.DataFrame(X, columns=["a", "b", "c"])
Y = np.where(X[:, 0] > 0, "yes", "no")
Y_MMO = np.column_stack([(X[:, 0] > 0).astype(int), np.digitize(X[:, 1], [-0.5, 0.5])])

MODELS = {
    "binary-frame": (AutoHeadClassifier, FRAME, pd.Series(Y, dtype=object)),
    "multioutput": (AutoHeadClassifier, X, Y_MMO),
    "multilabel": (AutoHeadClassifier, X, (X > 0).astype(int)),
    "regressor": (AutoHeadRegressor, X, X @ [1.0, 2.0, -1.0] + 5),
}


@pytest.fixture(scope="module")
def fitted():
    return {name: Est(**TINY).fit(Xf, y) for name, (Est, Xf, y) in MODELS.items()}


def _outputs(est, Xp):
    if hasattr(est, "predict_proba"):
        proba = est.predict_proba(Xp)
        return [est.predict(Xp), *(proba if isinstance(proba, list) else [proba])]
    return [est.predict(Xp)]


def test_skops_trusts_only_the_public_estimator_classes(fitted):
    for est in fitted.values():
        untrusted = sio.get_untrusted_types(data=sio.dumps(est))
        assert untrusted == [f"{type(est).__module__}.{type(est).__name__}"]
        assert not any("._" in name or name.startswith("numpy.") for name in untrusted)


_LOAD = """
import sys, numpy as np, pandas as pd, skops.io as sio
out = sys.argv[1]
for name in sys.argv[2:]:
    path = f"{out}/{name}.skops"
    est = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    X = pd.DataFrame(np.load(out + "/X.npy"), columns=["a", "b", "c"])
    X = X if hasattr(est, "feature_names_in_") else X.to_numpy()
    np.save(f"{out}/{name}-pred.npy", est.predict(X), allow_pickle=True)
    if hasattr(est, "predict_proba"):
        proba = est.predict_proba(X)
        for j, p in enumerate(proba if isinstance(proba, list) else [proba]):
            np.save(f"{out}/{name}-proba{j}.npy", p)
"""


def test_skops_round_trip_in_a_fresh_process_predicts_the_same(fitted, tmp_path):
    names = ["binary-frame", "regressor"]
    for name in names:
        sio.dump(fitted[name], tmp_path / f"{name}.skops")
    np.save(tmp_path / "X.npy", X)
    subprocess.run(
        [sys.executable, "-c", _LOAD, str(tmp_path), *names], check=True, timeout=180, cwd=ROOT
    )
    for name in names:
        expected = _outputs(fitted[name], FRAME if name == "binary-frame" else X)
        got = np.load(tmp_path / f"{name}-pred.npy", allow_pickle=True)
        np.testing.assert_array_equal(got, expected[0])
        assert got.dtype == expected[0].dtype
        for j, p in enumerate(expected[1:]):
            np.testing.assert_array_equal(np.load(tmp_path / f"{name}-proba{j}.npy"), p)


def test_skops_round_trip_in_process_for_every_head(fitted):
    for name, est in fitted.items():
        data = sio.dumps(est)
        loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
        Xp = FRAME if name == "binary-frame" else X
        for a, b in zip(_outputs(loaded, Xp), _outputs(est, Xp)):
            np.testing.assert_array_equal(a, b)


# -- the format tag and damaged files ----------------------------------------------------
def _state_of(est):
    return copy.deepcopy(est.__getstate__())


class _Saved:
    """Pickles as the estimator would, with a state dict we choose."""

    def __init__(self, cls, state):
        self.cls, self.state = cls, state

    def __reduce__(self):
        return object.__new__, (self.cls,), self.state


def _load(est, state):
    return pickle.loads(pickle.dumps(_Saved(type(est), state)))


@pytest.mark.parametrize("tag", [True, 2.0, "2", np.int64(2), None, 1], ids=repr)
def test_format_tag_is_checked_strictly(fitted, tag):
    est = fitted["regressor"]
    state = _state_of(est)
    np.testing.assert_array_equal(_load(est, state).predict(X), est.predict(X))
    state["_skout_format"] = tag
    with pytest.raises(ValueError, match="storage format"):
        _load(est, state)


def _weights_wrong_shape(s):
    s["weights"][0] = s["weights"][0][:, :2]


def _weights_nan(s):
    s["weights"][1] = np.full_like(s["weights"][1], np.nan)


def _classes_wrong_count(s):
    s["encoder"]["classes"] = np.array(["maybe", "no", "yes"], dtype=object)


TAMPERINGS = {
    "weights-wrong-shape": (_weights_wrong_shape, "shapes"),
    "weights-nan": (_weights_nan, "NaN"),
    "weights-missing": (lambda s: s.pop("weights"), r"misses \['weights'\]"),
    "weights-a-string": (lambda s: s.update(weights="0.5"), "list of arrays"),
    "unknown-key": (lambda s: s.update(evil=1), r"has \['evil'\]"),
    "head-unknown-type": (lambda s: s["head"].update(target_type="x"), "target type"),
    "head-units-mismatch": (
        lambda s: s["head"]["outputs"][0].update(units=7),
        "cannot be the head",
    ),
    "spec-units-mismatch": (lambda s: s["spec"]["outputs"][0].update(units=2), "do not match"),
    "classes-wrong-count": (_classes_wrong_count, "3 classes"),
    "dtype-object": (lambda s: s["encoder"].update(dtype=np.dtype("O")), "not a str"),
    "n_features-mismatch": (lambda s: s.update(n_features_in=4), "n_features_in is 4"),
    "n_iter-bool": (lambda s: s.update(n_iter=True), "not an int"),
    "curve-strings": (lambda s: s.update(loss_curve=["a"]), "not a number"),
    "state-a-list": (None, "not a dict"),
}


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_a_tampered_pickle_fails_at_load_with_a_clear_message(fitted, how):
    est = fitted["binary-frame"]
    state = _state_of(est)
    change, match = TAMPERINGS[how]
    if change is None:
        state["_fitted_state"] = list(state["_fitted_state"])
    else:
        change(state["_fitted_state"])
    with pytest.raises(ValueError, match=match) as info:
        _load(est, state)
    assert "Cannot load this skout model" in str(info.value)


def test_pickled_state_is_plain_data(fitted):
    """No private classes and no numpy.dtype objects go into the file."""
    allowed = (dict, list, tuple, str, int, float, bool, type(None), np.ndarray)

    def walk(value, path):
        assert isinstance(value, allowed), f"{path}: {type(value).__name__}"
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
        elif isinstance(value, np.ndarray):
            assert value.dtype.kind in "fiubUO", f"{path}: {value.dtype}"

    for est in fitted.values():
        walk(est.__getstate__()["_fitted_state"], "state")


def test_model_built_then_pickled_keeps_users_weight_edits(fitted):
    est = copy.deepcopy(fitted["regressor"])
    model = est.model_
    layer = model.get_layer("output_0")
    layer.bias.assign(layer.bias.numpy() + 1.0)
    moved = est.predict(X)
    assert not np.allclose(moved, fitted["regressor"].predict(X))
    np.testing.assert_allclose(pickle.loads(pickle.dumps(est)).predict(X), moved, rtol=1e-6)
