"""What AutoHeadClassifier and AutoHeadRegressor share: the fit loop and predict."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _engine, _features, _framework, _network
from ._callbacks import CallbackSupportMixin, EpochHooks
from ._categorical import string_columns_error
from ._compat import Interval, Options, StrOptions, _check_sample_weight, _fit_context
from ._encoding import TargetEncoder
from ._repr import NetworkReprMixin
from ._state import SOLVERS, FittedState, stopping_tuple
from ._version import __version__
from .body import body_spec, rebuild_error
from .heads import check_loss

_FLOAT_DTYPES = (np.float64, np.float32)
_NON_FINITE = _engine.NON_FINITE
_SPARSE_ROWS_PER_CHUNK = 4096
_KERAS_PREDICT_BATCH = 8192
# Layout of a pickled fitted estimator; bump when it changes incompatibly.
# Format 2: the fitted state as one plain-data dict (skout._state).
_PICKLE_FORMAT = 2
# Attributes a fit sets (read from the FittedState, set together at the swap).
_FITTED_ATTRIBUTES = (
    "head_", "target_type_", "n_features_in_", "feature_names_in_", "n_outputs_",
    "out_activation_", "n_layers_", "classes_", "loss_curve_", "validation_scores_",
    "validation_loss_curve_", "best_loss_", "best_validation_score_", "n_iter_", "t_",
    "is_categorical_", "input_shapes_",
)  # fmt: skip


def _picklable(value):
    import pickle

    try:
        pickle.dumps(value)
    except Exception:  # pickle raises many types: PicklingError, AttributeError, ...
        return False
    return True


def _missing_rows(y):
    """Row indices where ``y`` has no value: NaN, None or pandas' NA.

    Anything that is not a table of values (None, a scalar, a sparse matrix)
    has none here; ``validate_data`` says what is wrong with it.
    """
    if hasattr(y, "isna"):  # a pandas Series or DataFrame: its own idea of missing
        mask = np.asarray(y.isna())
    elif y is None or sp.issparse(y):
        return np.empty(0, dtype=int)
    else:
        values = np.asarray(y)
        if values.dtype.kind == "f":
            mask = np.isnan(values)
        elif values.dtype.kind == "O":
            flat = [
                v is None or (isinstance(v, float) and v != v) or type(v).__name__ == "NAType"
                for v in values.ravel()
            ]
            mask = np.asarray(flat, dtype=bool).reshape(values.shape)
        else:
            return np.empty(0, dtype=int)
    if mask.ndim == 0:
        return np.empty(0, dtype=int)
    if mask.ndim > 1:
        mask = mask.any(axis=tuple(range(1, mask.ndim)))
    return np.flatnonzero(mask)


def _check_no_missing_target(y, name="y"):
    """A clear error for a target with missing values (NaN, None, pandas' NA)."""
    missing = _missing_rows(y)
    if len(missing):
        raise ValueError(
            f"{name} has no value (NaN, None or NA) in {len(missing)} row(s), e.g. rows "
            f"{missing[:5].tolist()}: every training row needs a target. Drop those rows "
            f"first (with pandas: data = data.dropna(subset=[<target column>])), or fill "
            "them in."
        )


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
        "solver": [StrOptions(set(SOLVERS))],
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
        "categorical_features": ["array-like", StrOptions({"from_dtype"}), None],
        "embedding_dim": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), dict],
        "inputs": [None, dict],
        "dtype": [StrOptions({"float32", "float64"})],
        "head_init": [StrOptions({"prior", "constant", "glorot"})],
    }

    _task = None  # "classification" or "regression"

    # -- hooks for the subclasses ------------------------------------------
    def _choose_head(self, y, classes=None):
        raise NotImplementedError

    def _encoder_options(self):
        return {}

    def _loss_options(self):
        """The loss's parameters (``quantile``, ``power``) for :func:`check_loss`."""
        return {}

    def _extra_sample_weight(self, y, incremental, encoder):
        """Weights the subclass multiplies in (class_weight); None for none."""
        return None

    def _check_warm_start_target(self, previous, y):
        """Refuse a target that the fitted network (``previous``) cannot continue on."""

    def _check_continued_target(self, previous, y):
        """Refuse a batch (partial_fit, warm_start) the head of ``previous`` cannot represent."""

    # -- parameters ------------------------------------------------------------
    def _hidden_sizes(self):
        """The hidden layers' widths; ``()`` (as in MLP): no hidden layer."""
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(np.ravel(sizes))
        if not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be a positive int or a sequence of "
                f"positive ints (() for no hidden layer), got {self.hidden_layer_sizes!r}."
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
        return self.__dict__.get("_fitted") is not None

    def _state(self):
        """The fitted state, read once.

        Every public method reads the state through this one call and works
        from the object it returns: a refit in another thread swaps in a new
        state, never half of one.
        """
        state = self.__dict__.get("_fitted")
        if state is None:
            check_is_fitted(self)  # NotFittedError, in scikit-learn's words
            state = self.__dict__["_fitted"]  # fitted meanwhile, by another thread
        return state

    # The fitted state's parts, under the names the rest of skout reads.
    @property
    def _spec(self):
        return self._state().spec

    @property
    def _encoder(self):
        return self._state().encoder

    @property
    def _weights(self):
        return list(self._state().weights)

    def _input_checker(self, previous):
        """A stand-in that ``validate_data`` checks X against and records X on.

        ``validate_data(reset=True)`` sets ``n_features_in_`` and
        ``feature_names_in_`` on the object it is given. A fit gives it this
        copy of the estimator's parameters (with the features of ``previous``,
        the state a continued fit goes on from), so the estimator itself shows
        the old features until the new state is swapped in whole.
        """
        checker = object.__new__(type(self))
        checker.__dict__.update(self.get_params(deep=False))
        if previous is not None:
            checker.__dict__.update(previous.feature_attributes())
        return checker

    def _head_params(self):
        """Parameters that decide the head and the target encoding: a fit that
        continues (warm_start, partial_fit) must not change them."""
        return {"loss": self.loss}

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

        A fit is atomic: if it raises (bad input, divergence, Ctrl-C), the
        estimator is left exactly as it was before the call.

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

    def _validate_fit_data(self, checker, X, y, sample_weight, reset, previous=None):
        """X, y and sample_weight, checked; X's features are recorded on ``checker``.

        Categorical columns and several named inputs go through a
        :class:`~skout._features.FeatureEncoder` (fitted here, or ``previous``'s
        when a fit continues), returned last (None for a plain table); X is
        then an array, or ``{name: array}`` until the body orders them.
        """
        features = None
        if previous is not None or _features.applies(self, X):
            _check_no_missing_target(y)
            X, y, features = _features.validate_fit(self, checker, X, y, previous, reset)
        else:
            if self.body is None:
                _check_rank(X)
            _check_no_missing_target(y)
            X, y = _explain_text_columns(
                validate_data, X,
                checker, X, y, reset=reset, allow_nd=self.body is not None,
                accept_sparse=["csr", "csc", "coo"], dtype=_FLOAT_DTYPES, multi_output=True,
                y_numeric=self._task == "regression",
            )  # fmt: skip
        if sp.issparse(X):
            X = X.toarray()  # the network trains on dense batches
        y_sparse = sp.issparse(y)
        if y_sparse:
            y = y.toarray()  # a target is n x K: small; its head is read from the values
        rows = next(iter(X.values())) if isinstance(X, dict) else X
        sample_weight = _check_sample_weight(
            sample_weight, rows, dtype=np.float64, ensure_non_negative=True
        )
        return X, y, sample_weight, y_sparse, features

    def _fit(self, X, y, sample_weight, *, validation=(None, None, None),
             incremental=False, classes=None):  # fmt: skip
        # Everything the fit produces is built on the side, X is validated on a
        # stand-in (_input_checker), and the estimator takes the new state in one
        # swap at the end. Only scikit-learn's callback machinery writes to the
        # estimator meanwhile: a fit that raises (or is interrupted) puts back
        # what was there.
        before = dict(self.__dict__)
        try:
            state, hooks = self._fit_state(X, y, sample_weight, validation, incremental, classes)
            if hooks is not None:
                hooks.end_fit(list(state.weights), list(state.loss_curve))
        except BaseException:
            self.__dict__ = before
            raise
        self._swap_in(state)
        return self

    def _swap_in(self, state):
        """Make ``state`` the estimator's fitted state, in one step.

        The new attribute dict is built aside and assigned at once: a reader in
        another thread sees the old state with its attributes or the new one
        with its own, never an attribute missing or one of each.
        """
        fresh = dict(self.__dict__)
        for name in _FITTED_ATTRIBUTES:
            fresh.pop(name, None)
        fresh.update(state.attributes())
        fresh["_fitted"] = state
        self.__dict__ = fresh

    def _fit_state(self, X, y, sample_weight, validation, incremental, classes):
        # A fit in a process forked after the framework started would hang.
        _framework.check_not_forked()
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
        _check_device(self.device)
        _check_callbacks(self.callbacks)
        previous = self.__dict__.get("_fitted")
        continuing = previous is not None and (incremental or self.warm_start)
        checker = self._input_checker(previous if continuing else None)
        if continuing:
            _features.check_same_columns(self, X, previous.features)
        X_given = X  # what predict reads (scikit-learn's callbacks predict on it)
        X, y, sample_weight, y_sparse, features = self._validate_fit_data(
            checker, X, y, sample_weight, reset=not continuing,
            previous=previous.features if continuing else None,
        )  # fmt: skip
        n_features_in = checker.n_features_in_
        feature_names_in = checker.__dict__.get("feature_names_in_")
        rng = check_random_state(self.random_state)
        if continuing:
            self._check_same_head_params(previous)
            if (
                incremental
                and previous.optimizer_state is not None
                and previous.solver != self.solver
            ):
                raise ValueError(
                    f"partial_fit goes on with the optimizer state of solver="
                    f"{previous.solver!r}, but solver is now {self.solver!r}. Set "
                    f"solver={previous.solver!r} back, or refit from scratch (fit, "
                    "with warm_start=True to keep the weights)."
                )
            if not incremental:
                self._check_warm_start_target(previous, y)
            self._check_continued_target(previous, y)
            head, encoder = previous.head, previous.encoder
            self._check_target_range(y, head)
            weights = previous.current_weights()
            spec = self._network_spec(X, head, features)
            if spec != previous.spec:
                raise ValueError(
                    "Continuing training needs the same architecture as before: "
                    f"the network was {previous.spec}, the parameters now ask for "
                    f"{spec}. Set warm_start=False (or refit) to start afresh."
                )
        else:
            head = check_loss(self._choose_head(y, classes), self.loss, **self._loss_options())
            self._check_target_range(y, head)
            encoder = TargetEncoder(head).fit(
                y, classes=classes, like=y, sample_weight=sample_weight, sparse=y_sparse,
                **self._encoder_options(),
            )  # fmt: skip
            self._check_target_scale(y, encoder)
            spec = self._network_spec(X, head, features)
            try:
                weights = spec.initial_weights(rng)
            except Exception as exc:  # Keras raises many types from deserialising
                if self.body is None:
                    raise
                raise rebuild_error(exc, spec.input_shape) from exc
        if features is not None:
            X = features.arrange(X, spec)  # several inputs: in the body's order
        Y = encoder.transform(y)
        extra = self._extra_sample_weight(y, incremental, encoder)
        if extra is not None:
            sample_weight = sample_weight * extra
        _check_training_weights(sample_weight, extra is not None, self.dtype)
        data, val = self._validation_split(
            checker, X, Y, y, sample_weight, encoder, validation, rng, features, spec
        )
        if not continuing and not incremental and self.head_init != "glorot":
            # The heads start at the training rows' prior (class balance, target
            # level), not at random intercepts; the other layers as drawn. Not
            # for partial_fit: its first batch is one sample of a stream, whose
            # balance is not the stream's (a class it lacks would start at 0).
            first_head = 2 * len(spec.hidden_layer_sizes) if spec.predicts_in_numpy else None
            weights = _engine.start_from_prior(
                weights, head.outputs, data[1], data[2], first_head,
                zero_kernels=self.head_init == "constant",
            )  # fmt: skip
        if features is not None:  # which embedding rows the training rows read
            features = features.counted(spec, data[0], data[2])
        n_outputs = 1 if np.ndim(y) == 1 else np.shape(y)[1]
        head_params = self._head_params()

        def build(weights, curve, **more):
            if features is not None:  # rows no training row read: the others' mean
                weights = features.fill_untrained(spec, weights)
            return FittedState(
                head=head, spec=spec, encoder=encoder,
                weights=tuple(np.asarray(w, dtype=self.dtype) for w in weights),
                n_features_in=n_features_in, feature_names_in=feature_names_in,
                n_outputs=n_outputs, loss_curve=tuple(curve), head_params=head_params,
                features=features, **{**_NO_PROGRESS, **more},
            )  # fmt: skip

        def snapshot(weights, loss_curve):
            # For scikit-learn's callbacks: a copy that predicts with these weights.
            state = build(weights, loss_curve)
            return {**state.attributes(), "_fitted": state}

        hooks = EpochHooks.start(
            self, X if features is None else X_given, y, sample_weight,
            1 if incremental else self.max_iter, snapshot,
        )  # fmt: skip
        continuation = None
        if incremental and previous is not None:
            continuation = _engine.Continuation(
                stopping_state=previous.stopping,
                optimizer_state=(
                    None if previous.optimizer_state is None else list(previous.optimizer_state)
                ),
                samples_seen=previous.t,
                epochs_done=previous.n_iter,
            )
        result = _engine.train(
            _engine.EngineOptions.from_estimator(self), spec, weights, data, val, rng,
            incremental=incremental, continuation=continuation, hooks=hooks,
        )  # fmt: skip
        continued = previous if continuing else None
        return self._outcome_state(build, continued, result, incremental), hooks

    def _outcome_state(self, build, previous, result, incremental):
        """The new FittedState from the engine's outcome.

        ``previous`` is the state a continued fit goes on from: ``partial_fit``
        and a warm-start ``fit`` extend its curves (``loss_curve_``,
        ``validation_scores_``) and samples seen (``t_``), as scikit-learn's MLP
        does; ``n_iter_`` counts this fit's epochs after a warm start (MLP's
        count) and every epoch of a ``partial_fit`` chain.
        """
        curve = [float(v) for v in result.loss_curve]
        scores = _floats(result.validation_scores)
        val_losses = _floats(result.validation_losses)
        n_iter, t = result.n_iter, result.n_samples * result.n_iter
        if previous is not None:  # the curves go on
            curve = [*previous.loss_curve, *curve]
            if scores is not None:
                scores = [*(previous.validation_scores or ()), *scores]
                val_losses = [*(previous.validation_loss_curve or ()), *val_losses]
            elif incremental:
                scores, val_losses = previous.validation_scores, previous.validation_loss_curve
            t = previous.t + t
            if incremental:
                n_iter = previous.n_iter + n_iter
        stopping = stopping_tuple(result.state)
        if self.early_stopping:
            best_loss, best_score = None, stopping[1]
        else:
            best_loss, best_score = stopping[0], (max(scores) if scores else None)
        optimizer = result.optimizer_state
        return build(
            result.weights,
            curve,
            validation_scores=None if scores is None else tuple(scores),
            validation_loss_curve=None if val_losses is None else tuple(val_losses),
            n_iter=int(n_iter),
            t=int(t),
            best_loss=None if best_loss is None else float(best_loss),
            best_validation_score=None if best_score is None else float(best_score),
            stopping=stopping,
            optimizer_state=None if optimizer is None else tuple(np.asarray(a) for a in optimizer),
            solver=self.solver,
        )

    def _check_same_head_params(self, previous):
        changed = {
            name: (was, getattr(self, name))
            for name, was in previous.head_params.items()
            if getattr(self, name) != was
        }
        if changed:
            said = ", ".join(f"{n}={now!r} (was {was!r})" for n, (was, now) in changed.items())
            raise ValueError(
                f"Continuing training (warm_start or partial_fit) keeps the head and "
                f"target encoding of the fitted model, but {said} would change them. "
                "Set them back, or refit from scratch with warm_start=False."
            )

    def _check_target_range(self, y, head):
        """Hook: refuse target values the head's loss cannot take (every batch)."""

    def _check_target_scale(self, y, encoder):
        """Hook: refuse a target that float32 training cannot resolve."""

    def _network_spec(self, X, head, features=None):
        several = isinstance(X, dict)  # {name: array}: a body's named inputs
        if several and self.body is None:
            raise ValueError(
                f"Several named inputs ({', '.join(X)}) need a body with those named "
                "keras.Input layers: pass body=keras.Model([...inputs...], features). The "
                "built-in dense network reads one table (a DataFrame, with categorical "
                "columns embedded)."
            )
        if self.body is not None:
            if self.dtype != "float32":
                raise ValueError(
                    f"dtype={self.dtype!r} applies to the built-in dense network; a body "
                    "trains in its layers' own dtype (float32). Set dtype='float32', or "
                    "drop body= to train the dense network in float64."
                )
            if self.dropout > 0:
                raise ValueError(
                    "dropout applies to the built-in dense body; with body=..., "
                    "put keras.layers.Dropout layers in your body instead."
                )
            shapes = {name: x.shape[1:] for name, x in X.items()} if several else X.shape[1:]
            return body_spec(self.body, shapes, head.outputs)
        return _network.NetworkSpec(
            n_features=X.shape[1],
            hidden_layer_sizes=self._hidden_sizes(),
            activation=_network.KERAS_ACTIVATIONS[self.activation],
            outputs=head.outputs,
            dropout=float(self.dropout),
            embeddings=() if features is None else features.embeddings(self.embedding_dim),
        )

    def _validation_split(self, checker, X, Y, y, sample_weight, encoder, validation, rng,
                          features=None, spec=None):  # fmt: skip
        """Training data and validation data, as (X, Y, W) triples in ``dtype``.

        Validation data is the explicit ``X_val``/``y_val`` when given, else a
        ``validation_fraction`` split when ``early_stopping`` is on (stratified
        for single-output labels, as in MLPClassifier), else None. ``X`` is a
        tuple of arrays for a body with several inputs; ``features`` encodes
        ``X_val`` as it encoded ``X``.
        """
        dtype = np.dtype(self.dtype)

        def as_dtype(x):
            with np.errstate(over="ignore"):
                x = np.ascontiguousarray(x, dtype=dtype)
            if not np.isfinite(x.sum()) and not np.isfinite(x).all():
                raise ValueError(
                    f"{_NON_FINITE} X holds values beyond {dtype}'s range "
                    f"(|x| > {np.finfo(dtype).max:.2g}), which the network trains in: "
                    "scale X, e.g. with StandardScaler."
                )
            return x

        def pack(Xs, Ys, ws):
            Xs = _engine.each(as_dtype, Xs)
            return (
                Xs,
                np.ascontiguousarray(Ys, dtype=dtype),
                np.ascontiguousarray(ws, dtype=dtype),
            )

        X_val, y_val, sw_val = validation
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise ValueError("X_val and y_val must be given together.")
            _check_no_missing_target(y_val, "y_val")
            if features is not None:
                X_val, y_val, _ = _features.validate_fit(self, checker, X_val, y_val, features)
                X_val = features.arrange(X_val, spec)
            else:
                X_val, y_val = validate_data(
                    checker, X_val, y_val, reset=False, dtype=_FLOAT_DTYPES, multi_output=True,
                    y_numeric=self._task == "regression",
                )  # fmt: skip
            sw_val = _check_sample_weight(
                sw_val, X_val[0] if isinstance(X_val, tuple) else X_val, ensure_non_negative=True
            )
            # Scored in the network's dtype too: weights it cannot hold would make
            # every validation score NaN, and early stopping would never stop.
            _check_weights(sw_val, "validation weights (sample_weight_val)", self.dtype)
            return pack(X, Y, sample_weight), pack(X_val, encoder.transform(y_val), sw_val)
        if not self.early_stopping:
            return pack(X, Y, sample_weight), None
        n_samples = _engine.n_rows(X)
        indices = np.arange(n_samples)
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
                f"({n_samples} samples), or pass X_val and y_val."
            )
        return (
            pack(_engine.rows(X, train), Y[train], sample_weight[train]),
            pack(_engine.rows(X, val), Y[val], sample_weight[val]),
        )

    # -- the fitted network ------------------------------------------------
    @property
    def coefs_(self):
        """Kernels of each layer, as in MLP (multiple heads side by side)."""
        state = self._state()
        return _layers_side_by_side(state.spec, _layer_weights(state)[0::2])

    @property
    def intercepts_(self):
        """Biases of each layer, as in MLP (multiple heads side by side)."""
        state = self._state()
        return _layers_side_by_side(state.spec, _layer_weights(state)[1::2])

    @classmethod
    def _validate_predict_X(cls, state, X):
        """``validate_data(reset=False)`` against ``state``, with a fast path.

        A finite float ndarray of the right width, from a state fitted
        without feature names, is what ``validate_data`` would return as is;
        anything else goes through it, so its checks and messages apply.
        """
        spec = state.spec
        if (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype in _FLOAT_DTYPES
            and 0 < X.shape[0]
            and X.shape[1] == state.n_features_in
            and state.feature_names_in is None
            and np.isfinite(X.sum())
        ):
            return X
        if spec.predicts_in_numpy:
            _check_rank(X)
        X = _explain_text_columns(
            validate_data, X,
            state.input_checker(cls), X, reset=False, accept_sparse="csr", dtype=_FLOAT_DTYPES,
            allow_nd=not spec.predicts_in_numpy, fitted=True,
        )  # fmt: skip
        if tuple(X.shape[1:]) != tuple(spec.input_shape):
            raise ValueError(
                f"Each sample of X has shape {tuple(X.shape[1:])}, but the network "
                f"was built for samples of shape {tuple(spec.input_shape)}."
            )
        return X

    def _is_built(self, name):
        state = self.__dict__.get("_fitted")
        return name == "model_" and state is not None and state.keras_model is not None

    @property
    def model_(self):
        """The network as a ``keras.Model``, part of the fitted state.

        Built from the fitted weights on first access, then the same object
        until the next ``fit`` (or ``partial_fit``) replaces the whole fitted
        state: a reference kept across a fit is the model of the old state.
        It is compiled with the head's loss (without the ``alpha`` L2 term)
        and an optimizer like ``solver`` (Adam for ``"lbfgs"``), so
        ``model_.fit``, ``model_.evaluate`` and ``model_.optimizer`` work;
        skout trains with its own loop, so the optimizer starts fresh.
        Predictions come from the same weights: if you change the weights of
        ``model_`` (e.g. train it further with Keras), ``predict`` follows.
        """
        state = self._state()
        return state.build_keras_model(compile_options=self._keras_compile_options())

    def _keras_compile_options(self):
        """Optimizer name and settings for compiling ``model_`` like this estimator."""
        if self.solver == "sgd":
            return {
                "optimizer": "SGD",
                "learning_rate": float(self.learning_rate_init),
                "momentum": float(self.momentum),
                "nesterov": bool(self.nesterovs_momentum),
            }
        return {
            "optimizer": "Adam",
            "learning_rate": float(self.learning_rate_init),
            "beta_1": float(self.beta_1),
            "beta_2": float(self.beta_2),
            "epsilon": float(self.epsilon),
        }

    @classmethod
    def _network_outputs(cls, state, X, logits=False):
        """The network's outputs for ``X``, all from the one fitted ``state``
        (``logits=True``: before the heads' output functions)."""
        spec = state.spec
        if state.features is not None:  # categorical codes, several inputs
            X = state.features.transform(state.input_checker(cls), X)
            X = state.features.arrange(X, spec)
        else:
            X = cls._validate_predict_X(state, X)
        if not spec.predicts_in_numpy:
            outputs = _keras_outputs(state, X.toarray() if sp.issparse(X) else X, logits)
        elif sp.issparse(X):
            # A chunk of rows at a time: a large sparse X is never densified whole.
            step = _SPARSE_ROWS_PER_CHUNK
            parts = [
                _engine.forward(spec, state.weights64(), X[i : i + step].toarray(), logits)
                for i in range(0, X.shape[0], step)
            ]
            outputs = [np.concatenate(chunks) for chunks in zip(*parts)]
        else:
            outputs = _engine.forward(spec, state.weights64(), X, logits)
        if not all(np.isfinite(o.sum()) for o in outputs):
            raise ValueError(
                "The network produced non-finite outputs for this X; its "
                "weights or X hold inf/NaN-producing values. Refit, or scale X."
            )
        return outputs

    # -- persistence -----------------------------------------------------------
    def __getstate__(self):
        # A copy: object.__getstate__ may return the live __dict__ itself.
        state = dict(super().__getstate__())
        fitted = state.pop("_fitted", None)
        for name in _FITTED_ATTRIBUTES:  # rebuilt from the fitted state on load
            state.pop(name, None)
        # The fitted network is enough to predict: a body function or callback
        # that cannot be pickled (a lambda, a local function) is left out.
        dropped = []
        for name in ("body", "callbacks"):
            if state.get(name) is not None and not _picklable(state[name]):
                state[name] = None
                dropped.append(name)
        if dropped:
            state["_unsaved_params"] = dropped
        if fitted is not None:
            state["_fitted_state"] = fitted.to_dict()
        state["_skout_version"] = __version__
        state["_skout_format"] = _PICKLE_FORMAT
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("_skout_format", None)
        version = state.get("_skout_version", "unknown")
        # Strict: only the int itself (True == 1 and 1.0 == 1 in Python).
        fitted_content = "_fitted_state" in state or "_weights" in state
        if fitted_content and (type(saved) is not int or saved != _PICKLE_FORMAT):
            raise ValueError(
                f"This {type(self).__name__} was saved by skout {version} in "
                f"storage format {saved!r}; this skout ({__version__}) reads "
                f"format {_PICKLE_FORMAT}. Load it with the skout version that "
                "saved it, or refit the model."
            )
        data = state.pop("_fitted_state", None)
        fitted = None if data is None else FittedState.from_dict(data, task=self._task)
        for name in _FITTED_ATTRIBUTES:
            state.pop(name, None)
        self._check_saved_names(state)
        super().__setstate__(state)
        if fitted is not None:
            self._swap_in(fitted)

    def _check_saved_names(self, state):
        """Refuse saved attributes that would stand in for skout's own.

        The fitted state comes only from ``_fitted_state``, checked above; a
        saved ``_fitted``, or a name that hides a method or property of the
        class (``predict``, ``model_``, ...), would bypass those checks.
        """
        params = set(self._get_param_names())
        hiding = sorted(
            name
            for name in state
            if not isinstance(name, str)
            or name == "_fitted"
            or (name not in params and hasattr(type(self), name))
        )
        if hiding:
            raise ValueError(
                f"Cannot load this skout model: it sets {hiding[0]!r}, which would hide "
                f"{type(self).__name__}'s own {hiding[0]!r}. The file is damaged or was "
                "not written by skout; refit the model, or load a file you trust."
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True  # densified: in full for fit, by chunks for predict
        return tags


# -- checks made before training ---------------------------------------------------
_NO_PROGRESS = {
    "validation_scores": None,
    "validation_loss_curve": None,
    "n_iter": 0,
    "t": 0,
    "best_loss": None,
    "best_validation_score": None,
    "stopping": stopping_tuple(None),
    "optimizer_state": None,
    "solver": None,
}


def _explain_text_columns(validate, X_given, *args, fitted=False, **kwargs):
    """``validate(*args, **kwargs)``, whose "could not convert string to float"
    for text columns of ``X_given`` becomes an error that names them and says
    how to declare them categorical."""
    try:
        return validate(*args, **kwargs)
    except ValueError as exc:
        if "could not convert" not in str(exc):
            raise
        error = string_columns_error(X_given, exc, fitted=fitted)
        if error is None:
            raise
        raise error from exc


def _floats(values):
    return None if values is None else [float(v) for v in values]


def _float32_or_refuse(X):
    """X as float32, refusing values that float32 turns into inf."""
    with np.errstate(over="ignore"):
        X32 = np.asarray(X, dtype=np.float32)
    if not np.isfinite(X32.sum()) and not np.isfinite(X32).all():
        raise ValueError(
            "X holds values beyond float32's range (|x| > 3.4e38), which this "
            "network computes in: they would all read as inf. Scale X as at fit "
            "time (e.g. with StandardScaler)."
        )
    return X32


def _keras_outputs(state, X, logits=False):
    """Outputs of a user-body network, from its architecture's compiled predict
    (``X`` a tuple of arrays for a body with several inputs)."""
    X = _engine.each(_float32_or_refuse, X)
    predict = state.predict_fn(logits)
    step = _KERAS_PREDICT_BATCH
    n = _engine.n_rows(X)
    parts = [predict(_engine.rows(X, slice(i, i + step))) for i in range(0, n, step)]
    return [np.concatenate(chunks).astype(np.float64) for chunks in zip(*parts)]


def _layer_weights(state):
    """The layers' kernels and biases (not a dense network's embedding tables)."""
    weights = state.current_weights()
    return weights[: state.spec.n_layer_weights] if state.spec.predicts_in_numpy else weights


def _layers_side_by_side(spec, per_layer):
    """MLP's layout of per-layer arrays: the output heads' side by side."""
    if not spec.predicts_in_numpy:
        raise AttributeError(
            "coefs_ and intercepts_ describe the built-in dense body; with "
            "body=..., read the weights from model_."
        )
    n_hidden = len(spec.hidden_layer_sizes)
    outputs = per_layer[n_hidden:]
    return [*per_layer[:n_hidden], np.concatenate(outputs, axis=-1)]


_DEVICE_FORMS = (
    "None (TensorFlow's default), 'spread', or a TensorFlow device name such as "
    "'/CPU:0', '/GPU:0' or '/device:GPU:1'"
)


def _check_device(device):
    """Refuse a ``device`` that TensorFlow would misread or silently ignore."""
    import re

    if device is None or device == "spread":
        return
    match = re.fullmatch(
        r"(?:/job:\w+(?:/replica:\d+)?(?:/task:\d+)?)?/?(?:device:)?(CPU|GPU|TPU):(\d+)",
        device,
        flags=re.IGNORECASE,
    )
    if match is None:
        raise ValueError(f"device={device!r} is not a device name. Use {_DEVICE_FORMS}.")
    from ._network import import_keras

    if import_keras().backend.backend() != "tensorflow":
        return  # the engine says that device= is TensorFlow's
    import tensorflow as tf

    kind, index = match.group(1).upper(), int(match.group(2))
    visible = [d.name for d in tf.config.list_logical_devices()]
    if not any(name.upper().endswith(f"DEVICE:{kind}:{index}") for name in visible):
        raise ValueError(
            f"device={device!r}: this machine has no {kind}:{index}; TensorFlow "
            f"sees {visible or 'no devices'}. Use one of them, or device=None."
        )


def _check_callbacks(callbacks):
    if not callbacks:
        return
    from ._network import import_keras

    keras = import_keras()
    wrong = [c for c in callbacks if not isinstance(c, keras.callbacks.Callback)]
    if wrong:
        raise ValueError(
            f"callbacks must be a list of keras.callbacks.Callback instances; got "
            f"{wrong[0]!r} ({type(wrong[0]).__name__}). For scikit-learn's callbacks "
            "use set_callbacks(...)."
        )


def _check_training_weights(sample_weight, with_class_weight, dtype="float32"):
    """The weights the network trains with: finite, >= 0, not all zero in ``dtype``."""
    source = "sample_weight * class_weight" if with_class_weight else "sample_weight"
    _check_weights(sample_weight, f"training weights ({source})", dtype)


def _check_weights(weights, what, dtype="float32"):
    """``weights`` as ``dtype`` holds them: finite, >= 0, not all zero."""
    if not np.all(np.isfinite(weights)):
        raise ValueError(f"The {what} hold NaN or inf. Give finite class and sample weights.")
    if np.any(weights < 0):
        raise ValueError(
            f"The {what} are negative for {int(np.sum(weights < 0))} sample(s); weights "
            "must be >= 0."
        )
    if not np.any(weights > 0):
        raise ValueError(
            f"The {what} are 0 for every sample: nothing to learn from. Weights must "
            "contain at least one non-zero number."
        )
    with np.errstate(over="ignore", under="ignore"):
        in_dtype = weights.astype(dtype)
    if not np.any(in_dtype > 0) or not np.all(np.isfinite(in_dtype)):
        raise ValueError(
            f"The {what} range from {weights.min():.3g} to {weights.max():.3g}, beyond "
            f"what {dtype} (which the network trains in) holds: they would become 0 or "
            "inf. Rescale them, e.g. divide by their maximum."
        )
