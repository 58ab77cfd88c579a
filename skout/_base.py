"""What AutoHeadClassifier and AutoHeadRegressor share: the fit loop and predict."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _network, _training
from ._encoding import TargetEncoder
from ._version import __version__
from .heads import LOSS_NAMES, check_loss

_FLOAT_DTYPES = (np.float64, np.float32)
# Layout of a pickled fitted estimator; bump when it changes incompatibly.
_PICKLE_FORMAT = 1


class _AutoHeadBase(BaseEstimator):
    """Shared machinery; use AutoHeadClassifier or AutoHeadRegressor."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_network.KERAS_ACTIVATIONS))],
        "solver": [StrOptions({"adam", "sgd"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
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
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions({"auto", *LOSS_NAMES})],
    }

    _task = None  # "classification" or "regression"

    # -- hooks for the subclasses ------------------------------------------
    def _choose_head(self, y):
        raise NotImplementedError

    def _encoder_options(self):
        return {}

    # -- fitting -------------------------------------------------------------
    def _hidden_sizes(self):
        sizes = np.atleast_1d(self.hidden_layer_sizes)
        if sizes.ndim != 1 or sizes.size == 0 or not np.all(sizes >= 1):
            raise ValueError(
                "hidden_layer_sizes must be a positive int or a sequence of "
                f"positive ints, got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_weights")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` and ``y``, choosing its head from ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target; its type decides the output layer, loss and decoding.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss (and the validation score).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def _validate_fit_data(self, X, y, sample_weight, reset):
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=self._task == "regression",
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        return X, y, sample_weight

    def _fit(self, X, y, sample_weight):
        warm = self.warm_start and self.__sklearn_is_fitted__()
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight, reset=not warm)
        head = check_loss(self._choose_head(y), self.loss)
        spec = _network.NetworkSpec(
            n_features=X.shape[1],
            hidden_layer_sizes=self._hidden_sizes(),
            activation=_network.KERAS_ACTIVATIONS[self.activation],
            outputs=head.outputs,
        )
        rng = check_random_state(self.random_state)
        if warm:
            if spec != self._spec:
                raise ValueError(
                    "warm_start=True needs the same target type, classes and "
                    f"architecture as the previous fit: the head was {self.head_!r}, "
                    f"now {head!r}. Set warm_start=False to start afresh."
                )
            encoder, weights = self._encoder, self._weights_now()
        else:
            encoder = TargetEncoder(head).fit(y, **self._encoder_options())
            weights = _network.init_weights(spec, rng)
        Y = encoder.transform(y)
        data, validation = self._split(X, Y, y, sample_weight, head, rng)
        result = self._run_training(spec, weights, data, validation, rng)
        self._set_fitted(head, spec, encoder, y, result)
        return self

    def _split(self, X, Y, y, sample_weight, head, rng):
        def pack(Xs, Ys, ws):
            return (
                np.ascontiguousarray(Xs, dtype=np.float32),
                np.ascontiguousarray(Ys, dtype=np.float32),
                np.ascontiguousarray(ws, dtype=np.float32),
            )

        if not self.early_stopping:
            return pack(X, Y, sample_weight), None
        # Stratify single-output labels, as MLPClassifier does; fall back to a
        # plain split when a class is too rare to appear on both sides.
        stratify = y if head.target_type in ("binary", "multiclass") else None
        try:
            parts = train_test_split(
                X,
                Y,
                sample_weight,
                test_size=self.validation_fraction,
                random_state=rng.randint(np.iinfo(np.int32).max),
                stratify=stratify,
            )
        except ValueError:
            if stratify is None:
                raise
            parts = train_test_split(
                X,
                Y,
                sample_weight,
                test_size=self.validation_fraction,
                random_state=rng.randint(np.iinfo(np.int32).max),
            )
        X_tr, X_val, Y_tr, Y_val, w_tr, w_val = parts
        return pack(X_tr, Y_tr, w_tr), pack(X_val, Y_val, w_val)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"batch_size={self.batch_size} is larger than the {n_samples} "
                "training samples; using one batch of all of them.",
                UserWarning,
                stacklevel=6,  # the user's call to fit
            )
        return min(self.batch_size, n_samples)

    def _run_training(self, spec, weights, data, validation, rng):
        key = _training.TrainerKey(
            network=spec,
            optimizer=_training.OptimizerSpec(
                solver=self.solver,
                beta_1=float(self.beta_1),
                beta_2=float(self.beta_2),
                epsilon=float(self.epsilon),
                momentum=float(self.momentum),
                nesterov=bool(self.nesterovs_momentum),
            ),
            task=self._task,
            has_validation=validation is not None,
            shuffle=bool(self.shuffle),
        )
        seed = int(rng.randint(np.iinfo(np.int32).max))
        # Quiet fits run every epoch in one compiled call; verbose ones one
        # epoch per call, so each epoch can be reported as it ends.
        chunk = 1 if self.verbose else self.max_iter
        curve, scores, best, state = [], [], None, _training.StoppingState()
        optimizer_state, done, result = None, 0, None
        while done < self.max_iter:
            schedule = _training.Schedule(
                learning_rate=float(self.learning_rate_init),
                alpha=float(self.alpha),
                batch_size=self._batch_size(len(data[0])),
                max_epochs=min(chunk, self.max_iter - done),
                tol=float(self.tol),
                n_iter_no_change=int(self.n_iter_no_change),
                seed=seed,
                first_epoch=done,
            )
            result = _training.train(
                key, weights, data, validation, schedule, state, optimizer_state
            )
            weights, optimizer_state, state = (
                result.weights,
                result.optimizer_state,
                result.state,
            )
            best = result.best_weights or best
            curve += result.loss_curve
            scores += result.validation_scores
            done += result.n_iter
            if self.verbose:
                self._report(done, curve, scores)
            if result.stopped:
                break
        if result.diverged:
            raise ValueError(
                f"Training diverged at epoch {done}: the loss became "
                f"{curve[-1]}. Lower learning_rate_init (now "
                f"{self.learning_rate_init}), scale X (e.g. StandardScaler) or "
                "raise alpha."
            )
        if not result.stopped:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=5,  # the user's call to fit
            )
        if validation is not None and best is not None:
            weights = best
        return {
            "weights": weights,
            "loss_curve": curve,
            "validation_scores": scores if validation is not None else None,
            "state": state,
            "n_iter": done,
            "n_samples": len(data[0]),
        }

    def _report(self, epoch, curve, scores):
        line = f"Iteration {epoch}, loss = {curve[-1]:.8f}"
        if scores:
            line += f", validation score = {scores[-1]:.6f}"
        print(line)

    def _set_fitted(self, head, spec, encoder, y, result):
        self.head_ = head
        self.target_type_ = head.target_type
        self.n_outputs_ = 1 if np.ndim(y) == 1 else np.shape(y)[1]
        self.out_activation_ = head.activation
        self.n_layers_ = len(spec.hidden_layer_sizes) + 2
        self.loss_curve_ = result["loss_curve"]
        self.validation_scores_ = result["validation_scores"]
        state = result["state"]
        if self.early_stopping:
            self.best_loss_ = None
            self.best_validation_score_ = state.best_score
        else:
            self.best_loss_ = state.best_loss
            self.best_validation_score_ = None
        self.n_iter_ = result["n_iter"]
        self.t_ = result["n_samples"] * result["n_iter"]
        self._spec = spec
        self._encoder = encoder
        self._weights = result["weights"]
        self._weights64 = [w.astype(np.float64) for w in self._weights]
        self.__dict__.pop("_keras_model", None)

    # -- the fitted network ------------------------------------------------
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
        return validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)

    @property
    def model_(self):
        """The fitted Keras model (built on first access).

        Predictions come from the same weights: if you change the weights of
        ``model_`` (e.g. train it further with Keras), ``predict`` follows.
        """
        check_is_fitted(self)
        model = self.__dict__.get("_keras_model")
        if model is None:
            model = _network.build_model(self._spec)
            _network.set_weights(model, self._spec, self._weights)
            self._keras_model = model
        return model

    def _network_outputs(self, X):
        check_is_fitted(self)
        X = self._validate_predict_X(X)
        outputs = _network.forward(self._spec, self._predict_weights(), X)
        if not all(np.isfinite(o.sum()) for o in outputs):
            raise ValueError(
                "The network produced non-finite outputs for this X; its "
                "weights or X hold inf/NaN-producing values. Refit, or scale X."
            )
        return outputs

    def __getstate__(self):
        # A copy: object.__getstate__ may return the live __dict__ itself.
        state = dict(super().__getstate__())
        if state.get("_keras_model") is not None:
            state["_weights"] = _network.get_weights(state["_keras_model"], self._spec)
        state.pop("_keras_model", None)
        state.pop("_weights64", None)
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
        return tags
