"""The engine's contract (skout._engine.contract) and the optimizers every loop shares."""

import importlib.util
import inspect

import numpy as np
import pytest

from skout._engine import contract, optimizers
from skout._engine.arrays import for_backend, numpy_ops
from skout._engine.contract import Carry, DenseFamily, OptimizerSpec, program_network
from skout._engine.rule import StoppingState
from skout._network import NetworkSpec
from skout.heads import OutputHead

LOOPS = ["tf_loop", "jax_loop", "torch_loop"]


@pytest.mark.parametrize("name", LOOPS)
def test_every_backend_loop_implements_the_chunk_loop_interface(name):
    module = importlib.import_module(f"skout._engine.{name}")
    for method, spec in inspect.getmembers(contract.ChunkLoop, inspect.isfunction):
        if method.startswith("_"):
            continue
        implemented = getattr(module, method)
        wanted = list(inspect.signature(spec).parameters)[1:]  # without self
        assert list(inspect.signature(implemented).parameters) == wanted, (name, method)


def test_the_carry_round_trips_through_the_fitted_states_plain_layout():
    carry = Carry(StoppingState(0.5, -np.inf, 3), 42, 0.01,
                  [np.ones(2), np.zeros(3)])  # fmt: skip
    state = carry.optimizer_state()
    assert int(state[0]) == 42 and float(state[1]) == pytest.approx(0.01)
    back = Carry.from_optimizer_state(carry.stopping, state)
    assert (back.step, back.learning_rate) == (42, pytest.approx(0.01))
    assert [s.shape for s in back.slots] == [(2,), (3,)]


def test_a_dense_networks_program_is_keyed_by_its_family_not_its_widths():
    head = (OutputHead(3, "softmax", "sparse_categorical_crossentropy"),)
    narrow = NetworkSpec(4, (5, 6), "relu", head)
    wide = NetworkSpec(9, (50, 60), "relu", head)
    assert program_network(narrow) == program_network(wide) == DenseFamily(2, "relu", head, False)
    assert program_network(NetworkSpec(4, (5,), "relu", head)) != program_network(narrow)


def _keras_steps(spec, params, grads_per_step, learning_rate):
    import keras

    variables = [keras.Variable(p) for p in params]
    optimizer = spec.build(learning_rate)
    for grads in grads_per_step:
        optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables]


@pytest.mark.parametrize(
    "spec",
    [
        OptimizerSpec("adam"),
        OptimizerSpec("adam", beta_1=0.8, beta_2=0.99, epsilon=1e-6),
        OptimizerSpec("sgd", momentum=0.0),
        OptimizerSpec("sgd", momentum=0.9, nesterov=True),
        OptimizerSpec("sgd", momentum=0.5, nesterov=False),
    ],
    ids=["adam", "adam-params", "sgd", "sgd-nesterov", "sgd-momentum"],
)
def test_the_optimizer_step_is_keras_optimizers_math(spec):
    rng = np.random.RandomState(0)
    params = [rng.randn(3, 2).astype(np.float32), rng.randn(2).astype(np.float32)]
    steps = [[rng.randn(3, 2).astype(np.float32), rng.randn(2).astype(np.float32)]
             for _ in range(4)]  # fmt: skip
    xp = numpy_ops(np.float32)
    ours = [p.copy() for p in params]
    slots = [np.zeros_like(p) for p in ours for _ in range(optimizers.slots_per_weight(spec))]
    for count, grads in enumerate(steps):
        ours, slots = optimizers.step(xp, spec, ours, grads, slots, count, np.float32(0.05))
    theirs = _keras_steps(spec, params, steps, 0.05)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_pytorchs_multi_tensor_lists_take_the_same_step():
    import torch

    spec = OptimizerSpec("adam")
    rng = np.random.RandomState(1)
    params = [rng.randn(4, 3), rng.randn(3)]
    grads = [rng.randn(4, 3), rng.randn(3)]
    slots = [rng.rand(*p.shape) for p in params for _ in range(2)]
    ours, our_slots = optimizers.step(numpy_ops(np.float64), spec, params, grads, slots, 5, 0.01)
    tensors = [[torch.tensor(a) for a in group] for group in (params, grads, slots)]
    # as the PyTorch loop calls it: the step count and the rate as Python numbers
    theirs, their_slots = optimizers.step(for_backend("torch", "float64"), spec, *tensors, 5, 0.01)
    for a, b in zip(ours + our_slots, theirs + their_slots, strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-12)
