"""
=====================================================
A network with two inputs: an image and a table
=====================================================

Each sample is a handwritten digit (an 8x8 image) and a row of a table
holding another number. The label says whether the two numbers add up to
ten or more: neither input alone can tell. A Keras body with two named
inputs -- a small CNN for the image beside a Dense branch for the table --
takes them, and skout adds the head the label needs.

scikit-learn knows one ``X``. Two ways give it several arrays that every
splitter, search and parallel backend can split and ship:
:class:`skout.Inputs`, a container of same-length arrays, and ``inputs=``,
which maps column groups of one DataFrame to the body's inputs.
"""

# %%
# The data: an image and a number per sample
# ------------------------------------------
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score

from skout import AutoHeadClassifier, Inputs, KerasBody

digits = load_digits()
images = (digits.images / 16.0).reshape(-1, 8, 8, 1).astype(np.float32)
rng = np.random.RandomState(0)
n = len(images)
table = pd.DataFrame({"number": rng.randint(0, 10, n), "noise": rng.normal(size=n)})
y = np.where(digits.target + table["number"] >= 10, "ten or more", "less")

# %%
# The body: one ``keras.Input`` per input, by name
# ------------------------------------------------
# The names are how the data finds its input. A build function receives the
# shapes as a dict ``{name: shape}``; wrapped in :class:`skout.KerasBody`,
# its own arguments are tunable as ``body__<name>``.


def image_and_table(input_shapes, filters=8):
    image = keras.Input((8, 8, 1), name="image")
    row = keras.Input((2,), name="table")
    h = keras.layers.Conv2D(filters, 3, activation="relu")(image)
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D()(h))
    t = keras.layers.Dense(8, activation="relu")(row)
    joined = keras.layers.Concatenate()([h, t])
    return keras.Model([image, row], keras.layers.Dense(32, activation="relu")(joined))


clf = AutoHeadClassifier(
    body=KerasBody(image_and_table), max_iter=40, learning_rate_init=0.005, random_state=0
)

# %%
# ``skout.Inputs``: named arrays as one ``X``
# -------------------------------------------
# It has a length and a shape, and indexing it with the rows of a fold
# indexes every array alike: ``cross_val_score`` splits it as an array.
X = Inputs(image=images, table=table)
print(X)
scores = cross_val_score(clf, X, y, cv=3)
print("cross-validated accuracy, both inputs:", scores.round(3))

# %%
# ``inputs=``: column groups of one DataFrame
# -------------------------------------------
# The same data as one flat table: 64 pixel columns and the two numbers.
# ``inputs`` names the columns of each input; the 64 pixel columns are
# reshaped to the 8x8x1 image the body declares.
pixels = [f"pixel{i}" for i in range(64)]
frame = pd.concat([pd.DataFrame(images.reshape(len(images), -1), columns=pixels), table], axis=1)
mapped = clf.set_params(inputs={"image": pixels, "table": ["number", "noise"]})
print("the same, from a DataFrame:", cross_val_score(mapped, frame, y, cv=3).round(3))

# %%
# Each input alone
# ----------------
# A body with one input of each kind shows what the other one adds.


def image_only(input_shape):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
        ]
    )


alone = {
    "image only": cross_val_score(
        AutoHeadClassifier(body=KerasBody(image_only), max_iter=40, learning_rate_init=0.005,
                           random_state=0),
        images, y, cv=3,
    ),
    "table only": cross_val_score(
        AutoHeadClassifier(hidden_layer_sizes=(32,), max_iter=200, random_state=0), table, y, cv=3
    ),
    "both": scores,
}  # fmt: skip
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(list(alone), [s.mean() for s in alone.values()], color=["grey", "grey", "tab:blue"])
ax.set(ylabel="cross-validated accuracy", ylim=(0.5, 1.0), title="Does the sum reach ten?")
plt.show()
