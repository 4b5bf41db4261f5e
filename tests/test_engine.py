"""The compiled engine: gradients against central finite differences and an
independent NumPy oracle, the training step against the closed-form update,
the epoch loop against a sequence of steps, divergence handling."""
import numpy as np
import pytest

import initreg as ir
from initreg._core import _network

from reference import forward_backward

ACTIVATIONS = ["identity", "tanh", "sigmoid", "relu", "leaky_relu"]
OUTPUTS = ["softmax", "sigmoid", "linear"]


def make_data(rng, n, n_in, n_out, output, dtype=np.float64):
    X = rng.normal(size=(n, n_in)).astype(dtype)
    if output == "softmax":
        y = rng.integers(0, n_out, n)
    elif output == "sigmoid":
        y = rng.integers(0, 2, (n, n_out)).astype(dtype)
    else:
        y = rng.normal(size=(n, n_out)).astype(dtype)
    return X, y


def finite_difference_gradient(net, X, y, l1=0.0, l2=0.0, h=1e-6):
    p = net.parameters
    fd = np.empty_like(p)
    for i in range(p.size):
        old = p[i]
        p[i] = old + h
        up = net.loss(X, y, l1=l1, l2=l2).total
        p[i] = old - h
        down = net.loss(X, y, l1=l1, l2=l2).total
        p[i] = old
        fd[i] = (up - down) / (2 * h)
    return fd


def flat(grads):
    return np.concatenate([g[0].ravel() for g in grads] + [g[1] for g in grads])


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_central_finite_differences(activation, output, rng):
    n_out = 3
    net = ir.MLP([4, 6, 5, n_out], activation=activation, output=output,
                 dtype="float64", seed=1, leaky_slope=0.1)
    for b in net.biases:
        b[...] = rng.normal(0, 0.1, b.shape)
    X, y = make_data(rng, 7, 4, n_out, output)
    loss, grads = net.loss_and_gradients(X, y)
    g = flat(grads)
    fd = finite_difference_gradient(net, X, y)
    rel = np.linalg.norm(g - fd) / np.linalg.norm(g + fd)
    assert rel < 1e-6, rel
    assert loss == pytest.approx(net.loss(X, y).total, rel=1e-14)


def test_penalty_gradient_matches_finite_differences(rng):
    net = ir.MLP([3, 4, 2], activation="tanh", dtype="float64", seed=2)
    for w in net.weights:  # keep |w| away from the kink of |w| at 0
        w[np.abs(w) < 1e-3] = 0.1
    X, y = make_data(rng, 5, 3, 2, "softmax")
    loss, grads = net.loss_and_gradients(X, y, l1=0.03, l2=0.2)
    fd = finite_difference_gradient(net, X, y, l1=0.03, l2=0.2)
    g = flat(grads)
    assert np.linalg.norm(g - fd) / np.linalg.norm(g + fd) < 1e-6
    data = net.loss(X, y).total
    penalty = sum(0.03 * np.abs(w).sum() + 0.2 * (w**2).sum() for w in net.weights)
    assert loss == pytest.approx(data + penalty, rel=1e-13)
    # biases are not penalised by default
    _, grads0 = net.loss_and_gradients(X, y)
    for (_, db), (_, db0) in zip(grads, grads0):
        np.testing.assert_array_equal(db, db0)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_backward_match_numpy_oracle(activation, output, dtype, rng):
    net = ir.MLP([9, 17, 1 + 2, 5], activation=activation, output=output,
                 dtype=dtype, seed=3, leaky_slope=0.1)
    X, y = make_data(rng, 1 + 12, 9, 5, output, dtype)
    for batch in (X[:1], X):  # a batch of one, and an odd batch
        yb = y[:len(batch)]
        loss, grads = net.loss_and_gradients(batch, yb)
        ref_loss, ref_grads = forward_backward(net.weights, net.biases,
                                               list(net.activations), output, batch, yb, 0.1)
        tol = 1e-4 if dtype == np.float32 else 1e-10
        assert loss == pytest.approx(ref_loss, rel=tol, abs=tol)
        for (dw, db), (rw, rb) in zip(grads, ref_grads):
            np.testing.assert_allclose(dw, rw, rtol=tol * 10, atol=tol)
            np.testing.assert_allclose(db, rb, rtol=tol * 10, atol=tol)


@pytest.mark.parametrize("regularize_bias", [False, True])
def test_step_is_the_closed_form_update(regularize_bias, dtype, rng):
    net = ir.MLP([6, 8, 3], activation="relu", init="he", dtype=dtype, seed=4)
    X, y = make_data(rng, 10, 6, 3, "softmax", dtype)
    lr, l1, l2 = 0.1, 0.01, 0.05
    _, data_grads = net.loss_and_gradients(X, y)
    before_w = [w.astype(np.float64) for w in net.weights]
    before_b = [b.astype(np.float64) for b in net.biases]
    loss = net.step(X, y, ir.SGD(lr=lr, momentum=0.0, l1=l1, l2=l2, l1_mode="subgradient",
                                 regularize_bias=regularize_bias))
    assert np.isfinite(loss)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for w, b, w0, b0, (dw, db) in zip(net.weights, net.biases, before_w, before_b, data_grads):
        np.testing.assert_allclose(w, w0 - lr * (dw + l1 * np.sign(w0) + 2 * l2 * w0), **tol)
        if regularize_bias:
            np.testing.assert_allclose(b, b0 - lr * (db + l1 * np.sign(b0) + 2 * l2 * b0), **tol)
        else:
            np.testing.assert_allclose(b, b0 - lr * db, **tol)


def test_step_returns_the_loss_before_the_update(rng):
    net = ir.MLP([5, 4, 3], dtype="float64", seed=5)
    X, y = make_data(rng, 8, 5, 3, "softmax")
    before = net.loss(X, y).data
    assert net.step(X, y, ir.SGD(lr=0.5)) == pytest.approx(before, rel=1e-14)
    assert net.loss(X, y).data < before


def test_non_finite_loss_leaves_parameters_untouched(rng):
    net = ir.MLP([4, 8, 3], activation="relu", dtype="float32", seed=6)
    net.weights[0][...] = 3e38  # the first matrix product overflows
    before = net.parameters.copy()
    X, y = make_data(rng, 6, 4, 3, "softmax", np.float32)
    loss = net.step(X, y, ir.SGD(lr=0.1))
    assert not np.isfinite(loss)
    assert net.diverged
    np.testing.assert_array_equal(net.parameters, before)


def _epoch(net, X, y, order, batch, opt, stats=None):
    n_batches = -(-len(order) // batch)
    losses = np.empty(n_batches)
    result = net._net.train_epoch(X, y, order, batch, opt._bind(net), stats=stats,
                                  batch_losses=losses)
    return result, losses


@pytest.mark.parametrize("settings", [
    dict(lr=0.05, momentum=0.0), dict(lr=0.05, momentum=0.9, l2=1e-3),
    dict(lr=0.05, momentum=0.0, l1=1e-3, l1_mode="cumulative"),
    dict(lr=0.05, l1=1e-3, l1_mode="proximal", nesterov=True, momentum=0.5),
    dict(lr=0.05, l1=1e-3, l1_mode="subgradient", momentum=0.3)],
    ids=["plain", "momentum", "cumulative", "proximal-nesterov", "subgradient"])
def test_epoch_loop_equals_the_same_steps_one_by_one(settings, dtype, rng):
    X, y = make_data(rng, 103, 7, 4, "softmax", dtype)
    order = rng.permutation(103).astype(np.int64)
    a = ir.MLP([7, 16, 16, 4], activation="tanh", dtype=dtype, seed=7)
    b = ir.MLP([7, 16, 16, 4], activation="tanh", dtype=dtype, seed=7)
    (status, loss_sum, correct, seen, steps, pending), losses = _epoch(a, X, y, order, 10,
                                                                       ir.SGD(**settings))
    assert (status, seen, steps, pending) == (_network.OK, 103, 11, None)
    state = ir.SGD(**settings)._bind(b)
    step_losses = []
    for s in range(0, 103, 10):
        idx = order[s:s + 10]
        step_losses.append(b._net.step(X[idx], y[idx], state)[1])
    np.testing.assert_array_equal(a.parameters, b.parameters)  # bit-identical
    np.testing.assert_array_equal(losses, step_losses)
    assert loss_sum == pytest.approx(sum(l * len(order[s:s + 10]) for l, s in
                                         zip(step_losses, range(0, 103, 10))))


def test_epoch_records_layer_statistics(rng):
    X, y = make_data(rng, 40, 5, 3, "softmax")
    net = ir.MLP([5, 6, 3], activation="tanh", dtype="float64", seed=8)
    order = np.arange(40, dtype=np.int64)
    stats = np.zeros((2, 6))
    # one batch: the statistics are those of the single forward/backward pass
    probe = ir.MLP([5, 6, 3], activation="tanh", dtype="float64", seed=8)
    _, grads = probe.loss_and_gradients(X, y)
    tr = probe.trace(X, y)
    outs, deltas = tr.activations, tr.gradients
    _epoch(net, X, y, order, 40, ir.SGD(lr=0.1), stats=stats)
    for l in range(2):
        a, d, dw = outs[l], deltas[l], grads[l][0]
        expected = [a.sum(), (a**2).sum(), d.sum(), (d**2).sum(), dw.sum(), (dw**2).sum()]
        np.testing.assert_allclose(stats[l], expected, rtol=1e-10, atol=1e-14)


def test_epoch_stops_at_divergence_with_parameters_of_the_last_finite_step(rng):
    X, y = make_data(rng, 64, 4, 2, "softmax", np.float32)
    X[40] = 3e38  # the batch holding row 40 overflows
    net = ir.MLP([4, 8, 2], activation="relu", init="he", dtype="float32", seed=9)
    order = np.arange(64, dtype=np.int64)
    ref = ir.MLP([4, 8, 2], activation="relu", init="he", dtype="float32", seed=9)
    state = ir.SGD(lr=0.01)._bind(ref)
    for s in range(0, 40, 8):  # the five finite batches before row 40
        ref._net.step(X[s:s + 8], y[s:s + 8], state)
    (status, _, _, seen, steps, _), _ = _epoch(net, X, y, order, 8, ir.SGD(lr=0.01))
    assert status == _network.DIVERGED and steps == 5 and seen == 40
    np.testing.assert_array_equal(net.parameters, ref.parameters)
    assert np.isfinite(net.parameters).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_aligned_zeros_starts_on_a_cache_line(n, dtype):
    # several in a row: a single allocation could be aligned by chance
    arrays = [_network.aligned_zeros(n, dtype) for _ in range(8)]
    for a in arrays:
        assert a.dtype == dtype and a.shape == (n,) and a.flags.c_contiguous
        assert a.flags.writeable and not a.any()
        if n:
            assert a.ctypes.data % _network.ALIGNMENT == 0


def test_aligned_zeros_refuses_a_negative_length():
    with pytest.raises(ValueError):
        _network.aligned_zeros(-1, np.float32)


def test_every_engine_buffer_is_aligned(rng):
    # the momentum and cumulative-L1 buffers appear with their optimisers
    net = ir.MLP([5, 7, 3], seed=0)
    X, y = make_data(rng, 9, 5, 3, "softmax", np.float32)
    opt = ir.SGD(lr=0.1, momentum=0.9, l1=1e-3, l1_mode="cumulative")
    net.step(X, y, opt)
    engine, state = net._net, opt._bind(net)
    assert set(state.buffers) == {"velocity", "cumulative"}
    for buf in (engine.params, engine.grads, *state.buffers.values()):
        assert buf.ctypes.data % _network.ALIGNMENT == 0
