"""
==============================================
Categorical columns learned as embeddings
==============================================

A table of shop sales: two numeric columns, a ``weekday`` and a ``shop`` out
of 300. Before, a network needed a ``OneHotEncoder`` in front: 300 columns
for the shops, most of them zero, and a first layer 300 rows wide. Now the
frame goes to ``fit`` as it is: each ``category`` column gets its own
learned embedding (a small table, one row per category), as
:class:`~sklearn.ensemble.HistGradientBoostingClassifier` reads the same
columns with ``categorical_features="from_dtype"``.
"""

# %%
# A frame with a high-cardinality column
# --------------------------------------
# Each shop has a hidden "location" (two numbers) that decides, with the
# weekday and the price, whether a sale is big. The model never sees the
# locations: it has to learn them from the shop's name.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from skout import AutoHeadClassifier

rng = np.random.RandomState(0)
n, n_shops = 6000, 300
location = rng.normal(size=(n_shops, 2))
shop = rng.randint(0, n_shops, n)
weekday = rng.randint(0, 7, n)
price = rng.normal(size=n)
score = np.sin(2 * location[shop, 0]) + location[shop, 1] * price + 0.4 * (weekday >= 5)
y = np.where(score + 0.3 * rng.normal(size=n) > 0, "big", "small")
shops = [f"shop{i:03d}" for i in range(n_shops)]
days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
X = pd.DataFrame(
    {
        "price": price,
        "stock": rng.normal(size=n),
        "weekday": pd.Categorical(np.array(days)[weekday], categories=days),
        "shop": pd.Categorical(np.array(shops)[shop], categories=shops),
    }
)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

# %%
# Fit the frame as it is
# ----------------------
# ``categorical_features="from_dtype"`` (the default) takes the two
# ``category`` columns. Each gets a table of ``n_categories + 2`` rows (one
# for a shop never seen in ``fit``, one for a missing value) and
# ``min(50, ceil(1.6 * n_categories ** 0.56))`` columns: 4 for the
# weekdays, 39 for the shops (``embedding_dim`` sets other widths).
clf = AutoHeadClassifier(hidden_layer_sizes=(64,), early_stopping=True, random_state=0)
clf.fit(X_train, y_train)
print("categorical columns:", list(clf.feature_names_in_[clf.is_categorical_]))
print("held-out accuracy:", round(clf.score(X_test, y_test), 3))
print(clf)

# %%
# New shops and missing values do not fail
# ----------------------------------------
# A shop the model never saw reads its own row of the table: the average of
# the shops it was trained on (weighted by how often each was seen). So
# does a missing shop here, since the training data had none.
new = X_test.head(3).copy()
new["shop"] = pd.Categorical(["shop_opened_yesterday", None, "shop007"])
print(clf.predict_proba(new).round(3))

# %%
# What the shops' table learned
# -----------------------------
# The table is plain fitted data (it pickles, and ``predict`` reads it in
# NumPy). Its 39 columns, projected on their first two principal
# components, one point per shop, coloured by the hidden location the model
# was never shown: shops that act alike end up close.
state = clf._state()  # skout's fitted state, for this picture only
table = state.weights[-1][:n_shops]  # one table per categorical column, the shops' last
centred = table - table.mean(axis=0)
projected = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
fig, ax = plt.subplots(figsize=(5, 4))
points = ax.scatter(projected[:, 0], projected[:, 1], c=np.sin(2 * location[:, 0]), s=12)
ax.set(xlabel="component 1", ylabel="component 2", title="The shops' learned embedding")
fig.colorbar(points, label="sin(2 x hidden location)")
plt.show()

# %%
# The same columns, one-hot encoded
# ---------------------------------
# What a skout user wrote before: the same network behind a
# ``OneHotEncoder``. Its first layer reads 300 shop columns instead of a
# 39-wide table.
# ``benchmarks/categorical.py`` compares the two (and
# HistGradientBoosting) on a 1,000-level column and on penguins.
from sklearn.compose import ColumnTransformer, make_column_selector  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder  # noqa: E402

one_hot = make_pipeline(
    ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"),
          make_column_selector(dtype_include="category"))],
        remainder="passthrough",
    ),
    AutoHeadClassifier(hidden_layer_sizes=(64,), early_stopping=True, random_state=0),
)  # fmt: skip
one_hot.fit(X_train, y_train)
print("one-hot held-out accuracy:", round(one_hot.score(X_test, y_test), 3))
