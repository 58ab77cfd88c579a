"""
=========================================
Binary classification with string labels
=========================================

A binary target does not have to be 0/1: ``AutoHeadClassifier`` takes the
labels as they come (strings here) and gives them back from ``predict``.
This example shows which head it picks for two classes, what the two
columns of ``predict_proba`` mean, and how the one-sigmoid and the
two-softmax heads compare.
"""

# %%
# Labels as they come
# -------------------
# The breast-cancer data codes its target as 0/1; we turn it into the words
# a clinician would use.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skout import AutoHeadClassifier

data = load_breast_cancer()
y = data.target_names[data.target]  # "malignant" / "benign"
X_train, X_test, y_train, y_test = train_test_split(
    data.data, y, test_size=0.3, stratify=y, random_state=0
)
print(np.unique(y_train, return_counts=True))

# %%
# Fit: one sigmoid unit, binary cross-entropy
# -------------------------------------------
# Two distinct labels make a *binary* target. By default skout gives it one
# sigmoid unit trained with binary cross-entropy: the unit outputs the
# probability of the second class in ``classes_`` (sorted order).
clf = make_pipeline(
    StandardScaler(),
    AutoHeadClassifier(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=60, random_state=0
    ),
)
clf.fit(X_train, y_train)
net = clf[-1]
print(net.head_)
print("classes_:", net.classes_)

# %%
# ``predict`` returns the labels, ``predict_proba`` one column per class
# ----------------------------------------------------------------------
# ``predict_proba`` always has shape ``(n_samples, 2)`` for a binary target,
# as scikit-learn expects, even though the network has a single output unit:
# column ``j`` is the probability of ``classes_[j]``, so column 1 is the
# sigmoid's output and column 0 is one minus it. ``predict`` picks the more
# probable column, i.e. it thresholds the sigmoid at 0.5.
proba = clf.predict_proba(X_test[:5])
print(clf.predict(X_test[:5]))
print(np.round(proba, 3))
print("rows sum to 1:", np.allclose(proba.sum(axis=1), 1.0))
print("test accuracy:", round(clf.score(X_test, y_test), 3))

# %%
# One node or two?
# ----------------
# ``binary_head="softmax"`` asks for two softmax units trained with sparse
# categorical cross-entropy instead. It is the same model written another
# way (a 2-unit softmax is a sigmoid of the difference of its two logits):
# the outputs, shapes and labels are the same kind of thing, and the
# accuracy is about the same.
clf2 = make_pipeline(
    StandardScaler(),
    AutoHeadClassifier(
        hidden_layer_sizes=(16,),
        learning_rate_init=0.01,
        max_iter=60,
        random_state=0,
        binary_head="softmax",
    ),
)
clf2.fit(X_train, y_train)
print(clf2[-1].head_)
print("test accuracy:", round(clf2.score(X_test, y_test), 3))

# %%
# The probability of "malignant" on the test set, per true class. The
# default threshold of 0.5 is where ``predict`` switches label; see
# :ref:`sphx_glr_auto_examples_plot_threshold_and_calibration.py` to move it.
p_malignant = clf.predict_proba(X_test)[:, list(net.classes_).index("malignant")]
fig, ax = plt.subplots(figsize=(6, 3.5))
for label in net.classes_:
    ax.hist(p_malignant[y_test == label], bins=20, range=(0, 1), alpha=0.6, label=label)
ax.axvline(0.5, color="black", linestyle=":", label="threshold 0.5")
ax.set_xlabel('predict_proba(X)[:, classes_ == "malignant"]')
ax.set_ylabel("test samples")
ax.legend(title="true class")
fig.tight_layout()
plt.show()
