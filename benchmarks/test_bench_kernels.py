"""pytest-benchmark suites for each kernel and for whole steps and epochs.

    pytest benchmarks/ --benchmark-only [--benchmark-json out.json]

Sizes are those of a [784, 256, 256, 10] network at batch 128 (the "small"
configuration of compare.py) unless stated.  Compare runs with
``--benchmark-compare``; for side-by-side numbers against NumPy and PyTorch
use compare.py.
"""
import numpy as np
import pytest

import initreg as ir
from initreg._vocabulary import L1_MODES
from initreg._core import _floor, _kernels as K, _network

ROWS, COLS = 128, 256


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _fresh(benchmark, kernel, original, *args):
    """Time an in-place kernel on a fresh copy each round: applied to its own
    output again and again, values would drift (towards denormals, whose
    arithmetic is ~100x slower) and the timing would mean nothing."""
    benchmark.pedantic(kernel, setup=lambda: ((original.copy(), *args), {}), rounds=2000,
                       warmup_rounds=10)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_forward_bias_activation(benchmark, dtype, activation, rng):
    z = rng.normal(size=(ROWS, COLS)).astype(dtype)
    b = rng.normal(size=COLS).astype(dtype)
    code = {"tanh": K.TANH, "sigmoid": K.SIGMOID, "relu": K.RELU}[activation]
    _fresh(benchmark, K.bias_activation, z, b, code)


def test_backward_activation(benchmark, dtype, rng):
    a = np.tanh(rng.normal(size=(ROWS, COLS))).astype(dtype)
    d = rng.normal(size=(ROWS, COLS)).astype(dtype)
    _fresh(benchmark, K.activation_backward, d, a, K.TANH)


def test_softmax_cross_entropy(benchmark, dtype, rng):
    z = rng.normal(size=(ROWS, 10)).astype(dtype)
    y = rng.integers(0, 10, ROWS)
    benchmark(K.softmax_xent, z, y)


@pytest.mark.parametrize("mode", ["subgradient", "proximal", "cumulative"])
# 2^20 elements run the plain loop; 2^23 are past K.STREAM_BYTES in either
# dtype, where the kernel prefetches
@pytest.mark.parametrize("n", [2**20, 2**23], ids=["plain-loop", "prefetching"])
def test_fused_update(benchmark, dtype, mode, n, rng):
    # aligned as a model's own buffers
    w, g, v, q = (_network.aligned_zeros(n, dtype) for _ in range(4))
    w[:] = rng.normal(size=n)
    g[:] = rng.normal(size=n) * 1e-3
    code = L1_MODES[mode].code
    benchmark(K.sgd_update, w, g, v, q, lr=1e-3, momentum=0.9, l1=1e-6, l2=1e-5,
              cum_u=1e-9, l1_mode=code)


def test_gemm_floor_of_a_step(benchmark, dtype):
    floor = _floor.StepProducts([784, 256, 256, 10], 128, dtype)
    benchmark(floor.run, 1)


def test_training_step(benchmark, dtype, rng):
    net = ir.MLP([784, 256, 256, 10], activation="relu", init="he", dtype=dtype, seed=0)
    X = rng.normal(size=(128, 784)).astype(dtype)
    y = rng.integers(0, 10, 128)
    opt = ir.SGD(lr=1e-3, l1=1e-5, l2=1e-4)
    benchmark(net.step, X, y, opt)


def test_epoch_loop_tiny(benchmark, dtype, rng):
    """One epoch of 64 steps of [64, 128, 128, 10] at batch 32 through fit."""
    net = ir.MLP([64, 128, 128, 10], activation="tanh", dtype=dtype, seed=0)
    X = rng.normal(size=(64 * 32, 64)).astype(dtype)
    y = rng.integers(0, 10, 64 * 32)
    opt = ir.SGD(lr=1e-3, l1=1e-5, l2=1e-4)
    benchmark(net.fit, X, y, epochs=1, batch_size=32, optimizer=opt)
