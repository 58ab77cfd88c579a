"""
=============================================
Multiclass classification in a grid search
=============================================

``AutoHeadClassifier`` is an ordinary scikit-learn classifier: it goes in a
``Pipeline``, a ``GridSearchCV`` searches its parameters (named as in
``MLPClassifier``), the folds are stratified because it is recognised as a
classifier, and the head is chosen again inside every fit from the labels
that fit receives.
"""

# %%
# Three grape cultivars, as strings
# ---------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import is_classifier
from sklearn.datasets import load_wine
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skout import AutoHeadClassifier

X, y = load_wine(return_X_y=True)
y = np.array(["barolo", "grignolino", "barbera"])[y]
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

# %%
# The search
# ----------
# The grid uses ``MLPClassifier``'s parameter names; swapping the class name
# in an existing grid keeps it working. ``is_classifier`` is true, so
# ``cv=3`` means three *stratified* folds.
pipe = make_pipeline(
    StandardScaler(),
    AutoHeadClassifier(max_iter=60, learning_rate_init=0.01, random_state=0),
)
print("is_classifier:", is_classifier(pipe))
grid = {
    "autoheadclassifier__hidden_layer_sizes": [(8,), (16,)],
    "autoheadclassifier__alpha": [1e-4, 1e-1],
}
search = GridSearchCV(pipe, grid, cv=3)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print("best CV accuracy:", round(search.best_score_, 3))

# %%
# The fitted search, as a notebook shows it (scikit-learn's HTML diagram):
search  # noqa: B018

# %%
# What the refitted network chose
# -------------------------------
# Three labels: a *multiclass* target. The head is three softmax units
# trained with sparse categorical cross-entropy on the class indices, and
# ``predict`` maps the argmax back to the label strings.
best = search.best_estimator_[-1]
print(best.head_)
print("classes_:", best.classes_)
print(search.predict(X_test[:4]))
print(np.round(search.predict_proba(X_test[:4]), 3))

# %%
ConfusionMatrixDisplay.from_estimator(search, X_test, y_test)
plt.show()
