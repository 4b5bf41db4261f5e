"""Reliability: numerical extremes, memory, interrupts, determinism, sweeps
that meet divergence."""
import gc
import os
import signal
import threading
import time

import numpy as np
import pytest

import initreg as ir
from initreg import experiments as ex
from initreg.datasets import load_digits


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_fifty_thousand_steps_do_not_grow_memory():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    net = ir.MLP([32, 64, 10], seed=0)
    opt = ir.SGD(lr=1e-3, momentum=0.9, l1=1e-5, l1_mode="cumulative")
    for _ in range(2000):  # warm up: workspaces, optimiser state, allocator pools
        net.step(X, y, opt)
    gc.collect()
    before = rss_mib()
    for _ in range(50_000):
        net.step(X, y, opt)
    gc.collect()
    grown = rss_mib() - before
    # one leaked 32 x 64 float32 buffer per step would be 400 MiB
    assert grown < 4, f"resident memory grew by {grown:.1f} MiB over 50,000 steps"


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_hundreds_of_fits_do_not_grow_memory():
    X, y = load_digits()
    X, y = X[:256], y[:256]
    for _ in range(20):
        ir.MLP([64, 32, 10], seed=0).fit(X, y, epochs=2, record=True)
    gc.collect()
    before = rss_mib()
    for i in range(300):
        net = ir.MLP([64, 32, 10], seed=i)
        net.fit(X, y, epochs=2, record=True, validation_data=(X, y))
        net.forward(X)
    del net
    gc.collect()
    grown = rss_mib() - before
    assert grown < 4, f"resident memory grew by {grown:.1f} MiB over 300 fits"


def test_extreme_values_give_limits_not_nans():
    net = ir.MLP([2, 3], output="softmax", activation="tanh", dtype="float32", seed=0)
    net.weights[0][...] = np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    loss, grads = net.loss_and_gradients(np.array([[1.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(2e4, rel=1e-6)  # logsumexp(1e4, -1e4, 0) + 1e4
    assert all(np.isfinite(g).all() for pair in grads for g in pair)
    hidden = ir.MLP([1, 4, 2], activation="tanh", seed=0)
    hidden.weights[0][...] = np.array([[1e4, -1e4, 1e4, -1e4]], dtype=np.float32)
    acts = hidden.trace(np.array([[1.0]])).activations[0]
    np.testing.assert_array_equal(acts, [[1, -1, 1, -1]])  # exact limits


def test_inputs_of_1e30_and_too_large_inits_flag_divergence_inside_a_sweep():
    X, y = load_digits()

    def run(scale, init, seed):
        net = ir.MLP([64, 64, 10], activation="relu", init=init, seed=seed)
        hist = net.fit(X * scale, y, epochs=3, optimizer=ir.SGD(lr=0.1), seed=seed)
        return {"diverged": hist.diverged, "finite": bool(np.isfinite(net.parameters).all()),
                "acc": net.score(X, y)}

    # the warnings of the sweep's threads reach the main thread's recorder
    # (catch_warnings inside each thread would race on the global filters)
    with pytest.warns(RuntimeWarning, match="non-finite loss"):
        res = ex.sweep(run, {"scale": [1.0, 1e30], "init": ["he", ir.init.normal(std=1e20)]},
                       seeds=[0])
    by = {(r["scale"], repr(r["init"])): r["result"] for r in res.records}
    assert not by[(1.0, "'he'")]["diverged"] and by[(1.0, "'he'")]["acc"] > 0.8
    assert by[(1e30, "'he'")]["diverged"]
    assert by[(1.0, "normal(std=1e+20)")]["diverged"]  # float32 overflows in layer 2
    assert all(r["finite"] for r in by.values())


def test_ctrl_c_during_fit_stops_promptly_with_a_consistent_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40_000, 128)).astype(np.float32)
    y = rng.integers(0, 10, 40_000)
    net = ir.MLP([128, 512, 512, 10], seed=0)
    initial = net.parameters.copy()
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):  # passed on to the caller
        net.fit(X, y, epochs=1000, batch_size=16)
    took = time.perf_counter() - start
    timer.join()
    hist = net.history_
    assert hist.interrupted and not hist.diverged
    # a 2,500-step epoch takes seconds: a prompt stop is one that did not wait for it
    assert took < 0.5 + 0.5 * hist.n_epochs + 2.0, f"{took:.1f} s to stop"
    # the interrupted first epoch is rolled back whole
    assert hist.n_epochs == 0 and len(hist.batch_loss) == 0 and net.epochs_trained == 0
    np.testing.assert_array_equal(net.parameters, initial)
    # consistent: it evaluates, and training simply continues
    before = net.loss(X[:512], y[:512]).data
    net.fit(X[:512], y[:512], epochs=3, optimizer=ir.SGD(lr=0.01))
    assert net.loss(X[:512], y[:512]).data < before


def test_same_seed_same_weights_after_training_and_different_seed_differs():
    X, y = load_digits()

    def train(seed, dtype):
        net = ir.MLP([64, 48, 10], activation="relu", init="he", dtype=dtype, seed=seed)
        net.fit(X, y, epochs=3, optimizer=ir.SGD(lr=0.05, momentum=0.9, l1=1e-4,
                                                  l1_mode="proximal"))
        return net.parameters.copy()

    for dtype in ("float32", "float64"):
        np.testing.assert_array_equal(train(5, dtype), train(5, dtype))
        assert not np.array_equal(train(5, dtype), train(6, dtype))


def test_many_threads_many_models_match_serial():
    X, y = load_digits()
    seeds = range(4)

    def train(seed):
        net = ir.MLP([64, 32, 10], seed=seed)
        net.fit(X, y, epochs=2, optimizer=ir.SGD(lr=0.05, momentum=0.5))
        return net.parameters.copy()

    serial = [train(s) for s in seeds]
    results = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, train(s)))
               for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in seeds:
        np.testing.assert_array_equal(results[s], serial[s])
