"""Training through Keras's own ``model.fit``: the fallback for backends
without a compiled loop.

On TensorFlow every fit runs the compiled loop of :mod:`skout._training`
(Keras callbacks included, see :mod:`skout._engine.keras_callbacks`). On
other backends, until their compiled loops land, training runs through
``model.fit`` here. It calls the same rule (:mod:`skout._engine.rule`): the
batches of :func:`~skout._engine.rule.epoch_orders`, :func:`after_epoch`
after each epoch, and each batch's sample weights scaled to sum to the batch
size, so that Keras's ``sum(w * loss) / batch_size`` is the rule's data term
``sum(w * loss) / sum(w)``. What still differs: Keras adds the L2 term as
``0.5 * alpha / batch_size * ||W||^2`` (a regulariser fixed per model), where
the rule divides by the batch's weight sum; the two agree for unit weights
and full batches. It is slower: Keras pays a fixed cost per epoch.
"""

from __future__ import annotations

import numpy as np

from ._engine import rule
from ._network import get_weights, import_keras, set_weights, to_numpy
from ._training import TrainResult


def _split_targets(spec, Y):
    """Per-output targets, in the form each output's Keras loss expects."""
    blocks, start = [], 0
    for out in spec.outputs:
        block = Y[:, start : start + out.target_width]
        start += out.target_width
        blocks.append(block[:, 0].astype("int32") if out.sparse_target else block)
    return blocks[0] if len(blocks) == 1 else blocks


def _batches(keras, spec, data, batch_size, shuffle, seed, first_epoch):
    """Mini-batches for ``model.fit``: the rule's batch order, each batch's
    weights scaled to sum to its size (Keras divides by the batch size)."""

    n = len(data[0])
    n_batches = -(-n // batch_size)

    class Batches(keras.utils.PyDataset):
        # The epoch is set by the rule callback's on_epoch_begin: Keras peeks
        # at a batch before training and calls on_epoch_end at different
        # times on different backends.
        def __init__(self):
            super().__init__()
            self.set_epoch(first_epoch)

        def set_epoch(self, epoch):
            self.order = rule.epoch_orders(seed, epoch, 1, n, shuffle)[0]

        def __len__(self):
            return n_batches

        def __getitem__(self, i):
            idx = self.order[i * batch_size : (i + 1) * batch_size]
            X, Y, W = (a[idx] for a in data)
            W = W * (len(idx) / max(float(W.sum()), rule.EPS))
            return X, _split_targets(spec, Y), W.astype(np.float32)

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
    curves = {"loss": [], "score": [], "val_loss": []}
    found = {"state": rule.StoppingState(*state), "best": None, "diverged": False}

    class _SklearnRule(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            batches.set_epoch(schedule.first_epoch + epoch)
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
            lr = float(np.asarray(self.model.optimizer.learning_rate))
            verdict = rule.after_epoch(
                rule.NUMPY, found["state"], loss=curves["loss"][-1], score=score,
                learning_rate=lr, tol=schedule.tol, patience=schedule.n_iter_no_change,
                early_stopping=key.early_stopping, schedule=key.learning_rate,
                lr_init=schedule.learning_rate, power_t=schedule.power_t,
                samples_seen=schedule.samples_seen + (epoch + 1) * len(data[0]),
            )  # fmt: skip
            found["state"] = rule.StoppingState(
                float(verdict.state[0]), float(verdict.state[1]), int(verdict.state[2])
            )
            found["diverged"] = bool(verdict.diverged)
            if key.early_stopping and bool(verdict.improved):
                found["best"] = current
            stop = bool(verdict.stop)
            if float(verdict.learning_rate) != lr:
                self.model.optimizer.learning_rate = float(verdict.learning_rate)
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
    batches = _batches(keras, spec, (X, Y, W), schedule.batch_size, schedule.shuffle,
                       schedule.seed, schedule.first_epoch)  # fmt: skip
    model.fit(
        batches,
        epochs=schedule.max_epochs,
        shuffle=False,  # the batches are shuffled by random_state, not Keras's seed
        validation_data=fit_validation,
        callbacks=[rule_callback, *callbacks],
        verbose=0,
    )
    n_iter = len(curves["loss"])
    return TrainResult(
        weights=get_weights(model, spec),
        best_weights=found["best"],
        optimizer_state=to_numpy(model.optimizer.variables),
        loss_curve=curves["loss"],
        validation_scores=curves["score"],
        validation_losses=curves["val_loss"],
        n_iter=n_iter,
        stopped=bool(model.stop_training) or n_iter < schedule.max_epochs,
        diverged=found["diverged"],
        state=found["state"],
    )
