"""How a fitted network shows itself in a notebook, without a framework.

scikit-learn's HTML view lists an estimator's fitted attributes by reading
every public attribute (``inspect.getmembers``); ``model_`` is a property
that builds a Keras model, so showing a model loaded from disk used to import
TensorFlow and take seconds. :class:`NetworkReprMixin` keeps the lazy
attributes out of that listing and adds what a reader wants to see, all
from plain fitted data: the head, the architecture (from the stored network
description) and a training summary. The "Network" block goes wherever
scikit-learn lists the estimator's fitted attributes, so it shows for a bare
estimator, a step of a ``Pipeline`` and a search's ``best_estimator_`` alike.

The view links to no documentation site: skout publishes none, so the
"?" link scikit-learn draws for its own estimators is left out (the
documentation's sources are in the repository's ``docs/`` folder).
"""

from __future__ import annotations

import html
import json
from contextvars import ContextVar

from sklearn.base import BaseEstimator

__all__ = ["NetworkReprMixin", "network_summary"]

# scikit-learn >= 1.8 lists fitted attributes in every estimator's view, nested
# ones included, through this method; older versions show only the top level.
_NESTED_VIEWS = hasattr(BaseEstimator, "_get_fitted_attr_html")

# True while scikit-learn lists fitted attributes for the HTML view.
_listing_for_view = ContextVar("skout_listing_for_view", default=False)


def _architecture(spec):
    """One line for the network: layer widths, or the user body's layers."""
    heads = " + ".join(f"{o.units} {o.activation}" for o in spec.outputs)
    if spec.predicts_in_numpy:
        inputs = f"{spec.n_features} inputs"
        if spec.embeddings:  # categorical columns through their tables
            widths = ", ".join(str(width) for _, width in spec.embeddings)
            numeric = spec.n_features - len(spec.embeddings)
            inputs = f"{numeric} numeric + {len(spec.embeddings)} embedded ({widths})"
        hidden = " → ".join(f"{units} {spec.activation}" for units in spec.hidden_layer_sizes)
        if not hidden:  # hidden_layer_sizes=(): a linear (or logistic) model
            return f"{inputs} → {heads}"
        dropout = f" (dropout {spec.dropout:g})" if spec.dropout else ""
        return f"{inputs} → {hidden}{dropout} → {heads}"
    try:
        config = json.loads(spec.body_config)
        layers = config.get("config", {}).get("layers") or []
        names = [layer.get("class_name", "?") for layer in layers if isinstance(layer, dict)]
        body = f"{config.get('class_name', 'body')}({', '.join(names)})" if names else "body"
    except (ValueError, AttributeError):
        body = "body"
    if spec.input_names:  # several named inputs
        shapes = " + ".join(
            f"{name} {'×'.join(str(d) for d in shape)}"
            for name, shape in zip(spec.input_names, spec.input_shape)
        )
        return f"inputs {shapes} → {body} → {heads}"
    shape = "×".join(str(d) for d in spec.input_shape)
    return f"input {shape} → {body} → {heads}"


def network_summary(estimator):
    """(label, value) rows describing a fitted estimator, from plain data only.

    Parameters
    ----------
    estimator : AutoHeadClassifier or AutoHeadRegressor
        A fitted estimator.

    Returns
    -------
    rows : list of (str, str)
        The head, the architecture and the training summary; empty when the
        estimator is not fitted.
    """
    fitted = estimator.__dict__.get("_fitted")  # skout._state.FittedState, plain data
    if fitted is None:
        return []
    head, spec = fitted.head, fitted.spec
    rows = [
        (
            "head",
            f"{head.target_type}: {head.activation} output, {head.loss} loss, "
            f"{head.decoding} decoding",
        ),  # fmt: skip
        ("architecture", _architecture(spec)),
    ]
    curve = fitted.loss_curve
    training = [f"{fitted.n_iter} epochs"]
    if curve:
        training.append(f"final loss {curve[-1]:.4g}")
    best = fitted.best_validation_score
    if best is not None:
        training.append(f"best validation score {best:.4g}")
    rows.append(("training", ", ".join(training)))
    return rows


def _summary_html(rows):
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(label)}</th>"
        f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return (
        "<div class='skout-network-summary' style='margin-top:0.5em'><details open>"
        f"<summary>Network</summary><table>{cells}</table></details></div>"
    )


class _AttributesWithNetwork:
    """scikit-learn's fitted-attribute listing, followed by the Network block.

    scikit-learn reads the listing through ``len`` and ``_repr_html_inner``;
    everything else is the listing's own.
    """

    def __init__(self, listing, block):
        self._listing = listing
        self._block = block

    def __len__(self):
        return len(self._listing) + 1

    def __getattr__(self, name):
        return getattr(self._listing, name)

    def _repr_html_inner(self):
        inner = self._listing._repr_html_inner() if len(self._listing) else ""
        return inner + self._block


class NetworkReprMixin:
    """The notebook view (HTML and text) of a skout estimator.

    Works with :class:`sklearn.base.BaseEstimator` after it in the bases.
    """

    _doc_link_module = "skout"
    # No published documentation site: no link (scikit-learn draws none for "").
    _doc_link_template = ""
    #: Fitted attributes that build something heavy (a Keras model) when read.
    _lazy_fitted_attributes = ("model_",)

    def _is_built(self, name):
        """Whether the lazy attribute ``name`` already exists (reading it is cheap)."""
        return False

    def __dir__(self):
        # As scikit-learn's BaseEstimator.__dir__ (names that hasattr finds, so
        # that available_if hides methods), but a lazy attribute only once it is
        # built: tools read every fitted attribute dir() lists (skl2onnx does,
        # given options=), and reading it would build a Keras model.
        lazy = self._lazy_fitted_attributes
        names = [n for n in object.__dir__(self) if n not in lazy and hasattr(self, n)]
        if self.__sklearn_is_fitted__() and not _listing_for_view.get():
            names += [n for n in lazy if n in object.__dir__(self) and self._is_built(n)]
        return names

    def _snapshot(self):
        """A copy whose attributes stay put while the view reads them."""
        view = object.__new__(type(self))
        view.__dict__ = dict(self.__dict__)  # one fitted state and its attributes
        return view

    def _get_fitted_attr_html(self, doc_link=""):
        # scikit-learn reads every attribute listed by dir(), one at a time: on
        # a snapshot, so that a refit in another thread cannot mix two fits in
        # one view. The lazy attributes are left out, so that the view never
        # builds a Keras model.
        view = self._snapshot()
        token = _listing_for_view.set(True)
        try:
            listing = super(NetworkReprMixin, view)._get_fitted_attr_html(doc_link)
        finally:
            _listing_for_view.reset(token)
        rows = network_summary(view)
        return _AttributesWithNetwork(listing, _summary_html(rows)) if rows else listing

    def _html_repr(self):
        view = self._snapshot()
        html = super(NetworkReprMixin, view)._html_repr()
        rows = network_summary(view)
        if _NESTED_VIEWS or not rows:
            return html  # the block is in the fitted-attribute listing
        # Older scikit-learn: after its diagram, inside its <body>.
        at = html.rfind("</body>")
        summary = _summary_html(rows)
        return f"{html[:at]}{summary}{html[at:]}" if at >= 0 else html + summary

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        rows = network_summary(self)
        if rows:
            width = max(len(label) for label, _ in rows)
            lines = [f"  {label:<{width}}  {value}" for label, value in rows]
            bundle["text/plain"] = "\n".join([bundle["text/plain"], *lines])
        return bundle
