"""Adam and SGD, written once over the array namespace, with Keras's math.

One step takes the parameters, their gradients, the optimizer's slots (per
weight: Adam's momentum and velocity, or SGD's momentum), the number of
steps taken before and the learning rate, and returns the new parameters
and slots. The formulas are those of ``keras.optimizers.Adam`` and ``SGD``
(momentum, Nesterov), so the slots have the meaning, and the layout, of
Keras's optimizer variables; every loop (TensorFlow, JAX, PyTorch) runs this
same function, and a ``partial_fit`` started on one backend goes on with the
same state on another.

Examples
--------
>>> import numpy as np
>>> from skout._engine.arrays import numpy_ops
>>> from skout._engine.contract import OptimizerSpec
>>> from skout._engine.optimizers import step
>>> params, slots = step(numpy_ops(np.float64), OptimizerSpec("sgd", momentum=0.0),
...                      [np.array([1.0])], [np.array([0.5])], [], 0, 0.1)
>>> params[0]
array([0.95])
"""

from __future__ import annotations

__all__ = ["slots_per_weight", "step"]


def slots_per_weight(spec):
    """Optimizer slots per weight: Adam's two moments, SGD's momentum (or none)."""
    if spec.solver == "adam":
        return 2
    return 1 if spec.momentum != 0 else 0


def step(xp, spec, params, grads, slots, step_count, learning_rate):
    """One optimizer step; returns ``(params, slots)`` as new lists.

    Parameters
    ----------
    xp : namespace
    spec : OptimizerSpec
    params, grads : lists of arrays
    slots : list of arrays
        Adam: ``[m_0, v_0, m_1, v_1, ...]``; SGD with momentum: ``[m_0, m_1,
        ...]``; SGD without momentum: ``[]``.
    step_count : scalar
        Steps taken before this one.
    learning_rate : scalar
    """
    if spec.solver == "adam":
        t = xp.as_float(step_count) + 1.0
        b1, b2 = spec.beta_1, spec.beta_2
        b1_t, b2_t = xp.power(xp.as_float(b1), t), xp.power(xp.as_float(b2), t)
        alpha = learning_rate * xp.sqrt(1.0 - b2_t) / (1.0 - b1_t)
        m = xp.lerp(slots[0::2], grads, 1.0 - b1)
        v = xp.lerp(slots[1::2], xp.lsquare(grads), 1.0 - b2)
        params = xp.laddcdiv(params, m, xp.ladd_scalar(xp.lsqrt(v), spec.epsilon), -alpha)
        return params, [s for pair in zip(m, v) for s in pair]
    scaled = xp.lmul(grads, learning_rate)
    if spec.momentum == 0:
        return xp.lsub(params, scaled), []
    momentum = xp.lsub(xp.lmul(slots, spec.momentum), scaled)
    if spec.nesterov:
        return xp.ladd(params, xp.lsub(xp.lmul(momentum, spec.momentum), scaled)), momentum
    return xp.ladd(params, momentum), momentum
