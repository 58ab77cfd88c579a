"""Who is told about each epoch: one list, dispatched in one place.

Three kinds of observer watch a fit epoch by epoch: ``verbose=True``
(a line per epoch, as scikit-learn's MLP prints), scikit-learn's callbacks
(``set_callbacks``, through :class:`skout._callbacks.EpochHooks`) and Keras
callbacks (``callbacks=``, :mod:`.keras_callbacks`). The driver holds them as
one :class:`EpochObservers` and calls it once per epoch; each observer may
change the weights or the learning rate (a Keras callback) or ask to stop.
A fit with any observer runs one epoch per compiled call, so that every
epoch is reported as it ends.
"""

from __future__ import annotations

import time

__all__ = ["EpochObservers", "observers_for"]


class _Verbose:
    """Prints one line per epoch: loss, validation score and loss, time."""

    def train_begin(self):
        self.started = time.perf_counter()

    def epoch_begin(self, epoch, weights, curve):
        pass

    def epoch_end(self, epoch, weights, learning_rate, curves, diverged):
        line = f"Iteration {epoch + 1}, loss = {curves['loss'][-1]:.8f}"
        if curves["score"]:
            line += f", validation score = {curves['score'][-1]:.6f}"
            line += f", validation loss = {curves['val_loss'][-1]:.6f}"
        print(f"{line}, time = {time.perf_counter() - self.started:.2f}s")
        return weights, learning_rate, False

    def train_end(self, weights, curves):
        return weights


class _SklearnCallbacks:
    """scikit-learn's callbacks (``set_callbacks``): one sub-task per epoch."""

    def __init__(self, hooks):
        self.hooks = hooks

    def train_begin(self):
        pass

    def epoch_begin(self, epoch, weights, curve):
        self.hooks.begin_epoch(weights, curve)

    def epoch_end(self, epoch, weights, learning_rate, curves, diverged):
        return weights, learning_rate, self.hooks.end_epoch(weights, curves["loss"])

    def train_end(self, weights, curves):
        return weights


class _KerasCallbacks:
    """Keras callbacks (``callbacks=``), on a Keras model that holds the weights."""

    def __init__(self, callbacks):
        self.callbacks = callbacks
        self.logs = {}

    def train_begin(self):
        self.callbacks.train_begin()

    def epoch_begin(self, epoch, weights, curve):
        self.callbacks.epoch_begin(epoch)

    def epoch_end(self, epoch, weights, learning_rate, curves, diverged):
        if diverged:  # nothing to report: the fit ends with its error
            return weights, learning_rate, False
        self.logs = {"loss": curves["loss"][-1]}
        if curves["score"]:
            self.logs.update(val_loss=curves["val_loss"][-1], val_score=curves["score"][-1])
        return self.callbacks.epoch_end(epoch, weights, learning_rate, self.logs)

    def train_end(self, weights, curves):
        return self.callbacks.train_end(weights, self.logs)


class EpochObservers:
    """The observers of one fit, told about each epoch in order (falsy when none)."""

    def __init__(self, members):
        self.members = list(members)

    def __bool__(self):
        return bool(self.members)

    def train_begin(self):
        for member in self.members:
            member.train_begin()

    def epoch_begin(self, epoch, weights, curve):
        for member in self.members:
            member.epoch_begin(epoch, weights, curve)

    def epoch_end(self, epoch, weights, learning_rate, curves, diverged=False):
        """Tell each observer; returns (weights, learning_rate, stop) as they leave them."""
        stop = False
        for member in self.members:
            weights, learning_rate, asked = member.epoch_end(
                epoch, weights, learning_rate, curves, diverged
            )
            stop = stop or bool(asked)
        return weights, learning_rate, stop

    def train_end(self, weights, curves):
        for member in self.members:
            weights = member.train_end(weights, curves)
        return weights


def observers_for(options, key, weights, hooks, epochs, steps):
    """The observers a fit's options ask for."""
    members = []
    if options.verbose:
        members.append(_Verbose())
    if hooks is not None:
        members.append(_SklearnCallbacks(hooks))
    if options.callbacks:
        from .keras_callbacks import KerasCallbacks

        members.append(
            _KerasCallbacks(
                KerasCallbacks(
                    options.callbacks,
                    key.network,
                    weights,
                    key.optimizer,
                    float(options.learning_rate_init),
                    epochs,
                    steps,
                )  # fmt: skip
            )
        )
    return EpochObservers(members)
