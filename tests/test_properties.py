"""Property tests: decoding gives back what fit was given, for any label set.

Part (a) drives :class:`skout._encoding.TargetEncoder` directly with the head
:func:`skout.heads.choose_head` picks -- no training, so hypothesis can try
hundreds of label sets. Part (b) checks the same contracts on a handful of
real fitted estimators.

Examples per property (``settings(max_examples=...)``) are in ``EXAMPLES``.
"""

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scipy.special import expit, softmax

from skout import AutoHeadClassifier, AutoHeadRegressor
from skout._encoding import TargetEncoder
from skout.heads import choose_head

#: Number of examples each property runs (reported with the test results).
EXAMPLES = {
    "perfect_outputs_decode_to_y": 200,
    "any_outputs_decode_to_argmax_of_proba": 120,
    "regression_round_trip": 150,
    "fitted_classifier": 7,
    "fitted_regressor": 5,
}
FAST = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- label sets ------------------------------------------------------------
# Each "dtype" turns class numbers 0..K-1 into labels of that kind; the
# mapping is increasing, so sorted labels keep the order of the numbers.
LABEL_DTYPES = ("int64", "int32", "uint8", "str", "object-str", "float-int", "bool")


def _labels(codes, dtype, offset):
    codes = np.asarray(codes)
    if dtype == "bool":
        return codes.astype(bool)
    if dtype == "str":
        return np.array([f"c{offset + c:03d}" for c in codes.ravel()]).reshape(codes.shape)
    if dtype == "object-str":
        return np.array([f"lab{offset + c}" for c in codes.ravel()], dtype=object).reshape(
            codes.shape
        )
    if dtype == "float-int":
        return (codes * 2 + offset - 3).astype(np.float64)  # -3.0, -1.0, 1.0, ...
    return (codes * 3 + offset).astype(dtype)


@st.composite
def _codes(draw, n, k):
    """n class numbers in 0..k-1, every class present at least once."""
    rest = draw(st.lists(st.integers(0, k - 1), min_size=n - k, max_size=n - k))
    perm = draw(st.permutations(list(range(k)) + rest))
    return np.array(perm, dtype=np.int64)


@st.composite
def label_targets(draw):
    """(y, binary_head, intended kind) over every kind skout classifies."""
    kind = draw(
        st.sampled_from(["binary", "multiclass", "column", "one-hot", "multilabel", "multioutput"])
    )
    binary_head = draw(st.sampled_from(["sigmoid", "softmax"]))
    n = draw(st.integers(6, 30))
    if kind in ("binary", "multiclass", "column"):
        k = 2 if kind == "binary" else draw(st.integers(2 if kind == "column" else 3, 6))
        dtypes = LABEL_DTYPES if k == 2 else LABEL_DTYPES[:-1]
        dtype = draw(st.sampled_from(dtypes))
        y = _labels(draw(_codes(n, k)), dtype, draw(st.integers(0, 50)))
        event(f"{kind} {dtype}")
        return (y.reshape(-1, 1) if kind == "column" else y), binary_head, kind
    if kind == "one-hot":
        k = draw(st.integers(2, 5))
        dtype = draw(st.sampled_from(["int64", "bool", "float64", "uint8"]))
        y = np.eye(k, dtype=dtype)[draw(_codes(n, k))]
        event(f"one-hot {dtype}")
        return y, binary_head, "one-hot"
    if kind == "multilabel":
        k = draw(st.integers(2, 5))
        dtype = draw(st.sampled_from(["int64", "bool", "float64"]))
        bits = draw(
            st.lists(st.lists(st.booleans(), min_size=k, max_size=k), min_size=n, max_size=n)
        )
        y = np.array(bits)
        y[0, :] = True  # one row with several labels: not a one-hot target
        y[1, :] = False  # and every column with both values
        event(f"multilabel {dtype}")
        return y.astype(dtype), binary_head, "multilabel"
    n_cols = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(["int64", "str", "object-str", "float-int"]))
    columns = []
    for j in range(n_cols):
        k = draw(st.integers(2, 4))
        columns.append(_labels(draw(_codes(n, k)), dtype, 10 * j))
    y = np.column_stack(columns)
    event(f"multioutput {n_cols} col(s) {dtype}")
    return y, binary_head, "multioutput"


# -- network outputs ---------------------------------------------------------
def _indices(column):
    """Position of each label among the sorted distinct labels."""
    return np.unique(column, return_inverse=True)[1].ravel()


def _target_blocks(y, head):
    """What a perfect network should say: (one-hot or 0/1 matrix) per output."""
    kind = head.target_type
    if kind in ("one-hot", "multilabel-indicator"):
        return [np.asarray(y).astype(np.float64)]
    columns = [y.reshape(len(y), -1)[:, 0]] if kind != "multiclass-multioutput" else y.T
    return [np.eye(len(np.unique(c)))[_indices(c)] for c in columns]


def _activate(truth, out, margin, noise):
    """Network outputs for logits that favour ``truth`` by ``margin``."""
    if out.activation == "sigmoid" and out.units == 1:
        return expit(margin * (2 * truth[:, 1:] - 1) + noise[:, :1])
    if out.activation == "sigmoid":
        return expit(margin * (2 * truth - 1) + noise[:, : truth.shape[1]])
    return softmax(margin * truth + noise[:, : truth.shape[1]], axis=1)


def _outputs(y, head, margin, noise):
    blocks = _target_blocks(y, head)
    return [_activate(b, out, margin, noise) for b, out in zip(blocks, head.outputs, strict=True)]


def _n_classes(y, head):
    """Number of classes of each output, from the training target."""
    kind = head.target_type
    if kind in ("one-hot", "multilabel-indicator"):
        return [y.shape[1]]
    columns = [y.reshape(len(y), -1)[:, 0]] if kind != "multiclass-multioutput" else y.T
    return [len(np.unique(c)) for c in columns]


def _check_decoding(proba, pred, classes, head, y, n):
    """predict_proba and predict for ``n`` rows of a model fitted on ``y``.

    Probabilities: finite, in [0, 1], scikit-learn's shapes (head table),
    rows summing to 1 except for independent multilabel probabilities.
    Labels: the argmax of the probabilities (threshold 0.5 for multilabel),
    in the dtype and layout of ``y``.
    """
    kind = head.target_type
    per_output = proba if kind == "multiclass-multioutput" else [proba]
    assert isinstance(proba, list) == (kind == "multiclass-multioutput")
    assert [p.shape for p in per_output] == [(n, k) for k in _n_classes(y, head)]
    for p in per_output:
        assert np.all(np.isfinite(p))
        assert np.all((p >= 0) & (p <= 1))
        if kind != "multilabel-indicator":
            np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-9)
    assert pred.shape == (n, *y.shape[1:])
    assert pred.dtype == y.dtype
    if kind == "multilabel-indicator":
        np.testing.assert_array_equal(pred, (proba > 0.5).astype(y.dtype))
    elif kind == "one-hot":
        np.testing.assert_array_equal(pred, np.eye(y.shape[1], dtype=y.dtype)[proba.argmax(1)])
    elif kind == "multiclass-multioutput":
        for j, p in enumerate(proba):
            np.testing.assert_array_equal(pred[:, j], classes[j][p.argmax(axis=1)])
    else:
        np.testing.assert_array_equal(pred.reshape(-1), classes[proba.argmax(axis=1)])


def _decode(encoder, head, y, outputs):
    proba, pred = encoder.proba(outputs), encoder.predict(outputs)
    _check_decoding(proba, pred, encoder.classes_, head, y, len(y))
    return pred


# -- (a) the encoder ---------------------------------------------------------
@settings(max_examples=EXAMPLES["perfect_outputs_decode_to_y"], **FAST)
@given(
    target=label_targets(),
    margin=st.floats(0.5, 30.0),
    seed=st.integers(0, 2**16),
)
def test_perfect_outputs_decode_to_the_original_labels(target, margin, seed):
    y, binary_head, intended = target
    head = choose_head(y, binary_head=binary_head)
    expected_kind = {
        "column": ("binary", "multiclass"),
        "multilabel": ("multilabel-indicator",),
        "multioutput": ("multiclass-multioutput", "binary", "multiclass", "multilabel-indicator"),
    }.get(intended, (intended,))
    assert head.target_type in expected_kind
    event(f"head {head.target_type}")
    encoder = TargetEncoder(head).fit(y)
    # Noise smaller than the margin: the right class always wins.
    noise = np.random.RandomState(seed).uniform(-0.2, 0.2, (len(y), 8)) * margin
    outputs = _outputs(y, head, margin, noise)
    pred = _decode(encoder, head, y, outputs)
    np.testing.assert_array_equal(pred, y)
    assert pred.dtype == y.dtype and pred.shape == y.shape
    # What fit trains on encodes the same classes the decoder reads back.
    Y = encoder.transform(y)
    assert Y.dtype == np.float32
    assert Y.shape == (len(y), sum(out.target_width for out in head.outputs))
    start = 0
    for block, out in zip(_target_blocks(y, head), head.outputs, strict=True):
        part = Y[:, start : start + out.target_width]
        start += out.target_width
        if out.sparse_target:
            np.testing.assert_array_equal(part[:, 0], block.argmax(axis=1))
        elif out.activation == "sigmoid" and out.units == 1:
            np.testing.assert_array_equal(part[:, 0], block[:, 1])
        else:
            np.testing.assert_array_equal(part, block)


@settings(max_examples=EXAMPLES["any_outputs_decode_to_argmax_of_proba"], **FAST)
@given(target=label_targets(), scale=st.floats(0.0, 50.0), seed=st.integers(0, 2**16))
def test_any_network_outputs_decode_to_the_argmax_of_proba(target, scale, seed):
    y, binary_head, _ = target
    head = choose_head(y, binary_head=binary_head)
    encoder = TargetEncoder(head).fit(y)
    rng = np.random.RandomState(seed)
    outputs = [
        _activate(np.zeros((len(y), max(out.units, 2))), out, 0.0, scale * rng.randn(len(y), 8))
        for out in head.outputs
    ]
    pred = _decode(encoder, head, y, outputs)
    if head.target_type in ("binary", "multiclass", "multiclass-multioutput"):
        # only labels seen in fit come out
        for j in range(pred.reshape(len(y), -1).shape[1]):
            column = pred.reshape(len(y), -1)[:, j]
            assert set(column.tolist()) <= set(y.reshape(len(y), -1)[:, j].tolist())


@st.composite
def regression_targets(draw):
    n = draw(st.integers(2, 30))
    layout = draw(st.sampled_from(["1-D", "column", "2-D"]))
    n_cols = 1 if layout != "2-D" else draw(st.integers(2, 4))
    magnitude = draw(st.sampled_from([1e-3, 1.0, 1e3, 1e6]))
    values = draw(st.lists(st.integers(-(10**6), 10**6), min_size=n * n_cols, max_size=n * n_cols))
    y = np.array(values).reshape(n, n_cols) / 1e6 * magnitude + draw(st.floats(-1e3, 1e3))
    constant = draw(st.lists(st.booleans(), min_size=n_cols, max_size=n_cols))
    for j, is_constant in enumerate(constant):
        if is_constant:
            y[:, j] = y[0, j]
            event("has a constant column")
    if draw(st.booleans()):
        y = np.round(y).astype(np.int64)
        event("integer target")
    event(f"regression {layout}")
    return y.ravel() if layout == "1-D" else y


@settings(max_examples=EXAMPLES["regression_round_trip"], **FAST)
@given(y=regression_targets(), standardize=st.booleans())
def test_regression_encoding_round_trips(y, standardize):
    head = choose_head(y, estimator="regressor")
    assert head.target_type == (
        "continuous-multioutput" if y.ndim == 2 and y.shape[1] > 1 else "continuous"
    )
    encoder = TargetEncoder(head).fit(y, standardize=standardize)
    Y = encoder.transform(y)
    assert Y.dtype == np.float32 and Y.shape == (len(y), 1 if y.ndim == 1 else y.shape[1])
    assert np.all(np.isfinite(Y))
    if standardize:
        # The network trains on O(1) values whatever the scale of y: a
        # standardised column lies within sqrt(n) of 0 (Samuelson's bound).
        assert np.all(np.abs(Y) <= np.sqrt(len(y)) * (1 + 1e-4))
    pred = encoder.predict([Y])
    assert pred.shape == y.shape
    assert pred.dtype == np.float64
    scale = max(1.0, float(np.abs(y).max()))
    np.testing.assert_allclose(pred, y, rtol=1e-6, atol=1e-6 * scale)


# -- (b) real fitted estimators ----------------------------------------------
_RNG = np.random.RandomState(0)
X_FIT = _RNG.randn(40, 3)


@st.composite
def fit_targets(draw):
    """A label target of any kind, learnable-ish from X_FIT."""
    kind = draw(st.sampled_from(["binary", "multiclass", "one-hot", "multilabel", "multioutput"]))
    signs = X_FIT > 0
    three = np.digitize(X_FIT[:, 1], [-0.4, 0.4])
    if kind == "binary":
        y = _labels(signs[:, 0].astype(int), draw(st.sampled_from(LABEL_DTYPES)), 1)
    elif kind == "multiclass":
        y = _labels(three, draw(st.sampled_from(LABEL_DTYPES[:-1])), 1)
    elif kind == "one-hot":
        y = np.eye(3, dtype=np.int64)[three]
    elif kind == "multilabel":
        y = signs.astype(np.int64)
    else:
        y = np.column_stack([_labels(signs[:, 0].astype(int), "str", 0), _labels(three, "str", 5)])
    if kind in ("binary", "multiclass") and draw(st.booleans()):
        y = y.reshape(-1, 1)
    event(f"fitted {kind}")
    return y


@settings(max_examples=EXAMPLES["fitted_classifier"], **FAST)
@given(
    y=fit_targets(), binary_head=st.sampled_from(["sigmoid", "softmax"]), seed=st.integers(0, 9)
)
def test_fitted_classifier_predict_is_argmax_of_predict_proba(y, binary_head, seed):
    clf = AutoHeadClassifier(
        hidden_layer_sizes=(4,), max_iter=5, binary_head=binary_head, random_state=seed
    ).fit(X_FIT, y)
    assert clf.head_ == choose_head(y, binary_head=binary_head)
    X_new = np.random.RandomState(seed).randn(25, 3) * 3
    proba, pred = clf.predict_proba(X_new), clf.predict(X_new)
    _check_decoding(proba, pred, clf.classes_, clf.head_, y, len(X_new))
    if clf.target_type_ in ("binary", "multiclass"):
        np.testing.assert_array_equal(clf.classes_, np.unique(y))


@settings(max_examples=EXAMPLES["fitted_regressor"], **FAST)
@given(
    n_outputs=st.sampled_from([0, 1, 3]),  # 0: a 1-D target
    standardize=st.booleans(),
    scale=st.sampled_from([1e-2, 1.0, 1e4]),
)
def test_fitted_regressor_predicts_finite_values_in_the_shape_of_y(n_outputs, standardize, scale):
    coef = np.arange(1.0, 3 * max(n_outputs, 1) + 1).reshape(3, -1)
    y = (X_FIT @ coef) * scale
    y = y[:, 0] if n_outputs == 0 else y
    reg = AutoHeadRegressor(
        hidden_layer_sizes=(4,), max_iter=5, standardize_target=standardize, random_state=0
    ).fit(X_FIT, y)
    pred = reg.predict(X_FIT[:7])
    assert pred.shape == (7, *y.shape[1:])
    assert pred.dtype == np.float64
    assert np.all(np.isfinite(pred))
    assert reg.n_outputs_ == (1 if y.ndim == 1 else y.shape[1])
