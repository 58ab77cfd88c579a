"""Keras callbacks, driven between compiled epochs through Keras's public API.

On TensorFlow, skout does not train with ``model.fit``: its compiled loop runs
one epoch per call when Keras callbacks are set, and this module tells them
about each epoch through ``keras.callbacks.CallbackList``, on a Keras model
that holds the current weights. Callbacks see ``on_train_begin``,
``on_epoch_begin``, ``on_epoch_end`` (with ``logs``: ``loss``,
``learning_rate`` and, with validation data, ``val_loss`` and ``val_score``)
and ``on_train_end``; batch-level events are not sent. What they change is
honoured: ``model.stop_training``, a learning rate set on
``model.optimizer`` (``ReduceLROnPlateau``) and the model's weights
(``EarlyStopping(restore_best_weights=True)``).
"""

from __future__ import annotations

import numpy as np

from .._network import get_weights, import_keras, set_weights


class KerasCallbacks:
    """The user's Keras callbacks for one fit.

    Parameters
    ----------
    callbacks : list of keras.callbacks.Callback
    spec : NetworkSpec or BodySpec
    weights : list of ndarray
        The starting weights.
    optimizer : OptimizerSpec
    learning_rate : float
    epochs, steps : int
        The most epochs of this fit, and batches per epoch (``params``).
    """

    def __init__(self, callbacks, spec, weights, optimizer, learning_rate, epochs, steps):
        keras = import_keras()
        self.spec = spec
        self.model = spec.build()
        set_weights(self.model, spec, weights)
        self.model.compile(optimizer=optimizer.build(learning_rate))
        self.model.stop_training = False
        self.callbacks = keras.callbacks.CallbackList(
            list(callbacks), model=self.model, epochs=epochs, steps=steps, verbose=0
        )

    def train_begin(self):
        self.callbacks.on_train_begin()

    def epoch_begin(self, epoch):
        self.callbacks.on_epoch_begin(epoch)

    def epoch_end(self, epoch, weights, learning_rate, logs):
        """Report an epoch; returns (weights, learning_rate, stop) as the
        callbacks left them."""
        set_weights(self.model, self.spec, weights)
        self.model.optimizer.learning_rate = learning_rate
        self.callbacks.on_epoch_end(epoch, dict(logs, learning_rate=float(learning_rate)))
        rate = float(np.asarray(self.model.optimizer.learning_rate))
        return get_weights(self.model, self.spec), rate, bool(self.model.stop_training)

    def train_end(self, weights, logs):
        """Report the end of the fit; returns the weights as the callbacks left them."""
        set_weights(self.model, self.spec, weights)
        self.callbacks.on_train_end(logs)
        return get_weights(self.model, self.spec)
