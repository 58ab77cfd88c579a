"""
=====================================================
A pandas DataFrame through a ColumnTransformer
=====================================================

Tables come with numbers and categories side by side, and targets come as
words. This example feeds a :class:`pandas.DataFrame` to a
:class:`~sklearn.pipeline.Pipeline` that scales the numeric columns,
one-hot encodes the categorical ones with a
:class:`~sklearn.compose.ColumnTransformer`, and ends in an
:class:`~skout.AutoHeadClassifier`; then it shows which feature names each
step sees, and what ``predict`` returns for string labels and for a
categorical target.
"""

# %%
# A table with mixed columns
# --------------------------
# Two numeric columns, a categorical one and a column of strings; the
# target is a word ("stays" / "leaves") that depends on all four.
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skout import AutoHeadClassifier

rng = np.random.RandomState(0)
n = 400
df = pd.DataFrame(
    {
        "age": rng.randint(18, 80, n),
        "monthly_fee": rng.gamma(2.0, 20.0, n).round(2),
        "city": pd.Categorical(rng.choice(["Lyon", "Oslo", "Pune"], n)),
        "plan": rng.choice(["basic", "pro"], n),
    }
)
risk = (
    (df["monthly_fee"] - 40) / 20
    - (df["age"] - 50) / 15
    + (df["plan"] == "basic") * 1.0
    + (df["city"] == "Oslo") * 1.0
)
churn = np.where(risk + 0.5 * rng.randn(n) > 0.5, "leaves", "stays")
print(df.dtypes)
df.head()  # noqa: B018

# %%
# Scale the numbers, one-hot encode the categories
# ------------------------------------------------
# The column selectors pick columns by dtype, so the same pipeline works
# on any table with this layout. ``handle_unknown="ignore"`` gives a city
# never seen in training an all-zero encoding instead of an error.
# The network sees only numbers; the pipeline as a whole takes the
# DataFrame.


def make_model():
    """A fresh pipeline: preprocessing, then the network."""
    preprocess = ColumnTransformer(
        [
            ("num", StandardScaler(), make_column_selector(dtype_include="number")),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                make_column_selector(dtype_exclude="number"),
            ),
        ]
    )
    net = AutoHeadClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=0)
    return make_pipeline(preprocess, net)


model = make_model()
X_train, X_test, y_train, y_test = train_test_split(
    df, churn, test_size=0.25, stratify=churn, random_state=0
)
model.fit(X_train, y_train)
net = model[-1]
print(net.head_)
print("classes_:", net.classes_)
print("predict:", model.predict(X_test.head(3)))
print("held-out accuracy:", round(model.score(X_test, y_test), 3))

# %%
# Feature names, step by step
# ---------------------------
# ``feature_names_in_`` of the pipeline is the DataFrame's columns: asking
# it to predict on a table without one of them is an error that names the
# column. ``get_feature_names_out`` of the preprocessing says what the
# network's inputs are, in order.
print("pipeline takes:", list(model.feature_names_in_))
print("network gets:", list(model[:-1].get_feature_names_out()))
try:
    model.predict(X_test.drop(columns="plan"))
except ValueError as exc:
    print("ValueError:", exc)

# %%
# With ``set_output(transform="pandas")`` the ColumnTransformer hands the
# network a DataFrame, and the network records the encoded names itself in
# its own ``feature_names_in_``. The predictions are the same.
model_pd = make_model().set_output(transform="pandas")
model_pd.fit(X_train, y_train)
print("network's feature_names_in_:", list(model_pd[-1].feature_names_in_))
print("same predictions:", np.array_equal(model_pd.predict(X_test), model.predict(X_test)))

# %%
# A categorical target
# --------------------
# A :class:`pandas.Categorical` target works as it is. ``classes_`` holds
# the categories seen in training, sorted as NumPy sorts their values
# (alphabetically here, not in the categories' declared order), and
# ``predict_proba`` has one column per class in that order; ``predict``
# returns the labels themselves.
risk_band = pd.Series(
    pd.cut(risk, [-np.inf, -0.5, 1.5, np.inf], labels=["low", "medium", "high"]),
    name="risk_band",
)
print(risk_band.value_counts())
clf = make_model().fit(df, risk_band)
print(clf[-1].head_)
print("classes_:", clf[-1].classes_)
print("predict:", clf.predict(df.head(3)))
print("true:   ", risk_band.head(3).to_numpy())
print("predict_proba:", clf.predict_proba(df.head(3)).round(2), sep="\n")

# %%
# The fitted pipeline, as a notebook shows it:
model  # noqa: B018  (a notebook shows the last expression)
