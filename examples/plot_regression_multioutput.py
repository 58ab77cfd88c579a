"""
===================================================
Multi-output regression and target standardisation
===================================================

A 2-D numeric target gets one linear output unit per column, trained with
mean squared error. ``AutoHeadRegressor`` also standardises each target
column for training (``standardize_target=True``, the default) and undoes it
in ``predict``. This example shows why that matters when the columns are in
units of very different sizes.
"""

# %%
# Three targets in three units
# ----------------------------
# A synthetic problem with three targets; we put them on scales a few
# thousand apart, as real measurements often are (grams, kilograms, tonnes).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_regression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skout import AutoHeadRegressor, choose_head

X, Y = make_regression(
    n_samples=400, n_features=6, n_informative=4, n_targets=3, noise=5.0, random_state=0
)
Y = Y * np.array([1000.0, 1.0, 0.01]) + np.array([5000.0, 0.0, -3.0])
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)
print("target standard deviations:", np.round(Y_train.std(axis=0), 2))
print(choose_head(Y_train, estimator="regressor"))

# %%
# With and without standardising the target
# -----------------------------------------
# Same network, same epochs. Without standardisation the loss is a sum of
# squared errors in very different units: the first column's errors (in the
# tens of thousands) dwarf the others and drive the shared hidden layer,
# while the output units, which start near zero, cannot reach that scale in
# 80 epochs. Every column ends up worse. With it, each column trains as a
# mean-0, variance-1 target and the three weigh the same in the loss.
params = dict(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=80, random_state=0)
models = {}
for standardize in (True, False):
    reg = make_pipeline(
        StandardScaler(), AutoHeadRegressor(**params, standardize_target=standardize)
    )
    models[standardize] = reg.fit(X_train, Y_train)
    r2 = r2_score(Y_test, reg.predict(X_test), multioutput="raw_values")
    print(f"standardize_target={standardize!s:5}  R² per output: {np.round(r2, 3)}")

# %%
# ``predict`` returns an ``(n_samples, 3)`` array in the original units,
# and ``score`` is scikit-learn's R² averaged over the outputs.
with np.printoptions(suppress=True, precision=2):
    print(models[True].predict(X_test[:2]))
print("R²:", round(models[True].score(X_test, Y_test), 3))

# %%
# Predicted against true, one panel per output:
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
for j, ax in enumerate(axes):
    for standardize, marker in ((True, "o"), (False, "x")):
        pred = models[standardize].predict(X_test)[:, j]
        ax.scatter(Y_test[:, j], pred, s=10, marker=marker,
                   label=f"standardize_target={standardize}")  # fmt: skip
    lo, hi = Y_test[:, j].min(), Y_test[:, j].max()
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1)
    ax.set_title(f"output {j}")
    ax.set_xlabel("true")
axes[0].set_ylabel("predicted")
axes[0].legend(fontsize="small")
fig.tight_layout()
plt.show()
