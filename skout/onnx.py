"""Export fitted skout estimators, and the pipelines that hold them, to ONNX.

Importing this module registers converters for :class:`~skout.AutoHeadClassifier`
and :class:`~skout.AutoHeadRegressor` with skl2onnx (through its public
``update_registered_converter``), so that ``skl2onnx.to_onnx`` converts any
``Pipeline``, ``ColumnTransformer`` or meta-estimator that skl2onnx handles
with a skout estimator inside. :func:`to_onnx` does the same.

The graph holds the whole estimator: the network, computed from its fitted
weights with standard ONNX nodes (``MatMul``, ``Add``, the activations), the
head's output function, and the decoding -- labels from ``classes_`` (text
included), one-hot rows or 0/1 matrices in the dtype of ``y``, the
regression target's standardisation undone. A dense network exports without
Keras or any deep-learning framework; a custom ``body=`` goes through
Keras's own ONNX export (``tf2onnx`` on the TensorFlow backend).

Outputs follow skl2onnx's conventions: ``label`` and ``probabilities`` for
classifiers (``output_label`` and ``output_probability``, a list of dicts,
with the default ``zipmap`` option; ``options={"zipmap": False}`` gives the
probability matrix, ``"nocl": True`` class indices instead of labels),
``variable`` (n, n_outputs) for regressors. See :ref:`onnx` in the user
guide.

Needs ``pip install "skout[onnx]"`` (skl2onnx and onnx); running the graph
needs a runtime such as onnxruntime.

Examples
--------
>>> import numpy as np
>>> import onnxruntime as ort
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from skout import AutoHeadClassifier
>>> import skout.onnx
>>> X = np.random.RandomState(0).randn(40, 3).astype(np.float32)
>>> y = np.where(X[:, 0] > 0, "yes", "no")
>>> model = make_pipeline(StandardScaler(), AutoHeadClassifier((4,), max_iter=5))
>>> model = model.fit(X, y)
>>> onx = skout.onnx.to_onnx(model, X[:1], options={"zipmap": False})
>>> session = ort.InferenceSession(onx.SerializeToString())
>>> labels, proba = session.run(None, {"X": X})
>>> bool((labels == model.predict(X)).all())
True
>>> bool(np.allclose(proba, model.predict_proba(X), atol=1e-5))
True
"""

from __future__ import annotations

try:
    import onnx  # noqa: F401  (checked here; the converters write its protos)
    import skl2onnx
except ImportError as exc:
    raise ImportError(
        "skout.onnx needs skl2onnx and onnx, which skout does not install by "
        f'default: pip install "skout[onnx]" (missing: {exc.name or exc}).'
    ) from exc

from ._onnx._convert import (
    CLASSIFIER_ALIAS,
    CLASSIFIER_OPTIONS,
    MIN_OPSET,
    REGRESSOR_ALIAS,
    classifier_shapes,
    convert_classifier,
    convert_regressor,
    parse_classifier,
    regressor_shapes,
)
from ._onnx._graph import ACTIVATIONS, DECODERS
from .classifier import AutoHeadClassifier
from .regressor import AutoHeadRegressor

__all__ = ["ACTIVATIONS", "DECODERS", "MIN_OPSET", "register", "to_onnx"]

# MIN_OPSET: the lowest main-domain ONNX opset the converters write (11); the
# highest is skl2onnx's own, skl2onnx.get_latest_tested_opset_version().


def register():
    """Register skout's converters with skl2onnx (done on import).

    Safe to call again, for example after another library registered its own
    converter for the same classes.
    """
    skl2onnx.update_registered_converter(
        AutoHeadClassifier,
        CLASSIFIER_ALIAS,
        classifier_shapes,
        convert_classifier,
        parser=parse_classifier,
        options=CLASSIFIER_OPTIONS,
    )
    skl2onnx.update_registered_converter(
        AutoHeadRegressor, REGRESSOR_ALIAS, regressor_shapes, convert_regressor
    )


def to_onnx(model, X=None, **kwargs):
    """Convert a fitted skout estimator, or a pipeline holding one, to ONNX.

    ``skl2onnx.to_onnx`` with skout's converters registered.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~skout.AutoHeadClassifier`,
        :class:`~skout.AutoHeadRegressor`, or a scikit-learn pipeline or
        meta-estimator that skl2onnx converts, with one inside.
    X : array-like or DataFrame, default=None
        A few rows of the input, for its types and shape (``X[:1]``); float32
        inputs give a float graph, float64 inputs a double one. Or give
        ``initial_types`` as skl2onnx does.
    **kwargs
        Passed to ``skl2onnx.to_onnx``: ``options`` (``{"zipmap": False}``,
        ``{"nocl": True}``, keyed by estimator, class or ``id``),
        ``target_opset`` (:data:`MIN_OPSET` or higher), ``initial_types``, ...

    Returns
    -------
    onnx.ModelProto
        The model; ``onx.SerializeToString()`` gives the bytes to save.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If a skout estimator in ``model`` is not fitted.
    """
    register()
    return skl2onnx.to_onnx(model, X, **kwargs)


register()
