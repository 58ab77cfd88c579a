"""
==================================
Serving a pipeline through ONNX
==================================

A fitted pipeline that ends in a skout estimator exports to one ONNX graph:
the scaler, the network, the head's output function and the decoding back
to the user's labels. onnxruntime (or any ONNX runtime: C#, Java, C++, the
browser) then predicts without Python, skout or Keras. This example exports
a wine classifier with text labels and a two-target regressor, checks the
graphs against ``predict`` and ``predict_proba``, and times them.
"""

# %%
# A pipeline with text labels
# ---------------------------
# ``import skout.onnx`` registers skout's converters with skl2onnx; after it,
# :func:`skout.onnx.to_onnx` (or ``skl2onnx.to_onnx``) converts the whole
# pipeline. The first rows of ``X`` give the input's type: float32 here, the
# type most runtimes serve.
import time

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_wine
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skout.onnx
from skout import AutoHeadClassifier, AutoHeadRegressor

data = load_wine()
X = data.data.astype(np.float32)
y = np.array(["barolo", "grignolino", "barbera"])[data.target]

net = AutoHeadClassifier((16,), max_iter=60, learning_rate_init=0.01, random_state=0)
clf = make_pipeline(StandardScaler(), net)
clf.fit(X, y)

onx = skout.onnx.to_onnx(clf, X[:1], options={"zipmap": False})
with open("wine.onnx", "wb") as f:
    f.write(onx.SerializeToString())
print("nodes:", " ".join(node.op_type for node in onx.graph.node))

# %%
# Run it in onnxruntime
# ---------------------
# The graph has one input, ``X``, and two outputs: ``label`` (the wine's
# name, as ``predict`` gives it) and ``probabilities`` (``predict_proba``).
# Without ``zipmap=False`` the probabilities come as one ``{label:
# probability}`` dict per row, skl2onnx's default.
session = ort.InferenceSession("wine.onnx")
print([(o.name, o.type) for o in session.get_outputs()])
labels, proba = session.run(None, {"X": X})
print("labels identical to predict:", bool((labels == clf.predict(X)).all()))
print("largest probability difference:", float(np.abs(proba - clf.predict_proba(X)).max()))

# %%
# A regressor: the target's units come back in the graph
# ------------------------------------------------------
# ``AutoHeadRegressor`` trains on the standardised target; the graph undoes
# the standardisation, so its ``variable`` output (n, n_targets) is in the
# target's own units, as ``predict``.
rng = np.random.RandomState(0)
X_reg = rng.randn(300, 5).astype(np.float32)
Y = np.column_stack([1000 * X_reg[:, 0] + 50, 0.01 * X_reg[:, 1] ** 2])
reg = make_pipeline(StandardScaler(), AutoHeadRegressor((16,), max_iter=50, random_state=0))
reg.fit(X_reg, Y)
reg_session = ort.InferenceSession(skout.onnx.to_onnx(reg, X_reg[:1]).SerializeToString())
(values,) = reg_session.run(None, {"X": X_reg})
print("target scales:", Y.std(axis=0))
print("largest difference per target:", np.abs(values - reg.predict(X_reg)).max(axis=0))

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
axes[0].scatter(clf.predict_proba(X).ravel(), proba.ravel(), s=8)
axes[0].set(title="classifier", xlabel="predict_proba", ylabel="ONNX probabilities")
axes[1].scatter(reg.predict(X_reg)[:, 0], values[:, 0], s=8)
axes[1].set(title="regressor, first target", xlabel="predict", ylabel="ONNX variable")
fig.tight_layout()
plt.show()

# %%
# Latency of one row
# ------------------
# A served model often predicts one row at a time, where Python's overhead
# dominates. ``benchmarks/onnx_latency.py`` measures this properly; a rough
# look here (one thread for onnxruntime):
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(onx.SerializeToString(), options)
row = X[:1]


def median_seconds(function, repeat=200):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


onnx_s = median_seconds(lambda: session.run(None, {"X": row}))
numpy_s = median_seconds(lambda: clf.predict_proba(row))
print(f"one row: onnxruntime {onnx_s * 1e6:.0f} us, skout's predict_proba {numpy_s * 1e6:.0f} us")
