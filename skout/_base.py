"""What AutoHeadClassifier and AutoHeadRegressor share: the fit loop and predict."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _engine, _network
from ._callbacks import CallbackSupportMixin, EpochHooks
from ._encoding import TargetEncoder
from ._repr import NetworkReprMixin
from ._version import __version__
from .body import body_model, canonical_config
from .heads import LOSS_NAMES, check_loss

_FLOAT_DTYPES = (np.float64, np.float32)
_NON_FINITE = _engine.driver.NON_FINITE
_SPARSE_ROWS_PER_CHUNK = 4096
_KERAS_PREDICT_BATCH = 8192
# Layout of a pickled fitted estimator; bump when it changes incompatibly.
_PICKLE_FORMAT = 1


def _picklable(value):
    import pickle

    try:
        pickle.dumps(value)
    except Exception:  # pickle raises many types: PicklingError, AttributeError, ...
        return False
    return True


def _check_rank(X):
    """A clear error for inputs of rank > 2, which a dense network cannot read."""
    ndim = getattr(X, "ndim", None)
    if ndim is not None and ndim > 2:
        raise ValueError(
            f"Found array with dim {ndim} (shape {X.shape}), but this network reads "
            "a 2-D table (n_samples, n_features). Flatten each sample with "
            "X.reshape(len(X), -1)."
        )


class _AutoHeadBase(NetworkReprMixin, CallbackSupportMixin, BaseEstimator):
    """Shared machinery; use AutoHeadClassifier or AutoHeadRegressor."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_network.KERAS_ACTIVATIONS))],
        "solver": [StrOptions({"adam", "sgd", "lbfgs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "callbacks": [None, list],
        "device": [None, str],
        "body": "no_validation",  # checked when the body is built, in fit
        "loss": [StrOptions({"auto", *LOSS_NAMES})],
    }

    _task = None  # "classification" or "regression"

    # -- hooks for the subclasses ------------------------------------------
    def _choose_head(self, y, classes=None):
        raise NotImplementedError

    def _encoder_options(self):
        return {}

    def _extra_sample_weight(self, y, incremental):
        """Weights the subclass multiplies in (class_weight); None for none."""
        return None

    def _score_outputs(self, encoder, outputs, y_true, sample_weight):
        raise NotImplementedError

    def _check_warm_start_target(self, y):
        """Refuse a target that the fitted network cannot continue on."""

    # -- parameters ------------------------------------------------------------
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(np.ravel(sizes))
        if not sizes or not all(
            isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must be a positive int or a sequence of "
                f"positive ints, got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _check_combination(self, incremental):
        """Refuse parameter values that cannot mean what they say together."""
        if self.solver == "lbfgs":
            conflicts = {
                "early_stopping": self.early_stopping,
                "callbacks": bool(self.callbacks),
                "dropout": self.dropout > 0,
            }
            named = [name for name, on in conflicts.items() if on]
            if named:
                raise ValueError(
                    f"solver='lbfgs' is full-batch and deterministic: it cannot use "
                    f"{', '.join(named)}. Use solver='adam' or 'sgd' for them."
                )
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True: it holds out no "
                "validation data. Set early_stopping=False, or use "
                "fit(X, y, X_val=..., y_val=...)."
            )

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_weights")

    def _check_stochastic(self):
        if self.solver == "lbfgs":
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers; "
                "solver='lbfgs' is not stochastic. Use solver='adam' or 'sgd'."
            )
        return True

    # -- fitting -------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit the network to ``X`` and ``y``, choosing its head from ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target; its type decides the output layer, loss and decoding.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss (and the validation score).
        X_val, y_val : array-like, default=None
            Validation data, as in scikit-learn's HistGradientBoosting: scored
            after every epoch (``validation_scores_``,
            ``validation_loss_curve_``) and, with ``early_stopping=True``, used
            instead of a ``validation_fraction`` split.
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Weights of the validation samples.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, validation=(X_val, y_val, sample_weight_val))

    def _validate_fit_data(self, X, y, sample_weight, reset):
        if self.body is None:
            _check_rank(X)
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            allow_nd=self.body is not None,
            accept_sparse=["csr", "csc", "coo"],
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=self._task == "regression",
        )
        if sp.issparse(X):
            X = X.toarray()  # the network trains on dense float32 batches
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        return X, y, sample_weight

    def _fit(self, X, y, sample_weight, *, validation=(None, None, None),
             incremental=False, classes=None):  # fmt: skip
        self._check_combination(incremental)
        if self.solver == "lbfgs" and validation[0] is not None:
            raise ValueError(
                "solver='lbfgs' does not score validation data per iteration: drop "
                "X_val/y_val, or use solver='adam' or 'sgd' for validation curves."
            )
        unsaved = [n for n in self.__dict__.get("_unsaved_params", []) if getattr(self, n) is None]
        if unsaved:
            raise ValueError(
                f"This model was unpickled without its {' and '.join(unsaved)} (they "
                "could not be pickled); it predicts, but to train it again set them "
                f"with set_params({', '.join(n + '=...' for n in unsaved)})."
            )
        fitted = self.__sklearn_is_fitted__()
        continuing = fitted and (incremental or self.warm_start)
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight, reset=not continuing)
        rng = check_random_state(self.random_state)
        if continuing:
            if not incremental:
                self._check_warm_start_target(y)
            head, encoder, weights = self.head_, self._encoder, self._weights_now()
            spec = self._network_spec(X, head)
            if spec != self._spec:
                raise ValueError(
                    "Continuing training needs the same architecture as before: "
                    f"the network was {self._spec}, the parameters now ask for "
                    f"{spec}. Set warm_start=False (or refit) to start afresh."
                )
        else:
            head = check_loss(self._choose_head(y, classes), self.loss)
            encoder = TargetEncoder(head).fit(
                y, classes=classes, like=y, **self._encoder_options()
            )
            spec = self._network_spec(X, head)
            weights = spec.initial_weights(rng)
        Y = encoder.transform(y)
        extra = self._extra_sample_weight(y, incremental)
        if extra is not None:
            sample_weight = sample_weight * extra
        data, val = self._validation_split(X, Y, y, sample_weight, encoder, validation, rng)

        def snapshot(weights, loss_curve):
            attributes = self._network_attributes(head, spec, encoder, y, weights)
            return {**attributes, "loss_curve_": list(loss_curve)}

        hooks = EpochHooks.start(
            self, X, y, sample_weight, 1 if incremental else self.max_iter, snapshot
        )
        result = self._train(spec, head, encoder, weights, data, val, rng, incremental, hooks)
        self._set_fitted(head, spec, encoder, y, result, incremental and fitted)
        if hooks is not None:
            hooks.end_fit(result.weights, self.loss_curve_)
        return self

    def _network_spec(self, X, head):
        if self.body is not None:
            if self.dropout > 0:
                raise ValueError(
                    "dropout applies to the built-in dense body; with body=..., "
                    "put keras.layers.Dropout layers in your body instead."
                )
            model = body_model(self.body, X.shape[1:])
            return _network.BodySpec(
                body_config=canonical_config(model),
                input_shape=tuple(int(d) for d in X.shape[1:]),
                outputs=head.outputs,
            )
        return _network.NetworkSpec(
            n_features=X.shape[1],
            hidden_layer_sizes=self._hidden_sizes(),
            activation=_network.KERAS_ACTIVATIONS[self.activation],
            outputs=head.outputs,
            dropout=float(self.dropout),
        )

    def _validation_split(self, X, Y, y, sample_weight, encoder, validation, rng):
        """Training data and validation data, as float32 (X, Y, W) triples.

        Validation data is the explicit ``X_val``/``y_val`` when given, else a
        ``validation_fraction`` split when ``early_stopping`` is on (stratified
        for single-output labels, as in MLPClassifier), else None. Each
        validation triple carries the original labels as a fourth item.
        """

        def pack(Xs, Ys, ws):
            Xs = np.ascontiguousarray(Xs, dtype=np.float32)
            if not np.isfinite(Xs.sum()) and not np.isfinite(Xs).all():
                raise ValueError(
                    f"{_NON_FINITE} X holds values beyond float32's range "
                    "(|x| > 3.4e38), which the network trains in: scale X, e.g. "
                    "with StandardScaler."
                )
            return (
                Xs,
                np.ascontiguousarray(Ys, dtype=np.float32),
                np.ascontiguousarray(ws, dtype=np.float32),
            )

        X_val, y_val, sw_val = validation
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise ValueError("X_val and y_val must be given together.")
            X_val, y_val = validate_data(
                self, X_val, y_val, reset=False, dtype=_FLOAT_DTYPES, multi_output=True,
                y_numeric=self._task == "regression",
            )  # fmt: skip
            sw_val = _check_sample_weight(sw_val, X_val, ensure_non_negative=True)
            val = (*pack(X_val, encoder.transform(y_val), sw_val), y_val)
            return pack(X, Y, sample_weight), val
        if not self.early_stopping:
            return pack(X, Y, sample_weight), None
        indices = np.arange(len(X))
        stratify = y if encoder.head.target_type in ("binary", "multiclass") else None
        seed = rng.randint(np.iinfo(np.int32).max)
        try:
            train, val = train_test_split(
                indices, test_size=self.validation_fraction, random_state=seed,
                stratify=stratify,
            )  # fmt: skip
        except ValueError:
            if stratify is None:
                raise
            # A class too rare to appear on both sides: split without strata.
            train, val = train_test_split(
                indices, test_size=self.validation_fraction, random_state=seed
            )
        if len(val) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                f"(now {self.validation_fraction}) or the size of your dataset "
                f"({len(X)} samples), or pass X_val and y_val."
            )
        return (
            pack(X[train], Y[train], sample_weight[train]),
            (*pack(X[val], Y[val], sample_weight[val]), y[val]),
        )

    def _train(self, spec, head, encoder, weights, data, validation, rng, incremental, hooks):
        continuing = incremental and self.__sklearn_is_fitted__()
        continuation = (
            _engine.Continuation(
                stopping_state=self._stopping_state,
                optimizer_state=self._optimizer_state,
                samples_seen=self.t_,
                epochs_done=self.n_iter_,
            )
            if continuing
            else None
        )
        return _engine.train(
            _engine.EngineOptions.from_estimator(self), spec, weights, data, validation, rng,
            score_fn=lambda outputs, v: self._score_outputs(encoder, outputs, v[3], v[2]),
            incremental=incremental, continuation=continuation, hooks=hooks,
        )  # fmt: skip

    @staticmethod
    def _network_attributes(head, spec, encoder, y, weights):
        """The fitted attributes that make an estimator predict with ``weights``."""
        attributes = {
            "head_": head,
            "target_type_": head.target_type,
            "n_outputs_": 1 if np.ndim(y) == 1 else np.shape(y)[1],
            "out_activation_": head.activation,
            "n_layers_": spec.n_layers,
            "_spec": spec,
            "_encoder": encoder,
            "_weights": weights,
            "_weights64": [w.astype(np.float64) for w in weights],
        }
        if encoder.classes_ is not None:
            attributes["classes_"] = encoder.classes_
        return attributes

    def _set_fitted(self, head, spec, encoder, y, result, append):
        for name, value in self._network_attributes(
            head, spec, encoder, y, result.weights
        ).items():
            setattr(self, name, value)
        scores, val_losses = result.validation_scores, result.validation_losses
        if append:  # partial_fit: the curves go on
            self.loss_curve_ = self.loss_curve_ + result.loss_curve
            if scores is not None:
                self.validation_scores_ = (self.validation_scores_ or []) + scores
                self.validation_loss_curve_ = (self.validation_loss_curve_ or []) + val_losses
            self.n_iter_ += result.n_iter
            self.t_ += result.n_samples * result.n_iter
        else:
            self.loss_curve_ = result.loss_curve
            self.validation_scores_ = scores
            self.validation_loss_curve_ = val_losses
            self.n_iter_ = result.n_iter
            self.t_ = result.n_samples * result.n_iter
        state = result.state
        if self.early_stopping:
            self.best_loss_ = None
            self.best_validation_score_ = state.best_score
        else:
            self.best_loss_ = state.best_loss
            self.best_validation_score_ = (
                max(self.validation_scores_) if self.validation_scores_ else None
            )
        self._stopping_state = state
        self._optimizer_state = result.optimizer_state
        self.__dict__.pop("_keras_model", None)

    # -- the fitted network ------------------------------------------------
    @property
    def coefs_(self):
        """Kernels of each layer, as in MLP (multiple heads side by side)."""
        check_is_fitted(self)
        return self._layers_side_by_side(self._weights_now()[0::2])

    @property
    def intercepts_(self):
        """Biases of each layer, as in MLP (multiple heads side by side)."""
        check_is_fitted(self)
        return self._layers_side_by_side(self._weights_now()[1::2])

    def _layers_side_by_side(self, per_layer):
        if not self._spec.predicts_in_numpy:
            raise AttributeError(
                "coefs_ and intercepts_ describe the built-in dense body; with "
                "body=..., read the weights from model_."
            )
        n_hidden = len(self._spec.hidden_layer_sizes)
        outputs = per_layer[n_hidden:]
        return [*per_layer[:n_hidden], np.concatenate(outputs, axis=-1)]

    def _weights_now(self):
        """Current weights: from ``model_`` if the user has it in hand."""
        model = self.__dict__.get("_keras_model")
        if model is not None:
            return _network.get_weights(model, self._spec)
        return self._weights

    def _predict_weights(self):
        """Float64 weights for the NumPy forward pass (converted at fit time)."""
        if self.__dict__.get("_keras_model") is not None:
            return [w.astype(np.float64) for w in self._weights_now()]
        return self._weights64

    def _validate_predict_X(self, X):
        """``validate_data(reset=False)``, with a fast path for the common case.

        A finite float ndarray of the right width, from an estimator fitted
        without feature names, is what ``validate_data`` would return as is;
        anything else goes through it, so its checks and messages apply.
        """
        if (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype in _FLOAT_DTYPES
            and 0 < X.shape[0]
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
            and np.isfinite(X.sum())
        ):
            return X
        if self._spec.predicts_in_numpy:
            _check_rank(X)
        X = validate_data(
            self, X, reset=False, accept_sparse="csr", dtype=_FLOAT_DTYPES,
            allow_nd=not self._spec.predicts_in_numpy,
        )  # fmt: skip
        self._check_sample_shape(X, self._spec)
        return X

    @staticmethod
    def _check_sample_shape(X, spec):
        if tuple(X.shape[1:]) != tuple(spec.input_shape):
            raise ValueError(
                f"Each sample of X has shape {tuple(X.shape[1:])}, but the network "
                f"was built for samples of shape {tuple(spec.input_shape)}."
            )

    @property
    def model_(self):
        """The fitted Keras model (built on first access).

        Predictions come from the same weights: if you change the weights of
        ``model_`` (e.g. train it further with Keras), ``predict`` follows.
        """
        check_is_fitted(self)
        model = self.__dict__.get("_keras_model")
        if model is None:
            model = self._spec.build()
            _network.set_weights(model, self._spec, self._weights)
            self._keras_model = model
        return model

    def _network_outputs(self, X):
        check_is_fitted(self)
        X = self._validate_predict_X(X)
        if not self._spec.predicts_in_numpy:
            outputs = self._keras_outputs(X.toarray() if sp.issparse(X) else X)
        elif sp.issparse(X):
            # A chunk of rows at a time: a large sparse X is never densified whole.
            step = _SPARSE_ROWS_PER_CHUNK
            parts = [
                _network.forward(self._spec, self._predict_weights(), X[i : i + step].toarray())
                for i in range(0, X.shape[0], step)
            ]
            outputs = [np.concatenate(chunks) for chunks in zip(*parts)]
        else:
            outputs = _network.forward(self._spec, self._predict_weights(), X)
        if not all(np.isfinite(o.sum()) for o in outputs):
            raise ValueError(
                "The network produced non-finite outputs for this X; its "
                "weights or X hold inf/NaN-producing values. Refit, or scale X."
            )
        return outputs

    def _keras_outputs(self, X):
        """Outputs of a user-body network, from its compiled predict function."""
        predict = self.__dict__.get("_predict_fn")
        if predict is None:
            predict = self._predict_fn = _network.compiled_predict(self.model_, self._spec)
        step = _KERAS_PREDICT_BATCH
        parts = [
            predict(np.asarray(X[i : i + step], dtype=np.float32)) for i in range(0, len(X), step)
        ]
        return [np.concatenate(chunks).astype(np.float64) for chunks in zip(*parts)]

    def __getstate__(self):
        # A copy: object.__getstate__ may return the live __dict__ itself.
        state = dict(super().__getstate__())
        if state.get("_keras_model") is not None:
            state["_weights"] = _network.get_weights(state["_keras_model"], self._spec)
        state.pop("_keras_model", None)
        state.pop("_predict_fn", None)
        state.pop("_weights64", None)
        # The fitted network is enough to predict: a body function or callback
        # that cannot be pickled (a lambda, a local function) is left out.
        dropped = []
        for name in ("body", "callbacks"):
            if state.get(name) is not None and not _picklable(state[name]):
                state[name] = None
                dropped.append(name)
        if dropped:
            state["_unsaved_params"] = dropped
        state["_skout_version"] = __version__
        state["_skout_format"] = _PICKLE_FORMAT
        return state

    def __setstate__(self, state):
        saved = state.pop("_skout_format", None)
        if "_weights" in state and saved != _PICKLE_FORMAT:
            raise ValueError(
                f"This {type(self).__name__} was saved by skout "
                f"{state.get('_skout_version', 'unknown')} in storage format "
                f"{saved}; this skout ({__version__}) reads format "
                f"{_PICKLE_FORMAT}. Load it with the skout version that saved "
                "it, or refit the model."
            )
        super().__setstate__(state)
        if "_weights" in state:
            self._weights64 = [w.astype(np.float64) for w in self._weights]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True  # densified: in full for fit, by chunks for predict
        return tags
