"""The machinery behind :mod:`skout.onnx` (imported only by it).

- :mod:`._fitted` reads a fitted estimator: the one place that knows skout's
  fitted state.
- :mod:`._graph` writes ONNX nodes: dense layers, the head's output function
  (:data:`~._graph.OUTPUT_FUNCTIONS`) and the decodings
  (:data:`~._graph.DECODERS`), one small table each.
- :mod:`._body` splices a user's Keras body, exported by Keras itself.
- :mod:`._convert` is what skl2onnx calls: parser, shape calculators,
  converters.
"""
