"""
=====================================================
One-hot and multilabel targets: same X, two heads
=====================================================

Two 2-D targets of zeros and ones can need different output layers. A
*one-hot* target has exactly one 1 per row: the classes exclude each other,
so the head is a softmax. A *multilabel* target can have any number of 1s:
each column is its own yes/no question, so the head is one sigmoid per
column. Here the same images of digits get both kinds of target.
"""

# %%
# One X, two targets
# ------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skout import AutoHeadClassifier, choose_head

X, digit = load_digits(return_X_y=True)
X = X / 16.0  # pixel intensities in [0, 1]

# Target 1: which digit, one-hot encoded (10 columns, exactly one 1 per row).
Y_onehot = np.eye(10, dtype=int)[digit]

# Target 2: three properties of the digit (any number of 1s per row).
properties = ["even", "greater than 4", "prime"]
Y_multilabel = np.column_stack([digit % 2 == 0, digit > 4, np.isin(digit, [2, 3, 5, 7])]).astype(
    int
)

print("digit 7 as one-hot:   ", Y_onehot[digit == 7][0])
print("digit 7 as multilabel:", Y_multilabel[digit == 7][0], properties)

# %%
# The head table tells them apart before any training: ``choose_head``
# answers from the target alone.
print(choose_head(Y_onehot))
print(choose_head(Y_multilabel))

# %%
# Fit both
# --------
# A subset of the images keeps this example fast.
idx_train, idx_test = train_test_split(np.arange(len(X)), train_size=600, random_state=0)
params = dict(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=40, random_state=0)
onehot = AutoHeadClassifier(**params).fit(X[idx_train], Y_onehot[idx_train])
multilabel = AutoHeadClassifier(**params).fit(X[idx_train], Y_multilabel[idx_train])

# %%
# Softmax rows sum to one; sigmoid rows do not
# --------------------------------------------
# The one-hot network shares one unit of probability among ten exclusive
# classes; the multilabel network answers three independent questions, so
# its probabilities need not add up to anything in particular.
P_onehot = onehot.predict_proba(X[idx_test])
P_multilabel = multilabel.predict_proba(X[idx_test])
print("one-hot    row sums:", np.round(P_onehot[:4].sum(axis=1), 3))
print("multilabel row sums:", np.round(P_multilabel[:4].sum(axis=1), 3))

# %%
# ``predict`` answers in the format ``fit`` was given: one-hot rows (argmax,
# same dtype) for the first, a 0/1 matrix (each probability >= 0.5) for the
# second.
print(onehot.predict(X[idx_test[:3]]))
print(multilabel.predict(X[idx_test[:3]]))
print("one-hot accuracy:   ", round(onehot.score(X[idx_test], Y_onehot[idx_test]), 3))
print("multilabel accuracy:", round(multilabel.score(X[idx_test], Y_multilabel[idx_test]), 3))

# %%
# The multilabel score is scikit-learn's *subset accuracy*: a row counts as
# right only when all three properties are. One test image, seen by both
# networks:
i = idx_test[0]
fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(9, 2.8), width_ratios=[1, 2.2, 1.4])
ax0.imshow(X[i].reshape(8, 8), cmap="gray_r")
ax0.set_title(f"digit {digit[i]}")
ax0.axis("off")
ax1.bar(range(10), P_onehot[0])
ax1.set_xticks(range(10))
ax1.set_ylim(0, 1)
ax1.set_title("one-hot head: softmax (sums to 1)")
ax2.bar(properties, P_multilabel[0], color="C1")
ax2.set_ylim(0, 1)
ax2.axhline(0.5, color="black", linestyle=":")
ax2.set_title("multilabel head: sigmoids")
ax2.tick_params(axis="x", labelrotation=20)
fig.tight_layout()
plt.show()
