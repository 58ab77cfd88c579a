"""A custom body: exported by Keras itself, then spliced into skl2onnx's graph.

skout writes the dense body, the heads and the decoding from the weights; a
body the user wrote in Keras goes through Keras's own ONNX export
(``model.export(path, format="onnx")``), which needs a converter package of
the Keras backend (:data:`EXPORT_PACKAGES`). Its graph is renamed with a
unique prefix (``onnx.compose.add_prefix``), brought to the opset of the
model being written, and its nodes added to skl2onnx's container, between
the input and skout's heads.
"""

from __future__ import annotations

import os
import tempfile
import warnings

import onnx
from onnx import compose, helper, numpy_helper, version_converter

#: Keras backend -> the package Keras's ONNX export needs on it.
EXPORT_PACKAGES = {"tensorflow": "tf2onnx", "jax": "jax2onnx", "torch": "onnxscript"}

#: The highest opset tf2onnx writes (1.17); higher targets are converted up.
TF2ONNX_MAX_OPSET = 18


def splice_body(g, body, x):
    """Add the Keras ``body`` between ``x`` (float32) and the heads.

    Parameters
    ----------
    g : GraphWriter
        Writes into skl2onnx's container; ``g.container.target_opset`` is
        the opset the whole model targets.
    body : callable
        ``body() -> keras.Model`` from samples to the features the heads read.
    x : str
        The graph's float32 input.

    Returns
    -------
    features : str
        The name of the body's output.
    """
    opset = g.container.target_opset
    model = _export(body(), opset)
    model = compose.add_prefix(model, g.name("keras_body") + "/")
    graph = model.graph
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        shape = list(array.shape)
        g.container.add_initializer(tensor.name, tensor.data_type, shape, array.ravel())
    constants = {t.name for t in graph.initializer}
    (entry,) = [i.name for i in graph.input if i.name not in constants]
    g.identity(x, output=entry)
    for node in graph.node:
        g.container.add_node(
            node.op_type, list(node.input), list(node.output), op_domain=node.domain,
            name=node.name or g.scope.get_unique_operator_name(node.op_type),
            **_attributes(node),
        )  # fmt: skip
    return graph.output[0].name


def _attributes(node):
    """A node's attributes as Python values, for ``container.add_node``.

    An empty list cannot be typed back into an attribute; ONNX reads an
    absent list attribute as an empty one, so it is left out.
    """
    values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return {k: v for k, v in values.items() if not (isinstance(v, list) and not v)}


def _backend():
    import keras

    return keras.backend.backend()


def _export(model, opset):
    """Keras's ONNX export of ``model``, at ``opset`` (converted up if need be)."""
    backend = _backend()
    package = EXPORT_PACKAGES.get(backend, "a Keras ONNX exporter")
    written = min(opset, TF2ONNX_MAX_OPSET) if backend == "tensorflow" else opset
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "body.onnx")
        try:
            with warnings.catch_warnings():
                # Keras's own patch of tf2onnx for NumPy 2 probes np.object.
                warnings.filterwarnings("ignore", "In the future `np.object`", FutureWarning)
                model.export(path, format="onnx", verbose=False, opset_version=written)
        except ImportError as exc:
            raise ImportError(
                f"Exporting a custom body on Keras's {backend!r} backend goes through "
                f"Keras's own ONNX export, which needs {package}: pip install {package} "
                f"({exc})."
            ) from exc
        except Exception as exc:
            raise RuntimeError(
                f"Keras could not export the body to ONNX on the {backend!r} backend "
                f"({package}): {type(exc).__name__}: {exc}. A layer of the body may have "
                "no ONNX conversion there; the dense body (body=None) always exports."
            ) from exc
        exported = onnx.load(path)
    return _to_opset(exported, opset)


def _to_opset(model, opset):
    current = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if current == opset:
        return model
    try:
        return version_converter.convert_version(model, opset)
    except Exception as exc:
        raise RuntimeError(
            f"The body's ONNX graph (opset {current}) could not be converted to opset "
            f"{opset}: {exc}. Pass target_opset={current} to the conversion."
        ) from exc
