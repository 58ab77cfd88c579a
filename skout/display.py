"""Plots of a fitted network's training curves, in scikit-learn's display style.

:class:`TrainingCurvesDisplay` draws ``loss_curve_`` (and, when they were
recorded, ``validation_loss_curve_`` and ``validation_scores_``) against the
epoch number. Like scikit-learn's displays it is built with
:meth:`TrainingCurvesDisplay.from_estimator` and drawn with
:meth:`TrainingCurvesDisplay.plot`; matplotlib is imported only when a plot is
drawn, so importing this module costs nothing.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.utils.validation import check_is_fitted

__all__ = ["TrainingCurvesDisplay"]


def _check_matplotlib(caller):
    """Import matplotlib, or raise an ImportError that says how to get it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install it "
            "with `pip install matplotlib`."
        ) from exc


def _curve(values, name):
    """A curve as a 1-D float array, or None when it was not recorded."""
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of floats, got shape {values.shape}.")
    return values if values.size else None


def _final_step(estimator):
    """The estimator that holds the curves: a Pipeline's last step, or itself."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        return steps[-1][1]
    return estimator


class TrainingCurvesDisplay:
    """Training curves of a fitted network: loss, validation loss and score.

    The training loss (``loss_curve_``) is drawn against the epoch, with the
    validation loss (``validation_loss_curve_``) on the same axes when it was
    recorded, and the validation score (``validation_scores_``: accuracy for
    classifiers, R² for regressors) on a second y-axis on the right.
    Validation curves exist when the network was fitted with
    ``fit(X, y, X_val=..., y_val=...)`` or with ``early_stopping=True``.

    Build it with :meth:`from_estimator`; create it directly only to plot
    curves you already hold. All parameters are stored as attributes.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss after each epoch.
    validation_loss_curve : array-like of shape (n_epochs,), default=None
        Validation loss after each epoch, if it was recorded.
    validation_scores : array-like of shape (n_epochs,), default=None
        Validation score after each epoch, if it was recorded.
    score_name : str, default="validation score"
        Label of the validation score (its axis and legend entry).
    estimator_name : str, default=None
        Name of the estimator; when set, it prefixes the legend labels so
        that several estimators can share one axes.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the loss curves.
    score_ax_ : matplotlib Axes or None
        The twin axes with the validation score, or None when no score is
        drawn.
    figure_ : matplotlib Figure
        Figure containing the curves.
    lines_ : dict of str to matplotlib Line2D
        The drawn lines, under the keys ``"loss"``, ``"validation_loss"`` and
        ``"validation_score"`` (only those that were drawn).

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : Scores against the number
        of training samples (many fits), where this display shows one fit
        epoch by epoch.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from skout import AutoHeadClassifier
    >>> from skout.display import TrainingCurvesDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoHeadClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    >>> clf = clf.fit(X[::2], y[::2], X_val=X[1::2], y_val=y[1::2])  # doctest: +SKIP
    >>> display = TrainingCurvesDisplay.from_estimator(clf)  # doctest: +SKIP
    >>> sorted(display.lines_)  # doctest: +SKIP
    ['loss', 'validation_loss', 'validation_score']

    Curves you hold already can be drawn without an estimator:

    >>> display = TrainingCurvesDisplay(loss_curve=[1.0, 0.6, 0.4, 0.35])
    >>> display = display.plot()
    >>> display.lines_["loss"].get_xdata().tolist()
    [1, 2, 3, 4]
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_loss_curve=None,
        validation_scores=None,
        score_name="validation score",
        estimator_name=None,
    ):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.validation_scores = validation_scores
        self.score_name = score_name
        self.estimator_name = estimator_name

    def plot(
        self,
        ax=None,
        *,
        name=None,
        show_scores=True,
        loss_kwargs=None,
        validation_loss_kwargs=None,
        score_kwargs=None,
    ):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes are created when None.
        name : str, default=None
            Prefix of the legend labels; overrides ``estimator_name``.
        show_scores : bool, default=True
            Draw the validation score on a second y-axis, when it was
            recorded.
        loss_kwargs, validation_loss_kwargs, score_kwargs : dict, default=None
            Keyword arguments passed to matplotlib's ``plot`` for the
            training loss, the validation loss and the validation score.

        Returns
        -------
        display : TrainingCurvesDisplay
            The display, with ``ax_``, ``score_ax_``, ``figure_`` and
            ``lines_`` set.
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        loss = _curve(self.loss_curve, "loss_curve")
        if loss is None:
            raise ValueError("loss_curve is empty: there is no training curve to plot.")
        val_loss = _curve(self.validation_loss_curve, "validation_loss_curve")
        scores = _curve(self.validation_scores, "validation_scores") if show_scores else None

        if ax is None:
            _, ax = plt.subplots()
        name = self.estimator_name if name is None else name
        prefix = f"{name}: " if name else ""

        def epochs(curve):
            return np.arange(1, curve.size + 1)

        lines = {}
        (lines["loss"],) = ax.plot(
            epochs(loss), loss, **{"label": f"{prefix}training loss", **(loss_kwargs or {})}
        )
        if val_loss is not None:
            (lines["validation_loss"],) = ax.plot(
                epochs(val_loss),
                val_loss,
                **{"label": f"{prefix}validation loss", **(validation_loss_kwargs or {})},
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")

        score_ax = None
        if scores is not None:
            score_ax = ax.twinx()
            style = {"label": f"{prefix}{self.score_name}", "linestyle": "--", "color": "C2"}
            (lines["validation_score"],) = score_ax.plot(
                epochs(scores), scores, **{**style, **(score_kwargs or {})}
            )
            score_ax.set_ylabel(self.score_name)
            # Keep the loss axes (and its legend) above the twin axes.
            ax.set_zorder(score_ax.get_zorder() + 1)
            ax.patch.set_visible(False)
        # Every labelled line of these axes (several displays drawn on one
        # axes share its legend), then the validation score's.
        handles = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        if score_ax is not None:
            handles.append(lines["validation_score"])
        # Losses fall towards the bottom and scores rise towards the top: with
        # both, the middle right is where the curves usually are not.
        loc = "best" if score_ax is None else "center right"
        ax.legend(handles, [h.get_label() for h in handles], loc=loc)

        self.ax_ = ax
        self.score_ax_ = score_ax
        self.figure_ = ax.figure
        self.lines_ = lines
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        ax=None,
        name=None,
        show_scores=True,
        loss_kwargs=None,
        validation_loss_kwargs=None,
        score_kwargs=None,
    ):
        """Plot the training curves of a fitted estimator.

        Parameters
        ----------
        estimator : estimator instance
            A fitted :class:`~skout.AutoHeadClassifier` or
            :class:`~skout.AutoHeadRegressor` (any estimator with a
            ``loss_curve_`` works, e.g. scikit-learn's ``MLPClassifier``), or
            a :class:`~sklearn.pipeline.Pipeline` ending in one.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes are created when None.
        name : str, default=None
            Prefix of the legend labels.
        show_scores : bool, default=True
            Draw ``validation_scores_`` on a second y-axis, when recorded.
        loss_kwargs, validation_loss_kwargs, score_kwargs : dict, default=None
            Keyword arguments passed to matplotlib's ``plot`` for each curve.

        Returns
        -------
        display : TrainingCurvesDisplay
            The drawn display.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If the estimator recorded no training curve.
        ImportError
            If matplotlib is not installed.
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        model = _final_step(estimator)
        check_is_fitted(model)
        loss = getattr(model, "loss_curve_", None)
        if loss is None or len(loss) == 0:
            raise ValueError(
                f"{type(model).__name__} has no loss_curve_ to plot: only networks "
                "trained epoch by epoch record one (AutoHeadClassifier, "
                "AutoHeadRegressor, MLPClassifier, MLPRegressor)."
            )
        if is_classifier(model):
            score_name = "validation accuracy"
        elif is_regressor(model):
            score_name = "validation R²"
        else:
            score_name = "validation score"
        display = cls(
            loss_curve=loss,
            validation_loss_curve=getattr(model, "validation_loss_curve_", None),
            validation_scores=getattr(model, "validation_scores_", None),
            score_name=score_name,
            estimator_name=name,
        )
        return display.plot(
            ax=ax,
            show_scores=show_scores,
            loss_kwargs=loss_kwargs,
            validation_loss_kwargs=validation_loss_kwargs,
            score_kwargs=score_kwargs,
        )
