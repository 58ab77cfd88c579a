"""Training through Keras's own ``model.fit``, for what only it can do.

The compiled path in :mod:`skout._training` is used whenever it can be. Keras
callbacks need Keras's training loop (its ``logs``, ``model.stop_training``,
...), and backends other than TensorFlow have no compiled path yet, so then
training runs through ``model.fit`` here, with scikit-learn's stopping rule,
learning-rate schedules and early-stopping best weights applied by a
callback, and batches shuffled by ``random_state``. It is slower: Keras pays
a fixed cost per epoch.
"""

from __future__ import annotations

import math

import numpy as np

from ._network import get_weights, import_keras, set_weights, to_numpy
from ._training import TrainResult


class StoppingRule:
    """scikit-learn's MLP stopping rule, learning-rate schedule and best weights.

    Call :meth:`update` after every epoch; it returns whether to stop.
    """

    def __init__(self, *, early_stopping, tol, patience, lr_schedule, state):
        self.early_stopping = early_stopping
        self.tol = tol
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.state = state
        self.best_weights = None
        self.diverged = False

    def update(self, loss, score, weights, learning_rate):
        """Record one epoch; return (stop, new learning rate)."""
        st = self.state
        if not math.isfinite(loss):
            self.diverged = True
            return True, learning_rate
        if self.early_stopping:
            st.no_improvement_count = (
                st.no_improvement_count + 1 if score < st.best_score + self.tol else 0
            )
            if score > st.best_score:
                st.best_score = score
                self.best_weights = [np.array(w) for w in weights]
        else:
            st.no_improvement_count = (
                st.no_improvement_count + 1 if loss > st.best_loss - self.tol else 0
            )
            st.best_loss = min(st.best_loss, loss)
        if st.no_improvement_count <= self.patience:
            return False, learning_rate
        if self.lr_schedule == "adaptive" and learning_rate > 1e-6:
            st.no_improvement_count = 0
            return False, learning_rate / 5.0
        return True, learning_rate


def _split_targets(spec, Y):
    """Per-output targets, in the form each output's Keras loss expects."""
    blocks, start = [], 0
    for out in spec.outputs:
        block = Y[:, start : start + out.target_width]
        start += out.target_width
        blocks.append(block[:, 0].astype("int32") if out.sparse_target else block)
    return blocks[0] if len(blocks) == 1 else blocks


def _batches(keras, spec, data, batch_size, shuffle, seed):
    """Mini-batches for ``model.fit``, shuffled by ``seed`` each epoch.

    Keras's own shuffling follows its global seed; this keeps ``random_state``
    in charge without touching it.
    """

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.RandomState(seed)
            self.order = np.arange(len(data[0]))
            self.on_epoch_end()

        def __len__(self):
            return -(-len(self.order) // batch_size)

        def __getitem__(self, i):
            idx = self.order[i * batch_size : (i + 1) * batch_size]
            X, Y, W = (a[idx] for a in data)
            return X, _split_targets(spec, Y), W

        def on_epoch_end(self):
            if shuffle:
                self.rng.shuffle(self.order)

    return Batches()


def train(
    key, weights, data, validation, schedule, *, callbacks, score_fn, verbose, state,
    hooks=None, optimizer_state=None,
):  # fmt: skip
    """Train with ``model.fit``; returns a :class:`~skout._training.TrainResult`.

    ``hooks`` (scikit-learn callbacks, :class:`skout._callbacks.EpochHooks`)
    hear of every epoch from inside Keras's loop.
    ``validation`` is ``(X, Y, W, y)`` (encoded and original targets) or None;
    ``score_fn(outputs, validation)`` scores NumPy network outputs on it, as
    the compiled path scores them in-graph.
    """
    keras = import_keras()
    spec = key.network
    # MLP scales the L2 term by the batch size; Keras adds l2 * ||W||^2 per batch.
    model = spec.build(l2=0.5 * schedule.alpha / schedule.batch_size, seed=schedule.seed)
    set_weights(model, spec, weights)
    model.compile(
        optimizer=key.optimizer.build(schedule.learning_rate),
        loss_weights=[o.loss_scale for o in spec.outputs]
        if len(spec.outputs) > 1
        else spec.outputs[0].loss_scale,
        loss=[keras.losses.get(o.loss) for o in spec.outputs]
        if len(spec.outputs) > 1
        else keras.losses.get(spec.outputs[0].loss),
    )
    # Continue the optimizer (partial_fit) from its saved variables.
    model.optimizer.build(model.trainable_variables)
    if optimizer_state is not None:
        for variable, value in zip(model.optimizer.variables, optimizer_state):
            variable.assign(value)
    rule = StoppingRule(
        early_stopping=key.early_stopping,
        tol=schedule.tol,
        patience=schedule.n_iter_no_change,
        lr_schedule=key.learning_rate,
        state=state,
    )
    curves = {"loss": [], "score": [], "val_loss": []}

    class _SklearnRule(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if hooks is not None:
                hooks.begin_epoch(get_weights(self.model, spec), curves["loss"])

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            current = get_weights(self.model, spec)
            score = np.nan
            curves["loss"].append(float(logs["loss"]))
            if validation is not None:
                out = self.model(validation[0], training=False)
                outputs = [
                    o.astype(np.float64)
                    for o in to_numpy(out if isinstance(out, (list, tuple)) else [out])
                ]
                score = score_fn(outputs, validation)
                curves["score"].append(score)
                curves["val_loss"].append(float(logs.get("val_loss", np.nan)))
            lr = float(self.model.optimizer.learning_rate)
            stop, new_lr = rule.update(curves["loss"][-1], score, current, lr)
            if key.learning_rate == "invscaling":
                seen = schedule.samples_seen + (epoch + 1) * len(data[0])
                new_lr = schedule.learning_rate / (seen + 1.0) ** schedule.power_t
            if new_lr != lr:
                self.model.optimizer.learning_rate = new_lr
            if verbose:
                verbose(epoch + 1, curves)
            if hooks is not None and hooks.end_epoch(current, curves["loss"]):
                stop = True
            self.model.stop_training = stop

    rule_callback = _SklearnRule()
    X, Y, W = data
    fit_validation = None
    if validation is not None:
        Xv, Yv, Wv = validation[:3]
        fit_validation = (Xv, _split_targets(spec, Yv), Wv)
    model.fit(
        _batches(keras, spec, (X, Y, W), schedule.batch_size, key.shuffle, schedule.seed),
        epochs=schedule.max_epochs,
        shuffle=False,  # the batches are shuffled by random_state, not Keras's seed
        validation_data=fit_validation,
        callbacks=[rule_callback, *callbacks],
        verbose=0,
    )
    n_iter = len(curves["loss"])
    return TrainResult(
        weights=get_weights(model, spec),
        best_weights=rule.best_weights,
        optimizer_state=to_numpy(model.optimizer.variables),
        loss_curve=curves["loss"],
        validation_scores=curves["score"],
        validation_losses=curves["val_loss"],
        n_iter=n_iter,
        stopped=bool(model.stop_training) or n_iter < schedule.max_epochs,
        diverged=rule.diverged,
        state=rule.state,
    )
