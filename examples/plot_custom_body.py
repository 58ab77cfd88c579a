"""
====================================================
An image classifier with your own convolutional body
====================================================

The people behind skout's seed questions train convolutional networks on
images and get the *last* layer wrong: ``Dense(3, activation="sigmoid")``
with ``categorical_crossentropy``, or ``Dense(1, "sigmoid")`` on classes that
exclude each other. With ``body=`` you write the network up to, but not
including, the output layer; skout reads the target and adds the head that
fits it, then trains and decodes for you.
"""

# %%
# The body: everything but the output layer
# -----------------------------------------
# A build function receives the shape of one sample and returns a Keras
# model. Wrapped in :class:`skout.KerasBody`, its own arguments become
# hyperparameters that scikit-learn can tune as ``body__<name>``.
import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from skout import AutoHeadClassifier, KerasBody


def small_cnn(input_shape, filters=8):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(filters, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
        ]
    )


# %%
# Images in, labels out
# ---------------------
# ``load_digits`` holds 8x8 grey images: reshaped to (n, height, width,
# channels) they are what a ``Conv2D`` layer reads. The labels are digit
# names here, to show that ``predict`` gives back the user's own labels.
X, y = load_digits(return_X_y=True)
X = (X / 16.0).reshape(-1, 8, 8, 1)
names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
labels = [names[i] for i in y]
X_train, X_test, y_train, y_test = train_test_split(X, labels, random_state=0)

clf = AutoHeadClassifier(
    body=KerasBody(small_cnn, filters=16), max_iter=30, learning_rate_init=0.005, random_state=0
)
clf.fit(X_train, y_train)
print(clf.head_)  # Dense(10, softmax) + sparse categorical cross-entropy
print("test accuracy:", round(clf.score(X_test, y_test), 3))
print("predictions:", clf.predict(X_test[:4]), "truth:", y_test[:4])

# %%
# The whole network, head included
# --------------------------------
# ``model_`` is the Keras model skout trained: your body, then the head.
clf.model_.summary()

# %%
# Tuning the body like any other hyperparameter
# ---------------------------------------------
# Every fit starts from fresh weights of your architecture, so a grid
# search never shares trained weights between candidates.
search = GridSearchCV(
    AutoHeadClassifier(body=KerasBody(small_cnn), max_iter=5, random_state=0),
    {"body__filters": [4, 8]},
    cv=2,
)
search.fit(X_train, y_train)
print("best:", search.best_params_)
