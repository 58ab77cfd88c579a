"""
==========================================
The head doctor on three users' questions
==========================================

``skout.doctor.diagnose_head`` reads the output layer and loss of a Keras
model you built yourself and compares them with what the target needs
(skout's head table). Nothing is trained. Here it examines the models from
three questions users asked about their output layers.
"""

# %%
# Small stand-ins for the users' networks: the doctor only reads the output
# layer and the loss, so a tiny body is enough.
import textwrap

import keras
import numpy as np

from skout import choose_head
from skout.doctor import check_head, diagnose_head

keras.utils.set_random_seed(0)  # the same initial weights on every run


def network(output_layer, n_features=16):
    return keras.Sequential(
        [keras.Input((n_features,)), keras.layers.Dense(8, activation="relu"), output_layer]
    )


def show(findings):
    """Print each finding: severity, code and message, then the fix."""
    for f in findings:
        print(textwrap.fill(f"{f.severity} [{f.code}]: {f.message}", 88, break_on_hyphens=False))
        if f.fix:
            print(textwrap.fill(f"fix: {f.fix}", 88, initial_indent="  ",
                                subsequent_indent="       ", break_on_hyphens=False))  # fmt: skip
        print()


# %%
# "One node or two?" -- a binary target
# -------------------------------------
# The first user trains a binary image classifier and tried two heads: one
# sigmoid unit with binary cross-entropy, and two softmax units with
# binary cross-entropy. The target is one label per image.
y_binary = np.array([0, 1, 1, 0, 1, 0, 0, 1])

one_sigmoid = network(keras.layers.Dense(1, activation="sigmoid"))
one_sigmoid.compile(optimizer="adamax", loss="binary_crossentropy")
show(diagnose_head(one_sigmoid, y_binary))

# %%
# The first head is right: its output is the probability of class 1, to be
# thresholded at 0.5. Outputs that all sit near 0.377 come from a network
# that has not learned to separate the classes (a training problem, not a
# head problem), and moving the threshold to their mean hides it. The second head is wrong, and the
# doctor says what to use instead:
two_softmax = network(keras.layers.Dense(2, activation="softmax"))
two_softmax.compile(optimizer="adamax", loss="binary_crossentropy")
show(diagnose_head(two_softmax, y_binary))

# %%
# "Three sigmoids and categorical cross-entropy"
# ----------------------------------------------
# The second user classifies images into three kinds, one-hot encoded, with
# ``Dense(3, activation="sigmoid")`` and ``categorical_crossentropy``. Every
# prediction came out as rows like ``[1, 1, 1]``.
y_onehot = np.eye(3)[[0, 1, 2, 1, 0, 2]]
three_sigmoids = network(keras.layers.Dense(3, activation="sigmoid"))
three_sigmoids.compile(optimizer="adam", loss="categorical_crossentropy")
show(diagnose_head(three_sigmoids, y_onehot))

# %%
# ``check_head`` is the strict form: it raises a ``HeadMismatchError`` (a
# ``ValueError``) listing every error, which suits a test or a training
# script that should stop before wasting hours.
try:
    check_head(three_sigmoids, y_onehot)
except ValueError as exc:
    print(type(exc).__name__, "-", str(exc).splitlines()[0])
    print("errors:", [f.code for f in exc.findings if f.severity == "error"])

# %%
# "201 probabilities instead of a label"
# --------------------------------------
# The third user has 201 one-hot classes, ``Dense(201, activation="softmax")``
# and ``categorical_crossentropy``, barely trained, and got rows of values
# all close to 0.005 instead of a label. The head is right; the doctor
# explains what it returns.
y_201 = np.eye(201)[np.arange(402) % 201]
softmax_201 = network(keras.layers.Dense(201, activation="softmax"))
softmax_201.compile(optimizer="adam", loss="categorical_crossentropy")
show(diagnose_head(softmax_201, y_201))

# %%
# An untrained softmax over K classes has no reason to prefer any class, so
# every probability is close to 1/K = 1/201 ≈ 0.005, and each row sums to 1.
# The label is the argmax, which ``AutoHeadClassifier.predict`` computes
# for you.
proba = np.asarray(softmax_201(np.random.RandomState(0).randn(3, 16).astype("float32")))
print("shape:", proba.shape)
print("values between", proba.min().round(4), "and", proba.max().round(4))
print("row sums:", proba.sum(axis=1).round(4))
print("labels:", proba.argmax(axis=1))

# %%
# The head table, asked directly
# ------------------------------
# Each fix comes from the same table that ``AutoHeadClassifier`` uses to
# build its own head. ``choose_head`` gives the Keras lines for a target:
for y in (y_binary, y_onehot):
    print(choose_head(y).keras_code(), end="\n\n")
