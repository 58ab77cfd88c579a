"""scikit-learn's callback protocol (``sklearn.callback``, scikit-learn >= 1.9).

A fit reports one root task and one sub-task per epoch, so scikit-learn's
``ProgressBar`` and ``ScoringMonitor`` work on a bare estimator and, through
auto-propagation, inside a ``Pipeline`` or a search. With no callback set,
nothing here runs and training keeps its single compiled call.
"""

from __future__ import annotations

from ._compat import callback_support_mixin

CallbackSupportMixin = callback_support_mixin()


class EpochHooks:
    """Tell scikit-learn callbacks about a fit, one sub-task per epoch.

    Parameters
    ----------
    estimator : estimator with ``CallbackSupportMixin``
    X, y, sample_weight : the training data
    max_epochs : int
        The most epochs the fit can run (its number of sub-tasks).
    snapshot : callable
        ``snapshot(weights, loss_curve)`` returns the fitted attributes that
        make a copy of the estimator predict with those weights.
    """

    def __init__(self, estimator, X, y, sample_weight, max_epochs, snapshot):
        self.estimator = estimator
        self.data = {"X": X, "y": y}
        self.data["metadata"] = None if sample_weight is None else {"sample_weight": sample_weight}
        self.snapshot = snapshot
        self.context = estimator._init_callback_context(max_subtasks=max_epochs)
        self.context.call_on_fit_task_begin(estimator=estimator, **self.data)
        self.epoch = None

    @classmethod
    def start(cls, estimator, X, y, sample_weight, max_epochs, snapshot):
        """The hooks for this fit, or None when no callback is set."""
        if not getattr(estimator, "_skl_callbacks", None):
            return None
        return cls(estimator, X, y, sample_weight, max_epochs, snapshot)

    def begin_epoch(self, weights, loss_curve):
        self.epoch = self.context.subcontext(task_name="epoch")
        self.epoch.call_on_fit_task_begin(
            estimator=self.estimator,
            reconstruction_attributes=self.snapshot(weights, loss_curve),
            **self.data,
        )

    def end_epoch(self, weights, loss_curve):
        """Report the finished epoch; True when a callback asks to stop."""
        return bool(
            self.epoch.call_on_fit_task_end(
                estimator=self.estimator,
                reconstruction_attributes=self.snapshot(weights, loss_curve),
                **self.data,
            )
        )

    def end_fit(self, weights, loss_curve):
        self.context.call_on_fit_task_end(
            estimator=self.estimator,
            reconstruction_attributes=self.snapshot(weights, loss_curve),
            **self.data,
        )
