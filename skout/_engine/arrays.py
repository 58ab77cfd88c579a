"""One small array vocabulary, for NumPy and for each backend's tensors.

The training rule (:mod:`.rule`), the objective (:mod:`.objective`), the
dense network (:mod:`.network`) and the optimizers (:mod:`.optimizers`) are
written once, over a namespace ``xp`` of the functions below. Each backend
loop passes its own: TensorFlow ops inside ``tf.function``, ``jax.numpy``
inside ``jax.jit``, PyTorch's eager ops, and NumPy for the predict path and
between epochs. Only this module knows how the libraries spell things
(``tf.reduce_sum``, ``torch.sum(dim=)``, ...); nothing here imports a
framework until its namespace is asked for.

The vocabulary (every namespace has each name):

- elementwise: ``exp``, ``log``, ``log1p``, ``abs``, ``sign``, ``square``, ``sqrt``,
  ``tanh``, ``sigmoid``, ``relu``, ``power``, ``maximum``, ``minimum``,
  ``where``, ``equal``, ``greater``, ``isfinite``, ``logical_and``,
  ``logical_or``, ``logical_not``;
- reductions: ``sum(x, axis=None)``, ``cumsum(x, axis)``, ``max(x, axis, keepdims=False)``,
  ``all(x, axis)``, ``argmax(x, axis)``;
- structure: ``matmul``, ``affine(x, w, b)`` (``x @ w + b``; one fused
  kernel where the library has it), ``t`` (transpose), ``dim(x, i)`` (the
  size of axis ``i``, a tensor where the compiled shape is not known),
  ``concat(xs, axis)``, ``arange(n)`` (int32),
  ``as_float(x)`` (to the compute dtype), ``as_int(x)`` (int32), ``zeros_like``,
  ``stop_gradient``;
- lookup tables (embeddings): ``take(table, index)`` (the rows ``index``
  of a 2-D table, the index given as integer-valued numbers of any dtype)
  and ``index_add(target, index, values)`` (``target`` with each row of
  ``values`` added to the row ``index`` names, repeated indices summed: the
  gradient of ``take``);
- 32-bit integer hashing (for the dropout draw): ``xor``, ``band``,
  ``shr`` (logical right shift), ``imul`` (wrapping multiplication), ``i32``
  (a Python int as an int32 scalar);
- lists of arrays (for the optimizers): ``lerp``, ``laddcdiv`` (``a + s * b /
  c``), ``lmul``, ``ladd``, ``lsub``, ``ldiv``, ``lsquare``, ``lsqrt``,
  ``ladd_scalar``. PyTorch maps
  them onto its multi-tensor ``_foreach`` kernels, one dispatch per list.

Examples
--------
>>> import numpy as np
>>> from skout._engine.arrays import numpy_ops
>>> xp = numpy_ops(np.float64)
>>> float(xp.sum(xp.square(np.array([1.0, 2.0]))))
5.0
>>> int(xp.shr(xp.i32(-1), 28))   # logical shift: the sign bit is not spread
15
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

import numpy as np

__all__ = ["for_backend", "numpy_ops"]

_MASK32 = 0xFFFFFFFF


def _as_int32(value):
    """A Python int (any size) as the int32 with the same low 32 bits."""
    value &= _MASK32
    return value - (1 << 32) if value >= 1 << 31 else value


def _list_ops(elementwise):
    """List operations built from per-array functions (NumPy, TF, JAX)."""
    mul, add, sub, div = elementwise
    return dict(
        lerp=lambda a, b, t: [add(x, mul(sub(y, x), t)) for x, y in zip(a, b)],
        laddcdiv=lambda a, b, c, s: [add(x, mul(div(y, z), s)) for x, y, z in zip(a, b, c)],
        lmul=lambda a, s: [mul(x, s) for x in a],
        ladd=lambda a, b: [add(x, y) for x, y in zip(a, b)],
        lsub=lambda a, b: [sub(x, y) for x, y in zip(a, b)],
        ldiv=lambda a, b: [div(x, y) for x, y in zip(a, b)],
    )


@cache
def numpy_ops(dtype=np.float32):
    """The NumPy namespace, computing in ``dtype``."""
    dtype = np.dtype(dtype)

    def ints(x):
        return np.asarray(x).astype(np.int32)

    return SimpleNamespace(
        name="numpy",
        dtype=dtype,
        exp=np.exp,
        log=np.log,
        log1p=np.log1p,
        abs=np.abs,
        sign=np.sign,
        square=np.square,
        sqrt=np.sqrt,
        tanh=np.tanh,
        sigmoid=_numpy_sigmoid,
        relu=lambda x: np.maximum(x, 0),
        power=np.power,
        maximum=np.maximum,
        minimum=np.minimum,
        where=np.where,
        equal=np.equal,
        greater=np.greater,
        isfinite=np.isfinite,
        logical_and=np.logical_and,
        logical_or=np.logical_or,
        logical_not=np.logical_not,
        sum=lambda x, axis=None: np.sum(x, axis=axis),
        max=lambda x, axis, keepdims=False: np.max(x, axis=axis, keepdims=keepdims),
        all=lambda x, axis: np.all(x, axis=axis),
        argmax=lambda x, axis: np.argmax(x, axis=axis).astype(np.int32),
        cumsum=lambda x, axis: np.cumsum(x, axis=axis),
        matmul=np.matmul,
        affine=lambda x, w, b: x @ w + b,
        t=lambda x: x.T,
        dim=lambda x, i: x.shape[i],
        concat=lambda xs, axis: np.concatenate(xs, axis=axis),
        arange=lambda n: np.arange(n, dtype=np.int32),
        as_float=lambda x: np.asarray(x, dtype=dtype),
        as_int=ints,
        zeros_like=np.zeros_like,
        stop_gradient=lambda x: x,
        take=lambda table, index: table[ints(index)],
        index_add=_numpy_index_add,
        xor=lambda a, b: np.bitwise_xor(ints(a), ints(b)),
        band=lambda a, b: np.bitwise_and(ints(a), ints(b)),
        shr=lambda a, k: np.right_shift(ints(a).view(np.uint32), k).astype(np.int32),
        imul=lambda a, b: (ints(a).astype(np.int64) * ints(b).astype(np.int64)).astype(np.int32),
        i32=lambda v: np.int32(_as_int32(int(v))),
        lsquare=lambda a: [np.square(x) for x in a],
        lsqrt=lambda a: [np.sqrt(x) for x in a],
        ladd_scalar=lambda a, s: [x + s for x in a],
        **_list_ops((np.multiply, np.add, np.subtract, np.divide)),
    )


def _numpy_index_add(target, index, values):
    out = np.array(target, copy=True)
    np.add.at(out, np.asarray(index).astype(np.int64), values)
    return out


def _numpy_sigmoid(z):
    # Two-sided: exp never overflows.
    z = np.asarray(z)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


@cache
def tensorflow_ops(dtype="float32"):
    """TensorFlow's namespace (graph or eager), computing in ``dtype``."""
    import tensorflow as tf

    dtype = tf.as_dtype(dtype)
    i32 = tf.int32

    def ints(x):
        return tf.cast(x, i32)

    return SimpleNamespace(
        name="tensorflow",
        dtype=dtype,
        exp=tf.exp,
        log=tf.math.log,
        log1p=tf.math.log1p,
        abs=tf.abs,
        sign=tf.sign,
        square=tf.square,
        sqrt=tf.sqrt,
        tanh=tf.tanh,
        sigmoid=tf.sigmoid,
        relu=tf.nn.relu,
        power=tf.pow,
        maximum=tf.maximum,
        minimum=tf.minimum,
        where=tf.where,
        equal=tf.equal,
        greater=tf.greater,
        isfinite=tf.math.is_finite,
        logical_and=tf.logical_and,
        logical_or=tf.logical_or,
        logical_not=tf.logical_not,
        sum=lambda x, axis=None: tf.reduce_sum(x, axis=axis),
        max=lambda x, axis, keepdims=False: tf.reduce_max(x, axis=axis, keepdims=keepdims),
        all=lambda x, axis: tf.reduce_all(x, axis=axis),
        argmax=lambda x, axis: tf.argmax(x, axis=axis, output_type=i32),
        cumsum=lambda x, axis: tf.cumsum(x, axis=axis),
        matmul=tf.matmul,
        affine=lambda x, w, b: tf.matmul(x, w) + b,
        t=tf.transpose,
        dim=lambda x, i: tf.shape(x)[i],
        concat=lambda xs, axis: tf.concat(xs, axis=axis),
        arange=lambda n: tf.range(n, dtype=i32),
        # A Python number straight into the dtype (not through float32 first).
        as_float=lambda x: tf.cast(x, dtype) if tf.is_tensor(x) else tf.constant(x, dtype),
        as_int=ints,
        zeros_like=tf.zeros_like,
        stop_gradient=tf.stop_gradient,
        take=lambda table, index: tf.gather(table, ints(index)),
        index_add=lambda target, index, values: tf.tensor_scatter_nd_add(
            target, ints(index)[:, None], values
        ),
        xor=lambda a, b: tf.bitwise.bitwise_xor(ints(a), ints(b)),
        band=lambda a, b: tf.bitwise.bitwise_and(ints(a), ints(b)),
        # TensorFlow shifts int32 arithmetically: mask the spread sign bits off.
        shr=lambda a, k: tf.bitwise.bitwise_and(
            tf.bitwise.right_shift(ints(a), k), (1 << (32 - k)) - 1
        ),
        imul=lambda a, b: _tf_imul(tf, a, b),
        i32=lambda v: tf.constant(_as_int32(int(v)), i32),
        lsquare=lambda a: [tf.square(x) for x in a],
        lsqrt=lambda a: [tf.sqrt(x) for x in a],
        ladd_scalar=lambda a, s: [x + s for x in a],
        **_list_ops((tf.multiply, tf.add, tf.subtract, tf.divide)),
    )


def _tf_imul(tf, a, b):
    """Wrapping int32 multiplication: the low 32 bits of the 64-bit product."""
    product = tf.cast(a, tf.int64) * tf.cast(b, tf.int64)
    low = tf.bitwise.bitwise_and(product, _MASK32)
    # Back to int32 with the same bits (values >= 2**31 become negative).
    return tf.cast(tf.where(low >= 2**31, low - 2**32, low), tf.int32)


@cache
def jax_ops(dtype="float32"):
    """``jax.numpy``'s namespace (traceable by ``jax.jit``), computing in ``dtype``."""
    import jax
    import jax.numpy as jnp

    dtype = jnp.dtype(dtype)

    def ints(x):
        return jnp.asarray(x).astype(jnp.int32)

    return SimpleNamespace(
        name="jax",
        dtype=dtype,
        exp=jnp.exp,
        log=jnp.log,
        log1p=jnp.log1p,
        abs=jnp.abs,
        sign=jnp.sign,
        square=jnp.square,
        sqrt=jnp.sqrt,
        tanh=jnp.tanh,
        sigmoid=jax.nn.sigmoid,
        relu=jax.nn.relu,
        power=jnp.power,
        maximum=jnp.maximum,
        minimum=jnp.minimum,
        where=jnp.where,
        equal=jnp.equal,
        greater=jnp.greater,
        isfinite=jnp.isfinite,
        logical_and=jnp.logical_and,
        logical_or=jnp.logical_or,
        logical_not=jnp.logical_not,
        sum=lambda x, axis=None: jnp.sum(x, axis=axis),
        max=lambda x, axis, keepdims=False: jnp.max(x, axis=axis, keepdims=keepdims),
        all=lambda x, axis: jnp.all(x, axis=axis),
        argmax=lambda x, axis: jnp.argmax(x, axis=axis).astype(jnp.int32),
        cumsum=lambda x, axis: jnp.cumsum(x, axis=axis),
        matmul=jnp.matmul,
        affine=lambda x, w, b: x @ w + b,
        t=lambda x: x.T,
        dim=lambda x, i: x.shape[i],
        concat=lambda xs, axis: jnp.concatenate(xs, axis=axis),
        arange=lambda n: jnp.arange(n, dtype=jnp.int32),
        as_float=lambda x: jnp.asarray(x).astype(dtype),
        as_int=ints,
        zeros_like=jnp.zeros_like,
        stop_gradient=jax.lax.stop_gradient,
        take=lambda table, index: jnp.take(table, ints(index), axis=0),
        index_add=lambda target, index, values: target.at[ints(index)].add(values),
        xor=lambda a, b: jnp.bitwise_xor(ints(a), ints(b)),
        band=lambda a, b: jnp.bitwise_and(ints(a), ints(b)),
        shr=lambda a, k: jax.lax.shift_right_logical(ints(a), jnp.int32(k)),
        imul=lambda a, b: ints(a) * ints(b),  # XLA's integer product wraps
        i32=lambda v: jnp.int32(_as_int32(int(v))),
        lsquare=lambda a: [jnp.square(x) for x in a],
        lsqrt=lambda a: [jnp.sqrt(x) for x in a],
        ladd_scalar=lambda a, s: [x + s for x in a],
        **_list_ops((jnp.multiply, jnp.add, jnp.subtract, jnp.divide)),
    )


@cache
def torch_ops(dtype="float32"):
    """PyTorch's eager namespace, computing in ``dtype``.

    Eager PyTorch pays a dispatch per operation, so this namespace keeps
    Python numbers as Python numbers (PyTorch's operations take them as
    scalars of the tensor's dtype): scalar arithmetic -- an optimizer's bias
    correction, a clip at a constant -- costs no tensor. The list operations
    run on PyTorch's multi-tensor ``_foreach`` kernels: one dispatch for all
    of a network's weights instead of one per array.
    """
    import math

    import torch

    is_tensor = torch.is_tensor

    def scalar_or(tensor_fn, number_fn):
        return lambda x: tensor_fn(x) if is_tensor(x) else number_fn(x)

    def bound(clamp_keyword, of_numbers):
        # max(a, b) / min(a, b) with a Python number on either side: a clamp.
        tensors = torch.maximum if clamp_keyword == "min" else torch.minimum

        def apply(a, b):
            if is_tensor(a) and is_tensor(b):
                return tensors(a, b)
            if is_tensor(a):
                return torch.clamp(a, **{clamp_keyword: b})
            if is_tensor(b):
                return torch.clamp(b, **{clamp_keyword: a})
            return of_numbers(a, b)

        return apply

    def power(a, b):
        if is_tensor(a) or is_tensor(b):
            return torch.pow(a, b)
        return float(a) ** float(b)

    dtype = getattr(torch, str(dtype))
    i32 = torch.int32

    def ints(x):
        return torch.as_tensor(x).to(i32)

    def reduce(fn):
        def apply(x, axis=None):
            return fn(x) if axis is None else fn(x, dim=axis)

        return apply

    def shr(a, k):
        a = ints(a)
        return torch.bitwise_and(torch.bitwise_right_shift(a, k), (1 << (32 - k)) - 1)

    def imul(a, b):
        product = ints(a).to(torch.int64) * ints(b).to(torch.int64)
        low = torch.bitwise_and(product, _MASK32)
        return torch.where(low >= 2**31, low - 2**32, low).to(i32)

    return SimpleNamespace(
        name="torch",
        dtype=dtype,
        exp=torch.exp,
        log=torch.log,
        log1p=torch.log1p,
        abs=torch.abs,
        sign=torch.sign,
        square=torch.square,
        sqrt=scalar_or(torch.sqrt, math.sqrt),
        tanh=torch.tanh,
        sigmoid=torch.sigmoid,
        relu=torch.relu,
        power=power,
        maximum=bound("min", max),
        minimum=bound("max", min),
        where=torch.where,
        equal=torch.eq,
        greater=torch.gt,
        isfinite=lambda x: torch.isfinite(torch.as_tensor(x)),
        logical_and=torch.logical_and,
        logical_or=torch.logical_or,
        logical_not=torch.logical_not,
        sum=reduce(torch.sum),
        max=lambda x, axis, keepdims=False: torch.amax(x, dim=axis, keepdim=keepdims),
        all=lambda x, axis: torch.all(x, dim=axis),
        argmax=lambda x, axis: torch.argmax(x, dim=axis).to(i32),
        cumsum=lambda x, axis: torch.cumsum(x, dim=axis),
        matmul=torch.matmul,
        affine=lambda x, w, b: torch.addmm(b, x, w),
        t=lambda x: x.t(),
        dim=lambda x, i: x.shape[i],
        concat=lambda xs, axis: torch.cat(list(xs), dim=axis),
        arange=lambda n: torch.arange(n, dtype=i32),
        as_float=lambda x: (
            x.to(dtype)
            if is_tensor(x)
            else float(x)
            if isinstance(x, (int, float, np.number))
            else torch.as_tensor(x, dtype=dtype)
        ),
        as_int=ints,
        zeros_like=torch.zeros_like,
        stop_gradient=lambda x: x.detach(),
        # PyTorch indexes with int64 (its index_select takes int32 too, its
        # index_add does not).
        take=lambda table, index: torch.index_select(table, 0, torch.as_tensor(index).long()),
        index_add=lambda target, index, values: target.index_add(
            0, torch.as_tensor(index).long(), values
        ),
        xor=lambda a, b: torch.bitwise_xor(ints(a), ints(b)),
        band=lambda a, b: torch.bitwise_and(ints(a), ints(b)),
        shr=shr,
        imul=imul,
        i32=lambda v: torch.tensor(_as_int32(int(v)), dtype=i32),
        lerp=lambda a, b, t: list(torch._foreach_lerp(a, b, t)),
        laddcdiv=lambda a, b, c, s: list(torch._foreach_addcdiv(a, b, c, s)),
        lmul=lambda a, s: list(torch._foreach_mul(a, s)),
        ladd=lambda a, b: list(torch._foreach_add(a, b)),
        lsub=lambda a, b: list(torch._foreach_sub(a, b)),
        ldiv=lambda a, b: list(torch._foreach_div(a, b)),
        lsquare=lambda a: list(torch._foreach_mul(a, a)),
        lsqrt=lambda a: list(torch._foreach_sqrt(a)),
        ladd_scalar=lambda a, s: list(torch._foreach_add(a, s)),
    )


def for_backend(backend, dtype="float32"):
    """The namespace of a Keras backend ("tensorflow", "jax", "torch") or "numpy"."""
    makers = {
        "numpy": numpy_ops,
        "tensorflow": tensorflow_ops,
        "jax": jax_ops,
        "torch": torch_ops,
    }
    try:
        make = makers[backend]
    except KeyError:
        raise ValueError(
            f"No array namespace for {backend!r}; skout trains on 'tensorflow', 'jax' and 'torch'."
        ) from None
    return make(np.dtype(dtype) if backend == "numpy" else str(np.dtype(dtype)))
