"""AutoHeadClassifier: a Keras network whose output head comes from the labels."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_consistent_length

from ._base import _AutoHeadBase
from ._compat import StrOptions, _check_sample_weight, _fit_context, warn_at_caller
from .heads import CLASSIFIER_LOSS_NAMES, CLASSIFIER_TARGET_TYPES, choose_head


class AutoHeadClassifier(ClassifierMixin, _AutoHeadBase):
    """Keras neural-network classifier that picks its output layer from ``y``.

    ``fit`` reads the target with :func:`~sklearn.utils.multiclass.type_of_target`
    and chooses the output units, activation, loss and decoding from skout's
    head table (:mod:`skout.heads`): binary, multiclass, one-hot, multilabel and
    multiclass-multioutput targets. ``predict`` returns labels in the format
    ``fit`` was given; ``predict_proba`` follows scikit-learn's shapes.

    Parameters mean what they mean in :class:`~sklearn.neural_network.MLPClassifier`,
    so a script or grid written for it keeps working.

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
        L2 penalty on the kernels, scaled as in ``MLPClassifier``.
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
        Two fits with the same int give the same predictions; TensorFlow's
        global seed is left alone.
    tol : float, default=1e-4
        Training stops when the loss (or the validation score, with
        ``early_stopping``) has not improved by at least ``tol`` for
        ``n_iter_no_change`` consecutive epochs.
    verbose : bool, default=False
        Print the loss (and validation score) after every epoch.
    warm_start : bool, default=False
        Start the next ``fit`` from the current weights.
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for ``solver="sgd"``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified), stop when
        its accuracy stops improving and restore the best weights.
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
    class_weight : dict, list of dict or "balanced", default=None
        Weights of the classes in the loss, for every classification head
        (scikit-learn's ``compute_sample_weight`` conventions; for a one-hot
        target the keys are column indices).
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
        ``"auto"`` takes the head table's loss. A named loss is checked
        against the target: a pairing that cannot learn raises a
        ``ValueError`` that says what to use.
    binary_head : {"sigmoid", "softmax"}, default="sigmoid"
        For two classes: one sigmoid unit, or two softmax units.
    target_type : {"auto", "binary", "multiclass", "one-hot", \
            "multilabel-indicator", "multiclass-multioutput"}, default="auto"
        The kind of target, and so the head. ``"auto"`` reads it from the
        ``y`` given to ``fit`` (or the first ``partial_fit``). Declare it when
        a part of the target could read as another kind: a batch of a stream,
        or a cross-validation fold, of a multilabel target whose rows happen
        to hold one 1 each (one-hot), or of a multiclass-multioutput target
        whose columns happen to hold only 0 and 1 (multilabel). Declared,
        every fit of every fold gets the same head, so ``predict_proba``
        has the same format everywhere; ``"multiclass"`` keeps a softmax head
        over two classes. Continued training (``partial_fit``,
        ``warm_start``) refuses a batch the head cannot represent. For
        ``partial_fit``, classes given per column (``classes=[[...], ...]``)
        declare ``"multiclass-multioutput"`` too.
    head_init : {"prior", "constant", "glorot"}, default="prior"
        Where the output layer starts. ``"prior"``: its bias at the training
        data's prior (the log class frequencies of a softmax head, the logit
        of each label's rate for sigmoid units), weighted by ``sample_weight``
        and ``class_weight``, its kernel drawn at random: a 99:1 problem starts
        near P = 0.01 instead of 0.5, without spending its first epochs
        learning the class balance. ``"constant"``: the same bias and a zero
        kernel, so the untrained network predicts the prior exactly (its loss
        is the prior's entropy); the output layer then grows from nothing,
        which helped digits and slowed the first epochs of small data sets
        (``benchmarks/regression_heads.py``). ``"glorot"``: bias and kernel at
        random, as ``MLPClassifier``.
    dtype : {"float32", "float64"}, default="float32"
        What the built-in dense network's weights and arithmetic are, as
        ``MLPClassifier`` trains in the dtype of ``X``. float32 is faster;
        float64 fits that differ only in the order of their sums agree to
        about 1e-15 instead of 1e-7 (scikit-learn's sample-weight checks need
        it). On Keras's JAX backend, float64 needs JAX's 64-bit mode
        (``jax.config.update("jax_enable_x64", True)``).

    Attributes
    ----------
    head_ : Head
        The chosen output head (``target_type``, ``units``, ``activation``,
        ``loss``, ``decoding``).
    target_type_ : str
        The target type the head was chosen for.
    classes_ : ndarray or list of ndarray
        Class labels (one array per output for multiclass-multioutput).
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
        Number of target columns (1 for a 1-D target).
    model_ : keras.Model
        The trained Keras model, built on first access.
    loss_curve_ : list of float
        Training loss after each epoch.
    validation_scores_ : list of float or None
        Validation accuracy after each epoch, with validation data
        (``early_stopping`` or ``X_val``/``y_val``).
    validation_loss_curve_ : list of float or None
        Validation loss (without the L2 term) after each epoch.
    best_loss_ : float or None
        Lowest training loss (None with ``early_stopping``).
    best_validation_score_ : float or None
        Best validation accuracy (with ``early_stopping``).
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen.

    See Also
    --------
    AutoHeadRegressor : The same for numeric targets.
    skout.heads.choose_head : Ask which head a target needs, without training.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skout import AutoHeadClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> labels = ["setosa", "versicolor", "virginica"]
    >>> y = [labels[i] for i in y]
    >>> clf = AutoHeadClassifier(hidden_layer_sizes=(16,), max_iter=50,
    ...                          random_state=0).fit(X, y)  # doctest: +SKIP
    >>> clf.head_  # doctest: +SKIP
    Head(target_type='multiclass', units=3, activation='softmax', loss='sparse_categorical_crossentropy', decoding='argmax')
    >>> clf.predict(X[:2])  # doctest: +SKIP
    array(['setosa', 'setosa'], dtype='<U10')
    """  # noqa: E501

    _parameter_constraints: dict = {
        **_AutoHeadBase._parameter_constraints,
        "loss": [StrOptions({"auto", *CLASSIFIER_LOSS_NAMES})],
        "binary_head": [StrOptions({"sigmoid", "softmax"})],
        "class_weight": [None, dict, list, StrOptions({"balanced"})],
        "target_type": [StrOptions({"auto", *CLASSIFIER_TARGET_TYPES})],
    }
    _task = "classification"

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
        class_weight=None,
        callbacks=None,
        device=None,
        body=None,
        categorical_features="from_dtype",
        embedding_dim="auto",
        inputs=None,
        loss="auto",
        binary_head="sigmoid",
        target_type="auto",
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
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.device = device
        self.body = body
        self.categorical_features = categorical_features
        self.embedding_dim = embedding_dim
        self.inputs = inputs
        self.loss = loss
        self.binary_head = binary_head
        self.target_type = target_type
        self.head_init = head_init
        self.dtype = dtype

    def _head_params(self):
        return {
            "loss": self.loss,
            "binary_head": self.binary_head,
            "target_type": self.target_type,
        }

    def _choose_head(self, y, classes=None):
        options = {"binary_head": self.binary_head, "target_type": self._declared_kind(classes)}
        if classes is None:
            head = choose_head(y, estimator="classifier", **options)
            if head.target_type == "multilabel-indicator" and self.target_type == "auto":
                _warn_if_nearly_one_hot(y)
            return head
        # partial_fit's first call: the head comes from every class, not from
        # the labels this batch happens to hold.
        if np.ndim(y) == 2 and np.shape(y)[1] > 1:
            columns = [np.unique(c) for c in classes]
            longest = max(len(c) for c in columns)
            stand_in = np.empty((longest, len(columns)), dtype=object)
            for j, c in enumerate(columns):
                stand_in[:, j] = np.resize(c, longest)
        else:
            stand_in = np.unique(classes)
        return choose_head(stand_in, estimator="classifier", **options)

    def _declared_kind(self, classes):
        """The declared kind: target_type, or classes given one array per column."""
        if self.target_type == "auto" and _per_column(classes):
            return "multiclass-multioutput"
        return self.target_type

    def _check_continued_target(self, previous, y):
        """Refuse a batch that the head chosen at the first fit cannot represent."""
        kind = previous.head.target_type
        if kind == "one-hot" and np.ndim(y) == 2:
            sums = np.asarray(y, dtype=np.float64).sum(axis=1)
            rows = np.flatnonzero(sums != 1)
            if len(rows):
                raise ValueError(
                    f"This model has a one-hot head (softmax: exactly one 1 per row), "
                    f"chosen from the target of its first fit; this y has rows "
                    f"{rows[:5].tolist()} with {sorted(set(sums[rows[:5]].astype(int).tolist()))} "
                    "ones, a multilabel target, which that head cannot learn. Declare the "
                    "target's kind up front and start again: AutoHeadClassifier("
                    "target_type='multilabel-indicator') (or 'multiclass-multioutput' "
                    "for columns of labels)."
                )

    def _extra_sample_weight(self, y, incremental, encoder):
        if self.class_weight is None:
            return None
        if incremental and isinstance(self.class_weight, str):
            raise ValueError(
                "class_weight='balanced' needs the whole target and is not "
                "available in partial_fit: pass a dict, e.g. from "
                "sklearn.utils.class_weight.compute_class_weight."
            )
        kind = encoder.head.target_type
        classes = encoder.classes_
        if kind == "one-hot":
            y = np.argmax(y, axis=1)  # class_weight keys are column indices
        elif kind == "multilabel-indicator":
            # One binary output per column: one {0: w0, 1: w1} dict per column.
            classes = [np.array([0, 1])] * np.shape(y)[1]
        _check_class_weight_keys(self.class_weight, classes, kind)
        class_weight = self.class_weight
        if isinstance(class_weight, list) and not isinstance(classes, list):
            # One output: a list of its one dict (checked above) is that dict.
            class_weight = class_weight[0]
        return compute_sample_weight(class_weight, y)

    def _check_warm_start_target(self, previous, y):
        known = previous.encoder.classes_
        if previous.head.target_type in ("binary", "multiclass"):
            labels = np.unique(y)
            if not np.array_equal(labels, known):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as "
                    f"in the previous call to fit. Previously got {known}, "
                    f"`y` has {labels}"
                )

    @available_if(_AutoHeadBase._check_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for one epoch on a batch, keeping weights and optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The batch.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its target.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.
        classes : array-like of shape (n_classes,), or list of such, default=None
            Every label the target can take; required on the first call for
            label targets (one array per column for multiclass-multioutput),
            not needed for one-hot and multilabel indicator targets.

        Returns
        -------
        self : object
            The estimator.
        """
        previous = self.__dict__.get("_fitted")
        if previous is None:
            labels = self._labels_needed(y, classes)
            if labels and classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: every "
                    "label the target can take (e.g. classes=np.unique(y_all))."
                )
            if labels:
                _check_partial_fit_classes(y, classes)
            return self._fit(
                X, y, sample_weight, incremental=True, classes=classes if labels else None
            )
        known = previous.encoder.classes_
        if classes is not None and previous.head.target_type not in _INDICATOR_KINDS:
            per_output = known if isinstance(known, list) else [known]
            given = classes if isinstance(known, list) else [classes]
            if any(not np.array_equal(np.unique(g), k) for g, k in zip(given, per_output)):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on the first call to "
                    f"partial_fit, was: {known!r}."
                )
        return self._fit(X, y, sample_weight, incremental=True)

    def _labels_needed(self, y, classes):
        """Whether the first partial_fit needs ``classes``: labels, not indicators."""
        declared = self._declared_kind(classes)
        if declared != "auto":
            return declared not in _INDICATOR_KINDS
        return not (np.ndim(y) == 2 and type_of_target(y).startswith("multilabel"))

    def predict(self, X):
        """Predict labels, in the format of the ``y`` given to ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Original labels (and dtype) for binary and multiclass targets,
            one-hot rows or a 0/1 matrix for indicator targets, one label per
            column for multiclass-multioutput.
        """
        state = self._state()  # read once: a refit elsewhere swaps in a whole new one
        return state.encoder.predict(self._network_outputs(state, X))

    def predict_proba(self, X):
        """Class probabilities, in scikit-learn's shapes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), or list of such
            ``(n, n_classes)`` with columns in ``classes_`` order (also for a
            single row and for binary targets); ``(n, K)`` independent
            probabilities for multilabel; a list with one array per output for
            multiclass-multioutput.
        """
        state = self._state()
        return state.encoder.proba(self._network_outputs(state, X))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed from the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray or list of ndarray
            Same shapes as :meth:`predict_proba`; finite where a probability
            rounds to 0.
        """
        state = self._state()  # read once: a refit elsewhere swaps in a whole new one
        return state.encoder.log_proba(self._network_outputs(state, X, logits=True))

    def decision_function(self, X):
        """The head's logits: the network's output before its sigmoid or softmax.

        ``predict`` is ``classes_[decision > 0]`` for two classes and
        ``classes_[argmax(decision)]`` otherwise, and ``predict_proba`` is the
        sigmoid or softmax of it: what ``CalibratedClassifierCV(method=
        "temperature")``, ``TunedThresholdClassifierCV`` and ``roc_auc_score``
        read, unclipped.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        decision : ndarray of shape (n_samples,) or (n_samples, n_classes), or list
            (n,) for two classes (positive for ``classes_[1]``: the one sigmoid
            unit's logit, or the difference of two softmax logits); (n, K) for
            more classes, one-hot and multilabel targets; a list with one array
            per column for multiclass-multioutput.
        """
        state = self._state()  # read once: a refit elsewhere swaps in a whole new one
        return state.encoder.decision(self._network_outputs(state, X, logits=True))

    def score(self, X, y, sample_weight=None):
        """Accuracy; for multiclass-multioutput, the share of rows all right.

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
        y = check_array(y, accept_sparse="csr", ensure_2d=False, dtype=None, input_name="y")
        check_consistent_length(X, y, sample_weight)
        y_pred = state.encoder.predict(self._network_outputs(state, X))
        if state.head.target_type != "multiclass-multioutput":
            try:
                return accuracy_score(y, y_pred, sample_weight=sample_weight)
            except TypeError as exc:  # np.unique on mixed label types
                raise ValueError(f"Cannot compare y with the predictions: {exc}") from exc
        if y.ndim != 2 or y.shape[1] != state.n_outputs:
            raise ValueError(
                f"y has {1 if y.ndim == 1 else y.shape[1]} column(s) but the model "
                f"predicts {state.n_outputs}."
            )
        for j in range(y.shape[1]):
            _check_comparable_labels(y[:, j], y_pred[:, j], f"column {j} of y")
        sample_weight = _check_sample_weight(sample_weight, y)
        right = np.all(y_pred == y, axis=1)
        return float(np.average(right, weights=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


_INDICATOR_KINDS = ("one-hot", "multilabel-indicator")


def _holds_strings(labels):
    if labels.dtype.kind in "US":
        return True
    return labels.dtype == object and any(isinstance(v, str) for v in labels.ravel())


def _check_comparable_labels(y_true, y_pred, where):
    """Strings against numbers are a mistake to report, not a score of 0.

    ``accuracy_score`` refuses them for one output ("Mix of label input
    types"); a multi-output score compares column by column, so it checks.
    """
    strings = _holds_strings(y_true)
    if strings != _holds_strings(y_pred):
        given, fitted = ("strings", "numbers") if strings else ("numbers", "strings")
        raise ValueError(
            f"Mix of label input types (string and number): {where} holds {given}, but "
            f"the model was fitted on {fitted} in that column. Give the labels as at "
            "fit time (e.g. y.astype(int), or the strings themselves)."
        )


def _per_column(classes):
    """Whether ``classes`` gives one array of labels per column of y."""
    return isinstance(classes, (list, tuple)) and any(np.ndim(c) >= 1 for c in classes)


def _warn_if_nearly_one_hot(y):
    """A one-hot target with a few broken rows reads as multilabel: say so."""
    sums = np.asarray(y).sum(axis=1)
    odd = np.flatnonzero(sums != 1)
    if 0 < len(odd) <= max(1, len(sums) // 100):
        warn_at_caller(
            f"y is a 0/1 matrix whose rows all hold exactly one 1 except row(s) "
            f"{odd[:5].tolist()}; it is trained as a multilabel-indicator target "
            "(independent sigmoid outputs), not one-hot (softmax). If y is one-hot, "
            "fix those rows; if it is multilabel, ignore this warning.",
            UserWarning,
        )


def _check_partial_fit_classes(y, classes):
    """``classes`` must give every label of every column, in partial_fit's shape."""
    n_columns = np.shape(y)[1] if np.ndim(y) == 2 else 1
    nested = _per_column(classes)
    if n_columns > 1:
        example = f"classes=[np.unique(y_all[:, j]) for j in range({n_columns})]"
        if not nested:
            raise ValueError(
                f"y has {n_columns} columns, so classes must be a list with one array of "
                f"labels per column, e.g. {example}; got a flat list of labels."
            )
        if len(classes) != n_columns:
            raise ValueError(
                f"y has {n_columns} columns but classes has {len(classes)} entries: "
                f"give one array of labels per column, e.g. {example}."
            )
        for j, column in enumerate(classes):
            if np.ndim(column) != 1 or len(np.unique(column)) < 2:
                raise ValueError(
                    f"classes[{j}] must be a 1-D array of the two or more labels that "
                    f"column {j} of y can take; got {column!r}."
                )
    elif nested or np.ndim(classes) != 1:
        raise ValueError(
            "y has one column, so classes must be a 1-D array of every label it can "
            f"take (e.g. classes=np.unique(y_all)); got {classes!r}."
        )


def _check_class_weight_keys(class_weight, classes, kind):
    """Every key of class_weight must be a class of the target, every value a number."""
    if isinstance(class_weight, str):
        return
    per_output = class_weight if isinstance(class_weight, list) else [class_weight]
    known = classes if isinstance(classes, list) else [classes]
    if len(per_output) != len(known):
        raise ValueError(
            f"class_weight gives {len(per_output)} dict(s) for a target with "
            f"{len(known)} output(s): give one dict per column of y."
        )
    for weights, labels in zip(per_output, known):
        if not isinstance(weights, dict):
            raise ValueError(f"class_weight must be a dict (or a list of dicts), got {weights!r}.")
        unknown = [k for k in weights if k not in set(labels.tolist())]
        if unknown:
            hint = " (column indices of the one-hot y)" if kind == "one-hot" else ""
            raise ValueError(
                f"class_weight names class(es) {unknown[:5]} that are not in the target; "
                f"its classes are {labels.tolist()}{hint}."
            )
        for key, value in weights.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ValueError(f"class_weight[{key!r}] is {value!r}, not a number.")
            if not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"class_weight[{key!r}] is {value}; class weights must be finite and >= 0."
                )
