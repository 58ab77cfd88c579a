"""
=====================================
Decision thresholds and calibration
=====================================

A binary ``AutoHeadClassifier`` predicts the second class when its sigmoid
output is above 0.5. Two scikit-learn meta-estimators work on top of that:
``TunedThresholdClassifierCV`` moves the threshold to where a metric you
care about is best, and ``CalibratedClassifierCV`` maps the probabilities to
better-calibrated ones. Both need ``predict_proba`` with scikit-learn's
``(n_samples, 2)`` shape, which skout provides.
"""

# %%
# An imbalanced problem
# ---------------------
# One sample in ten is "fraud". The labels sort as ``["fraud", "ok"]``, so
# column 0 of ``predict_proba`` is the probability of fraud, and ``predict``
# says "fraud" only when that probability is above 0.5.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import CalibratedClassifierCV, CalibrationDisplay
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import TunedThresholdClassifierCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skout import AutoHeadClassifier

X, y = make_classification(
    n_samples=1200, n_features=10, n_informative=4, weights=[0.9], flip_y=0.02,
    class_sep=0.8, random_state=0,
)  # fmt: skip
y = np.where(y == 1, "fraud", "ok")
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

net = make_pipeline(
    StandardScaler(),
    AutoHeadClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=40,
                       random_state=0),
)  # fmt: skip
net.fit(X_train, y_train)
print("classes_:", net.classes_, "-> predict_proba[:, 0] is P(fraud)")
print("balanced accuracy at 0.5:", round(balanced_accuracy_score(y_test, net.predict(X_test)), 3))

# %%
# Tuning the threshold
# --------------------
# ``TunedThresholdClassifierCV`` refits the network on cross-validation
# folds, tries thresholds and keeps the one with the best balanced accuracy.
# The threshold applies to the probability of the *positive* class, which is
# ``classes_[1]`` ("ok") unless the scorer names another ``pos_label``
# (``make_scorer(f1_score, pos_label="fraud")``, for instance).
tuned = TunedThresholdClassifierCV(net, scoring="balanced_accuracy", cv=3, random_state=0)
tuned.fit(X_train, y_train)
t = tuned.best_threshold_
print(f"threshold on P(ok): {t:.3f}, i.e. 'fraud' when P(fraud) > {1 - t:.3f}")
print(
    "balanced accuracy, tuned:", round(balanced_accuracy_score(y_test, tuned.predict(X_test)), 3)
)

# %%
# Calibrating the probabilities
# -----------------------------
# ``CalibratedClassifierCV`` fits the network on folds and a calibrator
# (here isotonic regression) on the held-out predictions. The calibration
# curve compares the predicted probability of fraud with how often fraud
# actually happens among the samples that got it.
calibrated = CalibratedClassifierCV(net, method="isotonic", cv=3).fit(X_train, y_train)

fig, ax = plt.subplots(figsize=(5.5, 5))
for model, name in ((net, "AutoHeadClassifier"), (calibrated, "calibrated (isotonic)")):
    CalibrationDisplay.from_estimator(
        model, X_test, y_test, pos_label="fraud", n_bins=8, strategy="quantile",
        name=name, ax=ax,
    )  # fmt: skip
ax.set_title("Calibration on the test set")
plt.show()
