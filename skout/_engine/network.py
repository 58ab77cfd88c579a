"""The built-in dense network as a function of its weights, written once.

:func:`dense_logits` is the forward pass of skout's dense network
(``hidden_layer_sizes``, ``activation``, ``dropout``) over an array namespace
``xp`` (:mod:`.arrays`): every backend loop trains it and the NumPy predict
path (:func:`forward`) runs it, in float64. Weights are skout's list
``[kernel, bias, ...]``: the hidden layers, then one (kernel, bias) pair per
output head, then one embedding table per categorical column.

Categorical columns reach the network as the last ``n_tables`` columns of
``x``, each holding integer codes (as numbers of the compute dtype): code
``c`` of column ``t`` reads row ``c`` of table ``t``, and the rows read are
put beside the numeric columns, in table order, before the first layer. The
tables come after the heads in the weight list so that ``weights[2 * i]``
stays the kernel of layer ``i`` whether or not there are tables. Each
table is penalised by the L2 term as a kernel is: an embedding is a kernel
read one row at a time (one-hot codes times the table), and high-cardinality
columns, whose rare categories are seen a few times only, need the
shrinkage most.

Dropout masks come from :func:`keep_mask`, a counter-based hash of (seed,
epoch, batch, layer, row, unit) computed in 32-bit integer arithmetic that
every namespace does bit for bit alike: the same ``random_state`` drops the
same units on TensorFlow, JAX, PyTorch and NumPy, and a mask needs no memory
beyond the batch's.

Examples
--------
>>> import numpy as np
>>> from skout._engine.arrays import numpy_ops
>>> from skout._engine.network import keep_mask
>>> mask = keep_mask(numpy_ops(np.float32), 4, 5, seed=0, epoch=0, batch=0, layer=0,
...                  rate=0.5)
>>> mask.shape, mask.dtype
((4, 5), dtype('bool'))
"""

from __future__ import annotations

import numpy as np

from . import objective
from .arrays import numpy_ops
from .objective import output_values

__all__ = ["dense_logits", "dense_objective_and_gradients", "forward", "keep_mask"]

_HIDDEN = {
    "linear": lambda xp, z: z,
    "relu": lambda xp, z: xp.relu(z),
    "tanh": lambda xp, z: xp.tanh(z),
    "sigmoid": lambda xp, z: xp.sigmoid(z),
}
# d loss / d z from d loss / d a, for a = act(z), written with the output a.
_HIDDEN_BACKWARD = {
    "linear": lambda xp, a, d_a: d_a,
    # a = relu(z) >= 0, so sign(a) is 1 where z > 0 and 0 elsewhere: the
    # derivative, in one operation (PyTorch's where on a matrix costs ten).
    "relu": lambda xp, a, d_a: d_a * xp.sign(a),
    "tanh": lambda xp, a, d_a: d_a * (1.0 - xp.square(a)),
    "sigmoid": lambda xp, a, d_a: d_a * (a * (1.0 - a)),
}

# lowbias32's constants (Chris Wellons' integer hash), as int32 bit patterns.
_M1 = 0x7FEB352D
_M2 = 0x846CA68B


def _mix(xp, x):
    """A 32-bit integer hash: every input bit moves about half the output bits."""
    x = xp.xor(x, xp.shr(x, 16))
    x = xp.imul(x, xp.i32(_M1))
    x = xp.xor(x, xp.shr(x, 15))
    x = xp.imul(x, xp.i32(_M2))
    return xp.xor(x, xp.shr(x, 16))


def keep_mask(xp, rows, width, *, seed, epoch, batch, layer, rate):
    """Which units of a (rows, width) hidden layer dropout keeps: a bool array.

    Each unit is kept with probability ``1 - rate``, from a uniform number
    hashed from (seed, epoch, batch, layer, row, unit): the same numbers on
    every backend. ``seed``, ``epoch``, ``batch`` and ``layer`` may be Python
    ints or int32 scalars of the namespace (traced values in a compiled loop).
    """
    key = _mix(xp, xp.xor(xp.as_int(seed), xp.i32(0x5C0B1E)))
    for part in (epoch, batch, layer):
        key = _mix(xp, xp.xor(key, xp.as_int(part)))
    counter = xp.arange(rows)[:, None] * xp.as_int(width) + xp.arange(width)[None, :]
    bits = _mix(xp, xp.xor(counter, key))
    # The top 24 bits as a float in [0, 1): exact in float32 and float64.
    uniform = xp.as_float(xp.shr(bits, 8)) * (1.0 / (1 << 24))
    return xp.logical_not(uniform < rate)


def dense_logits(xp, depth, activation, params, x, dropout=None, n_tables=0):
    """The logits of each output head: a list of (n, units) arrays.

    Parameters
    ----------
    xp : namespace
    depth : int
        Number of hidden layers.
    activation : str
        Keras name of the hidden activation ("relu", "tanh", "sigmoid",
        "linear").
    params : list of arrays
        Skout's weight list.
    x : array of shape (n, n_features)
        The numeric columns, then the ``n_tables`` columns of codes.
    dropout : dict or None
        While training with dropout: ``rate``, ``seed``, ``epoch``,
        ``batch`` (as :func:`keep_mask` takes them); None for none.
    n_tables : int
        Number of embedding tables (the last weights of ``params``).
    """
    return _forward(xp, depth, activation, params, x, dropout, n_tables)[0]


def _embedded(xp, params, x, n_tables):
    """(the first layer's input: numeric columns and the rows read, the codes)."""
    if not n_tables:
        return x, []
    tables = params[len(params) - n_tables :]
    codes = [x[:, t - n_tables] for t in range(n_tables)]  # the last columns, in order
    rows = [xp.take(table, c) for table, c in zip(tables, codes)]
    return xp.concat([x[:, :-n_tables], *rows], axis=1), codes


def _forward(xp, depth, activation, params, x, dropout, n_tables=0):
    """(logits, the input of each layer, each hidden layer's activation and
    mask, each table's codes)."""
    act = _HIDDEN[activation]
    h, codes = _embedded(xp, params, x, n_tables)
    inputs, hidden = [], []
    for i in range(depth):
        inputs.append(h)
        a = act(xp, xp.affine(h, params[2 * i], params[2 * i + 1]))
        mask = None
        if dropout is not None:
            mask = keep_mask(
                xp, xp.dim(a, 0), xp.dim(a, 1), seed=dropout["seed"], epoch=dropout["epoch"],
                batch=dropout["batch"], layer=i, rate=dropout["rate"],
            )  # fmt: skip
            h = xp.where(mask, a / (1.0 - dropout["rate"]), 0.0)
        else:
            h = a
        hidden.append((a, mask))
    inputs.append(h)
    n_outputs = (len(params) - n_tables - 2 * depth) // 2
    logits = [
        xp.affine(h, params[2 * (depth + j)], params[2 * (depth + j) + 1])
        for j in range(n_outputs)
    ]
    return logits, inputs, hidden, codes


def dense_objective_and_gradients(xp, depth, activation, outputs, params, x, y, w, alpha,
                                  dropout=None, n_tables=0):  # fmt: skip
    """The batch objective of the dense network and its gradients, by hand.

    Backpropagation written out (as scikit-learn's MLP does it), from the
    heads' written-out logit gradients
    (:attr:`~skout._engine.objective.Loss.value_and_gradient`):
    a faster path for loops that do not compile (PyTorch), where automatic
    differentiation costs more than the arithmetic. It computes the gradient
    of :func:`~skout._engine.objective.batch_objective` of :func:`dense_logits`,
    which ``tests/test_engine_network.py`` holds it to on every backend.

    Returns
    -------
    objective, weight_sum : scalars
    gradients : list of arrays, in skout's weight order
    """
    logits, inputs, hidden, codes = _forward(xp, depth, activation, params, x, dropout, n_tables)
    n_layers = len(params) - n_tables
    kernels = [*range(0, n_layers, 2), *range(n_layers, len(params))]
    losses, d_losses = objective.losses_and_logit_gradients(xp, outputs, y, logits)
    squared = objective.penalty(xp, params, kernels)
    value, weight_sum = objective.batch_objective(xp, losses, w, squared, alpha)
    # d objective / d loss_i = w_i / weight_sum (weights are >= 0: a row of
    # weight 0 gets a zero gradient).
    scale = (w / weight_sum)[:, None]
    decay = alpha / weight_sum  # d objective / d kernel, from 0.5 alpha ||W||^2
    h = inputs[-1]
    grads = [None] * len(params)
    d_h = None
    for j, d_loss in enumerate(d_losses):
        k = 2 * (depth + j)
        d_z = d_loss * scale
        grads[k] = xp.affine(xp.t(h), d_z, decay * params[k])
        grads[k + 1] = xp.sum(d_z, axis=0)
        back = xp.matmul(d_z, xp.t(params[k]))
        d_h = back if d_h is None else d_h + back
    backward = _HIDDEN_BACKWARD[activation]
    for i in reversed(range(depth)):
        a, mask = hidden[i]
        if mask is not None:
            d_h = xp.where(mask, d_h / (1.0 - dropout["rate"]), 0.0)
        d_z = backward(xp, a, d_h)
        grads[2 * i] = xp.affine(xp.t(inputs[i]), d_z, decay * params[2 * i])
        grads[2 * i + 1] = xp.sum(d_z, axis=0)
        if i or n_tables:
            d_h = xp.matmul(d_z, xp.t(params[2 * i]))
    # d_h is now d objective / d (the first layer's input): the rows read sit
    # in its last columns, table after table; each row's gradient goes back
    # to the row of the table it was read from.
    end = xp.dim(d_h, 1) if n_tables else 0
    for t in reversed(range(n_tables)):
        k = n_layers + t
        start = end - xp.dim(params[k], 1)
        read = xp.index_add(xp.zeros_like(params[k]), codes[t], d_h[:, start:end])
        grads[k] = read + decay * params[k]
        end = start
    return value, weight_sum, grads


def forward(spec, weights, X, logits=False):
    """Run a fitted dense network in NumPy (float64): one array per output head.

    This is the predict path: the forward pass and each head's output function
    are the ones the loops train (:func:`dense_logits`,
    :func:`~skout._engine.objective.output_values`). ``logits=True`` returns
    the heads' values before their output function (``decision_function``).
    """
    xp = numpy_ops(np.float64)
    values = dense_logits(
        xp, len(spec.hidden_layer_sizes), spec.activation, weights,
        np.asarray(X, dtype=np.float64), n_tables=len(spec.embeddings),
    )  # fmt: skip
    if logits:
        return values
    return [output_values(xp, out.activation, z) for out, z in zip(spec.outputs, values)]
