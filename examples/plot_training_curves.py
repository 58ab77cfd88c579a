"""
=============================================
Reading the training curves; early stopping
=============================================

Every fit records the training loss after each epoch (``loss_curve_``).
Give ``fit`` validation data (``X_val``, ``y_val``) and it also records the
validation loss (``validation_loss_curve_``) and score
(``validation_scores_``). :class:`~skout.display.TrainingCurvesDisplay`
plots them; with ``early_stopping=True`` the same validation data decides
when to stop.
"""

# %%
# Validation data as fit parameters
# ---------------------------------
# As in scikit-learn's ``HistGradientBoostingClassifier``, validation data
# is passed to ``fit``, not to the constructor: it is data, and data does
# not belong in ``get_params``. A deliberately large network on few samples
# overfits, which the curves show.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skout import AutoHeadClassifier
from skout.display import TrainingCurvesDisplay

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=300, stratify=y, random_state=0
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, train_size=300, stratify=y_rest, random_state=0
)

params = dict(hidden_layer_sizes=(128,), learning_rate_init=0.01, random_state=0)
full = AutoHeadClassifier(**params, max_iter=80)
full.fit(X_train, y_train, X_val=X_val, y_val=y_val)
print("epochs run:", full.n_iter_)
print("final validation accuracy:", round(full.validation_scores_[-1], 3))

# %%
# The training loss keeps falling towards zero as the network memorises the
# 300 training images; the validation loss flattens out after about fifteen
# epochs: from there on, more epochs buy little. The validation accuracy
# (right axis, dashed) still creeps up a little: the loss also counts how
# confident the right answers are, the accuracy only whether they are right.
display = TrainingCurvesDisplay.from_estimator(full)
display.ax_.set_title("fit(X, y, X_val=..., y_val=...)")
plt.show()

# %%
# Early stopping on the same validation data
# ------------------------------------------
# With ``early_stopping=True`` and ``X_val``/``y_val``, training stops once
# the validation score has not improved by ``tol`` for ``n_iter_no_change``
# epochs, and the weights of the best epoch are restored. Without
# ``X_val``, skout holds out ``validation_fraction`` of the training data
# instead, as ``MLPClassifier`` does.
stopped = AutoHeadClassifier(**params, max_iter=80, early_stopping=True, n_iter_no_change=5)
stopped.fit(X_train, y_train, X_val=X_val, y_val=y_val)
best_epoch = int(np.argmax(stopped.validation_scores_)) + 1
print("epochs run:", stopped.n_iter_, "- weights kept from epoch", best_epoch)
print("best validation accuracy:", round(stopped.best_validation_score_, 3))
print("test accuracy, 80 epochs: ", round(full.score(X_test, y_test), 3))
print("test accuracy, early stop:", round(stopped.score(X_test, y_test), 3))

# %%
# A quarter of the epochs for about the same test accuracy. A patience of
# five epochs is short: a larger ``n_iter_no_change`` waits for the slow
# improvements the first run found after epoch 20.
display = TrainingCurvesDisplay.from_estimator(stopped)
display.ax_.axvline(best_epoch, color="gray", linewidth=1, linestyle=":")
display.ax_.set_title(f"early_stopping=True: weights of epoch {best_epoch} kept")
plt.show()
