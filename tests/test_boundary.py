"""The validation boundary in front of the compiled core: documented
conversions work, everything else raises TypeError/ValueError naming the
argument."""
import numpy as np
import pytest

import initreg as ir


@pytest.fixture
def net():
    return ir.MLP([4, 5, 3], seed=0)


@pytest.fixture
def data(rng):
    return rng.normal(size=(6, 4)).astype(np.float32), rng.integers(0, 3, 6)


def test_conversions_give_the_same_result(net, data):
    X, y = data
    expected = net.forward(X)
    for variant in (X.astype(np.float64), X.astype(np.float16).astype(np.float32),
                    np.asfortranarray(X), X.tolist()):
        np.testing.assert_allclose(net.forward(variant), net.forward(np.asarray(variant, np.float32)),
                                   rtol=1e-6)
    np.testing.assert_array_equal(net.forward(np.asfortranarray(X)), expected)
    wide = np.zeros((6, 8), np.float32)
    wide[:, ::2] = X  # non-contiguous view
    np.testing.assert_array_equal(net.forward(wide[:, ::2]), expected)
    np.testing.assert_array_equal(net.forward((X * 0).astype(np.int32)), net.forward(X * 0))


def test_read_only_inputs_are_accepted_and_never_modified(net, data):
    X, y = data
    X.flags.writeable = False
    y.flags.writeable = False
    X0, y0 = X.copy(), y.copy()
    net.forward(X)
    net.loss_and_gradients(X, y, l1=0.1)
    net.step(X, y, ir.SGD(lr=0.1))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize("bad, exc, words", [
    (np.ones((6, 4), complex), TypeError, "complex"),
    (np.ones((6, 4), bool), TypeError, "boolean"),
    (np.array([["a"] * 4] * 6), TypeError, "real numbers"),
    (np.ones((6, 4), object), TypeError, "real numbers"),
    (np.ones((6, 5), np.float32), ValueError, "columns"),
    (np.ones(4, np.float32), ValueError, "2-D"),
    (np.ones((0, 4), np.float32), ValueError, "empty"),
    (np.full((6, 4), np.nan, np.float32), ValueError, "NaN"),
    (np.full((6, 4), 1e300), ValueError, "infinity"),  # overflows float32
    # one bad value in an array used as it is, and in ones that get copied
    (np.where(np.arange(24).reshape(6, 4) == 23, np.nan, 1).astype(np.float32), ValueError, "NaN"),
    (np.asfortranarray(np.where(np.eye(6, 4) > 0, -np.inf, 1).astype(np.float32)),
     ValueError, "infinity"),
    (np.where(np.arange(48).reshape(6, 8) == 10, np.inf, 1).astype(np.float32)[:, ::2],
     ValueError, "infinity"),
    (None, TypeError, "None"),
])
def test_bad_inputs_raise_naming_the_problem(net, bad, exc, words):
    with pytest.raises(exc, match=words):
        net.forward(bad)


@pytest.mark.parametrize("y, words", [
    (np.array([0, 1, 2, 3, 0, 1]), r"\[0, 3\)"),
    (np.array([0, 1, -1, 0, 0, 1]), r"\[0, 3\).*got values in \[-1, 1\]"),
    (np.array([0, 1, 0.5, 0, 0, 1]), "integer"),
    (np.array([0, 1, 2]), "3 labels for 6"),
    (np.ones((6, 2)), "1-D"),
])
def test_bad_labels(net, data, y, words):
    with pytest.raises(ValueError, match=words):
        net.loss_and_gradients(data[0], y)


@pytest.mark.parametrize("kwargs, words", [
    (dict(lr=0), "lr"), (dict(lr=-1), "lr"), (dict(lr=float("nan")), "lr"),
    (dict(lr=0.1, momentum=1.0), "momentum"), (dict(lr=0.1, momentum=-0.1), "momentum"),
    (dict(lr=0.1, l1=-1), "l1"), (dict(lr=0.1, l2=float("inf")), "l2"),
    (dict(lr=0.1, l1_mode="lasso"), "l1_mode"),
    (dict(lr=0.1, momentum=0.0, nesterov=True), "nesterov"),
])
def test_bad_hyperparameters(kwargs, words):
    with pytest.raises((ValueError, TypeError), match=words):
        ir.SGD(**kwargs)


@pytest.mark.parametrize("kwargs, words", [
    (dict(layer_sizes=[4]), "at least"), (dict(layer_sizes=[4, 0, 3]), "layer_sizes"),
    (dict(layer_sizes=[4, -2, 3]), "layer_sizes"), (dict(layer_sizes=[4, 2.5, 3]), "integer"),
    (dict(layer_sizes=[4, 5, 3], activation="swish"), "activation"),
    (dict(layer_sizes=[4, 5, 3], init="magic"), "initializer"),
    (dict(layer_sizes=[4, 5, 3], dtype="float16"), "dtype"),
    (dict(layer_sizes=[4, 5, 1]), "softmax"),
    (dict(layer_sizes=[10**6, 10**6, 10**6]), "GiB"),
])
def test_bad_architectures(kwargs, words):
    with pytest.raises((ValueError, TypeError), match=words):
        ir.MLP(**kwargs)


def test_engine_refuses_buffers_of_the_wrong_size(net):
    with pytest.raises(ValueError, match="bytes"):
        net._net.forward(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))


def test_the_architecture_is_read_only(net):
    for name, value in (("output", "sigmoid"), ("layer_sizes", (4, 100000)),
                        ("dtype", np.float64), ("activations", ("relu",))):
        with pytest.raises(AttributeError):
            setattr(net, name, value)


def test_engine_refuses_buffers_of_the_wrong_item_type(net, data):
    X, y = data
    floats_as_labels = np.zeros((6, 1), np.float64)  # 8-byte items, like int64 labels
    with pytest.raises(TypeError, match="items"):
        net._net.evaluate(X, floats_as_labels.ravel())
    with pytest.raises(TypeError, match="items"):
        net._net.forward(X.astype(np.int32), np.zeros((6, 3), np.float32))


def test_labels_are_copied_so_the_caller_cannot_change_them_under_the_core(net, data):
    from initreg._validation import as_labels
    y = data[1].astype(np.int64)
    assert not np.shares_memory(as_labels(y, "y", len(y), 3), y)
    backwards = y[::-2]  # and a strided view comes back as a contiguous int64 copy
    labels = as_labels(backwards, "y", len(backwards), 3)
    assert labels.dtype == np.int64 and labels.flags.c_contiguous
    np.testing.assert_array_equal(labels, backwards)


def test_whole_batch_calls_refuse_workspaces_beyond_memory(net, data, monkeypatch):
    import initreg._validation as v
    monkeypatch.setattr(v, "memory_limit", lambda: 100)  # the 6-row workspace: 528 bytes
    for call in (lambda: net.loss_and_gradients(*data), lambda: net.trace(data[0]),
                 lambda: net.step(*data, ir.SGD(lr=0.1))):
        with pytest.raises(ValueError, match="memory"):
            call()


def test_memory_is_checked_only_when_the_workspace_grows(net, data, monkeypatch):
    # reading /proc/meminfo costs more than a small network's whole step
    import initreg._validation as v
    net.step(*data, ir.SGD(lr=0.1))  # a workspace of 6 rows now exists
    monkeypatch.setattr(v, "memory_limit", lambda: 100)
    net.step(data[0][:3], data[1][:3], ir.SGD(lr=0.1))  # fits: no check
    with pytest.raises(ValueError, match="memory"):
        net.step(np.tile(data[0], (2, 1)), np.tile(data[1], 2), ir.SGD(lr=0.1))
