"""Models train in parallel threads (the engine releases the GIL), with
results bit-identical to training them one after the other; one model used
by two threads at once is refused, never corrupted."""
import threading
import time

import numpy as np
import pytest

import initreg as ir


def _data(seed, n=512, n_in=32, n_out=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)).astype(np.float32), rng.integers(0, n_out, n)


def _train(net, X, y, epochs=4):
    state = ir.SGD(lr=0.05, momentum=0.9, l1=1e-4, l2=1e-4)._bind(net)
    order = np.arange(len(X), dtype=np.int64)
    for _ in range(epochs):
        net._net.train_epoch(X, y, order, 16, state)
    return net.parameters.copy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_two_models_in_two_threads_match_serial_training(dtype):
    data = [(X.astype(dtype), y) for X, y in (_data(1), _data(2))]
    serial = [_train(ir.MLP([32, 64, 64, 5], dtype=dtype, seed=s), *data[s]) for s in (0, 1)]
    nets = [ir.MLP([32, 64, 64, 5], dtype=dtype, seed=s) for s in (0, 1)]
    results = [None, None]

    def work(i):
        results[i] = _train(nets[i], *data[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, serial):
        np.testing.assert_array_equal(got, want)


def test_one_model_in_two_threads_is_refused_not_corrupted():
    X, y = _data(3, n=20000, n_in=64)
    net = ir.MLP([64, 256, 256, 5], seed=0)
    reference = ir.MLP([64, 256, 256, 5], seed=0)
    opt = ir.SGD(lr=0.01, momentum=0.0)
    state = opt._bind(net)
    order = np.arange(len(X), dtype=np.int64)
    worker = threading.Thread(target=lambda: net._net.train_epoch(X, y, order, 8, state))
    refused = False
    steps_before = 0  # main-thread steps that ran before the worker took the model
    worker.start()
    while worker.is_alive() and not refused:
        try:
            net.step(X[:8], y[:8], opt)
            steps_before += 1
        except RuntimeError as exc:
            assert "another thread" in str(exc)
            refused = True
    worker.join()
    assert refused, "the second thread was never refused while the first trained"
    # not corrupted: exactly those steps, then exactly the one epoch
    ref_opt = ir.SGD(lr=0.01, momentum=0.0)
    for _ in range(steps_before):
        reference.step(X[:8], y[:8], ref_opt)
    reference._net.train_epoch(X, y, order, 8, ref_opt._bind(reference))
    np.testing.assert_array_equal(net.parameters, reference.parameters)


def test_a_second_thread_cannot_replace_state_a_running_loop_uses():
    X, y = _data(4, n=20000, n_in=64)
    net = ir.MLP([64, 256, 256, 5], seed=0)
    reference = ir.MLP([64, 256, 256, 5], seed=0)
    opt = ir.SGD(lr=0.01, momentum=0.9)  # the loop writes through the velocity buffer
    state = opt._bind(net)
    order = np.arange(len(X), dtype=np.int64)
    worker = threading.Thread(target=lambda: net._net.train_epoch(X, y, order, 8, state))
    attempts = {"trace": 0, "other optimizer": 0, "optimizer state": 0}
    worker.start()
    while not net._net.busy:  # until the epoch (a few hundred ms) has begun
        assert worker.is_alive()
    deadline = time.perf_counter() + 0.05  # stay far from the epoch's end
    while time.perf_counter() < deadline:
        for name, call in (("trace", lambda: net.trace(X[:5000])),
                           ("other optimizer", lambda: net.step(X[:8], y[:8], ir.SGD(lr=1.0))),
                           ("optimizer state", opt.state_dict)):
            with pytest.raises(RuntimeError, match="another thread"):
                call()
            attempts[name] += 1
    worker.join()
    assert all(attempts.values()), attempts
    ref_opt = ir.SGD(lr=0.01, momentum=0.9)
    reference._net.train_epoch(X, y, order, 8, ref_opt._bind(reference))
    # the running epoch kept its workspace and its momentum throughout
    np.testing.assert_array_equal(net.parameters, reference.parameters)
    np.testing.assert_array_equal(opt.state_dict()["buffers"]["velocity"],
                                  ref_opt.state_dict()["buffers"]["velocity"])
