"""AutoHeadRegressor: a Keras network for one or several numeric targets."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if

from ._base import _AutoHeadBase
from ._compat import Interval, StrOptions, _fit_context
from .heads import REGRESSOR_LOSS_NAMES, choose_head

# Beyond this, L-BFGS cannot fit an unstandardised target in float32: its
# squared errors swamp the loss's resolution and it "converges" at once.
_LARGEST_RAW_TARGET = 1e8
# A target this close to float64's largest number leaves predictions (the
# standardised output scaled back) no room: they overflow on the training X.
_LARGEST_TARGET = float(np.finfo(np.float64).max) / 10
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class AutoHeadRegressor(RegressorMixin, _AutoHeadBase):
    """Keras neural-network regressor with a head sized from ``y``.

    A 1-D target gets one output unit, a 2-D target one per column, trained
    with mean squared error (``loss="auto"``), or with the loss that fits the
    target: ``"poisson"`` for counts, ``"gamma"`` and ``"tweedie"`` for
    positive amounts (a log link: the output is exp of the last layer, so
    predictions are positive), ``"absolute_error"`` for the median and
    ``"quantile"`` for one quantile or a list of them (which never cross).
    Every numeric target is continuous here: integer valued targets such as
    ``load_diabetes().target`` are regressed, not classified. The target is
    scaled for training and restored in ``predict`` where the loss allows it
    (``standardize_target=False`` turns that off).

    Parameters mean what they mean in :class:`~sklearn.neural_network.MLPRegressor`.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Units of each hidden ``Dense`` layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the hidden layers.
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer. ``"lbfgs"`` is full-batch L-BFGS (small data; TensorFlow
        backend), as in scikit-learn's MLP.
    alpha : float, default=1e-4
        L2 penalty on the kernels, scaled as in ``MLPRegressor``.
    batch_size : int or "auto", default="auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule for ``solver="sgd"``, as in scikit-learn's MLP.
    learning_rate_init : float, default=1e-3
        Learning rate.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the validation split.
    tol : float, default=1e-4
        Minimum improvement of the loss (or validation R^2) per epoch.
    verbose : bool, default=False
        Print the loss after every epoch.
    warm_start : bool, default=False
        Start the next ``fit`` from the current weights.
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for ``solver="sgd"``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its R^2 stops
        improving and restore the best weights.
    validation_fraction : float, default=0.1
        Share of the data held out with ``early_stopping``.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping.
    max_fun : int, default=15000
        Most loss evaluations of ``solver="lbfgs"``.
    dropout : float, default=0.0
        Rate of a ``Dropout`` layer after each hidden layer of the built-in
        dense body (masks seeded from ``random_state``).
    callbacks : list of keras.callbacks.Callback, default=None
        Keras callbacks. skout's compiled loop then runs one epoch per call and
        sends them the epoch-level events (``on_train_begin``/``end``,
        ``on_epoch_begin``/``end`` with logs ``loss``, ``learning_rate``,
        ``val_loss``, ``val_score``); batch-level events are not sent.
        ``model.stop_training``, a learning rate set on ``model.optimizer`` and
        weights set on the model are honoured. For scikit-learn's callbacks use
        ``set_callbacks``.
    device : None, "spread" or str, default=None
        TensorFlow device to train on: None for TensorFlow's default (the first
        GPU when there is one), ``"spread"`` to spread parallel workers over
        every visible GPU, or a device name such as ``"/GPU:1"``.
    body : keras.Model, callable or KerasBody, default=None
        Your own network up to, but not including, the output layer (images,
        sequences, ...): a Keras model (its architecture, never its weights),
        ``build(input_shape) -> keras.Model``, or :class:`skout.KerasBody`
        whose parameters are tunable as ``body__<name>``. None builds the dense
        body from ``hidden_layer_sizes`` and ``activation``. A body with several
        named ``keras.Input`` layers takes ``X`` as :class:`skout.Inputs`, or
        as a DataFrame mapped by ``inputs``.
    categorical_features : "from_dtype", array-like of str, int or bool, or \
            None, default="from_dtype"
        The categorical columns of ``X``, as in
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`:
        ``"from_dtype"`` takes the DataFrame columns of pandas' ``category``
        dtype (polars' ``Categorical`` and ``Enum``); or column names, indices,
        or a boolean mask; None for none. The dense network learns an
        embedding of each (``embedding_dim``) beside the numeric columns; a
        category not seen in ``fit`` and a missing value each have their own
        row, so ``predict`` never fails on them. A custom body gets each such
        column as integer codes (``0 .. n - 1`` for its ``n`` categories,
        ``n`` unseen, ``n + 1`` missing). See :ref:`categorical`.
    embedding_dim : "auto", int or dict, default="auto"
        Width of each categorical column's embedding. ``"auto"``:
        ``min(50, ceil(1.6 * n_categories ** 0.56))``; an int: that width for
        every column; a dict: ``{column name or index: width}``, ``"auto"``
        for the columns it does not name.
    inputs : dict or None, default=None
        For a body with several named inputs and a DataFrame ``X``:
        ``{input name: columns}``, the columns as names, indices, a boolean
        mask or a selector such as
        :func:`~sklearn.compose.make_column_selector`. A group of columns
        whose number is the size of the body's declared input shape is
        reshaped to it (pixel columns to an image). Columns no input names
        are not used.
    loss : str, default="auto"
        ``"auto"`` or ``"squared_error"`` (mean squared error: predicts the
        mean), ``"absolute_error"`` (the median), ``"huber"``, ``"log_cosh"``;
        ``"poisson"`` (y >= 0, not all 0), ``"gamma"`` (y > 0) and
        ``"tweedie"`` (y >= 0, with ``power``), each trained with half the
        deviance of its distribution on a log link, predicting the mean;
        ``"quantile"`` (with ``quantile``), the pinball loss. scikit-learn's
        names (``MLPRegressor``, ``HistGradientBoostingRegressor``) and
        Keras's (``"mean_squared_error"``, ...) are both accepted; a
        classification loss is refused. ``score`` stays R^2 whatever the
        loss, as for every scikit-learn regressor; early stopping judges the
        validation data by the loss's own D^2 (1 - deviance / the deviance of
        the constant prior), R^2 for squared error.
    quantile : float or list of float, default=None
        For ``loss="quantile"``: the level to predict, in (0, 1), or a list of
        levels (``predict`` then returns one column per level, in increasing
        order, and the columns never cross: a 90 % interval is
        ``quantile=[0.05, 0.95]``). Required with ``loss="quantile"``.
    power : float, default=1.5
        For ``loss="tweedie"``: the Tweedie power, in [1, 2] (1 is Poisson, 2
        is gamma; in between, a compound Poisson-gamma: exact zeros and
        positive amounts, as insurance claims).
    standardize_target : bool, default=True
        Train on a scaled target and undo the scaling in ``predict``:
        ``(y - mean) / std`` for squared error, huber and log-cosh, ``(y -
        median) / median absolute deviation`` for the median and quantiles
        (robust to outliers, and a quantile of the scaled target is the
        scaled quantile); never for the log-link losses, whose scale is the
        output bias's.
    head_init : {"prior", "constant", "glorot"}, default="prior"
        Where the output layer starts. ``"prior"``: its bias at the constant
        that minimises the loss on the training data (the target's mean,
        median or quantiles in the scaled space; the log of the mean for a
        log link), its kernel drawn at random: a count model whose mean is 40
        starts at 40, not at 1. ``"constant"``: the same bias and a zero
        kernel, so the untrained network predicts that constant exactly.
        ``"glorot"``: bias and kernel at random, as ``MLPRegressor``.
    dtype : {"float32", "float64"}, default="float32"
        What the built-in dense network's weights and arithmetic are, as
        ``MLPRegressor`` trains in the dtype of ``X``. float32 is faster;
        float64 fits that differ only in the order of their sums agree to
        about 1e-15 instead of 1e-7 (scikit-learn's sample-weight checks need
        it). On Keras's JAX backend, float64 needs JAX's 64-bit mode
        (``jax.config.update("jax_enable_x64", True)``).

    Attributes
    ----------
    head_ : Head
        The chosen output head.
    target_type_ : {"continuous", "continuous-multioutput"}
        The target type.
    n_features_in_ : int
        Number of features seen during fit (columns of ``X``; for
        :class:`skout.Inputs`, the numbers of one sample over all its arrays).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X had string column names.
    is_categorical_ : ndarray of shape (n_features_in_,) or None
        Which columns were categorical (None when none was).
    input_shapes_ : dict
        For a body with several inputs: ``{input name: one sample's shape}``.
    n_outputs_ : int
        Number of target columns.
    model_ : keras.Model
        The trained Keras model (it predicts the standardised target).
    loss_curve_ : list of float
        Training loss after each epoch.
    validation_scores_ : list of float or None
        Validation R^2 after each epoch, with validation data.
    validation_loss_curve_ : list of float or None
        Validation loss (without the L2 term) after each epoch.
    best_loss_, best_validation_score_ : float or None
        As in ``MLPRegressor``.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen.

    See Also
    --------
    AutoHeadClassifier : The same for class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skout import AutoHeadRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = make_pipeline(StandardScaler(), AutoHeadRegressor(
    ...     hidden_layer_sizes=(16,), max_iter=50, random_state=0))
    >>> reg.fit(X, y).predict(X[:3]).shape  # doctest: +SKIP
    (3,)
    """

    _parameter_constraints: dict = {
        **_AutoHeadBase._parameter_constraints,
        "loss": [StrOptions({"auto", *REGRESSOR_LOSS_NAMES})],
        "quantile": [None, Interval(Real, 0, 1, closed="neither"), "array-like"],
        "power": [Interval(Real, 1, 2, closed="both")],
        "standardize_target": ["boolean"],
    }
    _task = "regression"

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        callbacks=None,
        device=None,
        body=None,
        categorical_features="from_dtype",
        embedding_dim="auto",
        inputs=None,
        loss="auto",
        quantile=None,
        power=1.5,
        standardize_target=True,
        head_init="prior",
        dtype="float32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.callbacks = callbacks
        self.device = device
        self.body = body
        self.categorical_features = categorical_features
        self.embedding_dim = embedding_dim
        self.inputs = inputs
        self.loss = loss
        self.quantile = quantile
        self.power = power
        self.standardize_target = standardize_target
        self.head_init = head_init
        self.dtype = dtype

    def _choose_head(self, y, classes=None):
        return choose_head(y, estimator="regressor")

    def _head_params(self):
        quantile = self.quantile
        if quantile is not None and np.ndim(quantile):
            quantile = [float(q) for q in np.ravel(quantile)]
        elif quantile is not None:
            quantile = float(quantile)
        return {
            "loss": self.loss,
            "standardize_target": self.standardize_target,
            "quantile": quantile,
            "power": float(self.power),
        }

    def _loss_options(self):
        if self.loss in ("quantile", "pinball") and self.quantile is None:
            raise ValueError(
                f"loss={self.loss!r} needs quantile=: the level to predict (e.g. "
                "quantile=0.9), or a list of levels (e.g. quantile=[0.05, 0.95] for a "
                "90 % interval)."
            )
        return {"quantile": self.quantile, "power": self.power}

    def _check_target_range(self, y, head):
        """Refuse targets a log-link loss cannot take, as scikit-learn does."""
        out = head.outputs[0]
        if out.activation != "exp":
            return
        y = np.asarray(y, dtype=np.float64)
        power = {"poisson": 1.0, "gamma": 2.0}.get(out.loss) or out.loss_params[0]
        name = {"poisson": "Poisson", "gamma": "gamma"}.get(out.loss, f"Tweedie (power={power:g})")
        if power < 2 and np.any(y < 0):
            raise ValueError(
                f"Some value(s) of y are negative which is not allowed for {name} "
                f"regression ({int(np.sum(y < 0))} of {y.size}; the smallest is {y.min():g}). "
                "Its mean must be >= 0: use loss='squared_error' (or 'absolute_error') for "
                "a target that can be negative."
            )
        if power >= 2 and np.any(y <= 0):
            raise ValueError(
                f"Some value(s) of y are not positive which is not allowed for {name} "
                f"regression ({int(np.sum(y <= 0))} of {y.size}; the smallest is {y.min():g}). "
                "Use loss='tweedie' with power < 2 for a target with zeros, or "
                "loss='squared_error' for one that can be negative."
            )
        if power < 2 and not np.any(y > 0):
            raise ValueError(
                f"y is 0 everywhere: {name} regression predicts a positive mean on a log "
                "link, and the best fit of all zeros is a mean of 0 (a log of minus "
                "infinity). Check the target; a model of it predicts 0."
            )

    def _check_target_scale(self, y, encoder):
        peak = float(np.max(np.abs(y))) if np.size(y) else 0.0
        if peak > _LARGEST_TARGET:
            raise ValueError(
                f"y reaches {peak:.3g}, within a factor of 10 of the largest float64 "
                f"({np.finfo(np.float64).max:.3g}): predictions, the network's output scaled "
                "back to y's units, would overflow. Rescale y (e.g. y / 1e300) before "
                "fitting, and scale the predictions back."
            )
        if not self.standardize_target and peak > _FLOAT32_MAX:
            raise ValueError(
                f"y reaches {peak:.3g} and standardize_target=False: the network trains in "
                f"float32, whose largest number is {_FLOAT32_MAX:.3g}. Keep "
                "standardize_target=True (the default), or rescale y."
            )
        # Stochastic solvers on such a target diverge, with a clear error;
        # L-BFGS instead "converges" at once on a useless model: refuse it.
        if self.standardize_target or self.solver != "lbfgs":
            return
        if peak > _LARGEST_RAW_TARGET:
            raise ValueError(
                f"y reaches {peak:.3g} and standardize_target=False: the network trains "
                f"in float32, where solver='lbfgs' cannot fit a raw target beyond "
                f"{_LARGEST_RAW_TARGET:g} (it stops after an iteration or two and predicts "
                "nonsense). Keep standardize_target=True (the default), or rescale y."
            )

    @available_if(_AutoHeadBase._check_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on a batch, keeping weights and optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The batch.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its target.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : object
            The estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _encoder_options(self):
        return {"standardize": self.standardize_target}

    def predict(self, X):
        """Predict the target.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Same layout as the ``y`` given to ``fit``: the mean (squared error
            and the log-link losses), the median (absolute error) or the
            quantile; with a list of quantile levels, (n_samples,
            n_quantiles), one column per level in increasing order.
        """
        state = self._state()  # read once: a refit elsewhere swaps in a whole new one
        return state.encoder.predict(self._network_outputs(state, X))

    def score(self, X, y, sample_weight=None):
        """R^2 of the predictions, as for every scikit-learn regressor.

        With a list of quantile levels, the R^2 of the level closest to the
        median (the other columns are the interval around it).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        state = self._state()
        prediction = state.encoder.predict(self._network_outputs(state, X))
        out = state.head.outputs[0]
        if out.activation == "increasing":
            central = int(np.argmin(np.abs(np.asarray(out.loss_params) - 0.5)))
            prediction = prediction[:, central]
        return r2_score(y, prediction, sample_weight=sample_weight)
