"""
============================================
Prediction intervals and counts: beyond MSE
============================================

Two heads a hand-written Keras model usually gets wrong: a list of quantiles
(a 90 % prediction interval) whose columns never cross, and a count model on
a log link, whose predictions are always positive. ``AutoHeadRegressor``
builds both from ``loss=``.
"""

# %%
# A 90 % interval on data whose noise grows
# -----------------------------------------
# The noise is small near x = 0 and large at the ends. One model with
# ``loss="quantile", quantile=[0.05, 0.5, 0.95]`` gives the median and both
# ends of the interval; its three outputs are built so that they never cross.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import mean_poisson_deviance

from skout import AutoHeadRegressor

rng = np.random.RandomState(0)
x = rng.uniform(-3, 3, size=600)
y = np.sin(x) * 2 + (0.2 + 0.6 * np.abs(x)) * rng.normal(size=600)
X = x[:, None]

interval = AutoHeadRegressor(
    loss="quantile", quantile=[0.05, 0.5, 0.95], hidden_layer_sizes=(32, 32),
    learning_rate_init=0.01, max_iter=300, random_state=0,
).fit(X, y)  # fmt: skip
print(interval.head_)

x_new = rng.uniform(-3, 3, size=600)
y_new = np.sin(x_new) * 2 + (0.2 + 0.6 * np.abs(x_new)) * rng.normal(size=600)
low, median, high = interval.predict(x_new[:, None]).T
print(f"held-out coverage of the 90 % interval: {np.mean((y_new >= low) & (y_new <= high)):.3f}")
print("rows where the interval's ends cross:", int(np.sum(low > high)))

grid = np.linspace(-3.5, 3.5, 200)[:, None]
bands = interval.predict(grid)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.scatter(x_new, y_new, s=4, alpha=0.4, label="held-out data")
ax.fill_between(grid[:, 0], bands[:, 0], bands[:, 2], alpha=0.3, label="5 % to 95 %")
ax.plot(grid[:, 0], bands[:, 1], label="median")
ax.set_xlabel("x")
ax.legend()
fig.tight_layout()

# %%
# Counts: a log link and the Poisson deviance
# -------------------------------------------
# Visits, claims, orders: whole numbers whose spread grows with their mean.
# ``loss="poisson"`` puts ``exp`` on the output (predictions are always
# positive) and trains half the Poisson deviance. Squared error on the same
# counts weighs large counts' noise most, and a linear output can predict a
# negative count.
X_counts = rng.normal(size=(1000, 3))
mean = np.exp(0.3 + 0.8 * X_counts[:, 0] - 0.5 * X_counts[:, 1])
counts = rng.poisson(mean)
train, test = slice(0, 750), slice(750, None)
common = dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=200, random_state=0)
poisson = AutoHeadRegressor(loss="poisson", **common).fit(X_counts[train], counts[train])
squared = AutoHeadRegressor(**common).fit(X_counts[train], counts[train])
for name, model in (("poisson", poisson), ("squared error", squared)):
    predicted = model.predict(X_counts[test])
    deviance = mean_poisson_deviance(counts[test], np.maximum(predicted, 1e-9))
    print(f"{name:>14}: held-out Poisson deviance {deviance:.3f}, "
          f"smallest prediction {predicted.min():.3f}")  # fmt: skip
print(f"{'true means':>14}: held-out Poisson deviance "
      f"{mean_poisson_deviance(counts[test], mean[test]):.3f}")  # fmt: skip
plt.show()
