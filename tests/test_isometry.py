"""The input-output Jacobian (MLP.jacobian) against central finite
differences and PyTorch's autograd; the isometry experiment against what
random-matrix theory says of linear networks."""
import numpy as np
import pytest

import initreg as ir
from initreg import experiments as ex

ACTIVATIONS = ["tanh", "relu", "leaky_relu", "sigmoid", "identity"]


def _net(activation, dtype, sizes=(7, 9, 8, 4), output="softmax"):
    return ir.MLP(list(sizes), activation=activation, dtype=dtype, seed=2, output=output,
                  bias_init=ir.init.normal(std=0.4))


def _finite_differences(net, X, h=1e-6):
    """d logits / d x by central differences, float64."""
    J = np.empty((X.shape[0], net.layer_sizes[-1], X.shape[1]))
    for j in range(X.shape[1]):
        e = np.zeros(X.shape[1])
        e[j] = h
        J[:, :, j] = (net.logits(X + e) - net.logits(X - e)) / (2 * h)
    return J


def _distance_to_kink(net, X):
    """Per row, the smallest |pre-activation| of a hidden unit (NumPy)."""
    a, nearest = X, np.full(len(X), np.inf)
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        z = a @ w + b
        nearest = np.minimum(nearest, np.abs(z).min(axis=1))
        a = np.where(z > 0, z, net.leaky_slope * z if net.activations[0] == "leaky_relu" else 0)
    return nearest


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", [(7, 4), (7, 9, 8, 4), (7, 30, 3, 30, 2)],
                         ids=["one-layer", "three", "four-narrow"])
def test_jacobian_agrees_with_central_differences(activation, sizes, rng):
    net = _net(activation, np.float64, sizes)
    X = rng.normal(size=(5, sizes[0]))
    if activation in ("relu", "leaky_relu"):  # keep away from the kink, where fd breaks
        X = X[_distance_to_kink(net, X) > 1e-4]
    J = net.jacobian(X)
    assert J.shape == (len(X), sizes[-1], sizes[0]) and J.dtype == np.float64
    np.testing.assert_allclose(J, _finite_differences(net, X), rtol=1e-6, atol=1e-8)


def test_jacobian_agrees_with_torch_autograd(activation_for_torch, dtype, rng):
    torch = pytest.importorskip("torch")
    net = _net(activation_for_torch, dtype, (6, 11, 10, 3), output="linear")
    X = rng.normal(size=(9, 6)).astype(dtype)
    modules = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}
    layers = []
    for i, (w, b) in enumerate(zip(net.weights, net.biases)):
        lin = torch.nn.Linear(*w.shape, dtype=torch.from_numpy(w).dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(lin)
        if i < net.n_layers - 1:
            layers.append(modules[activation_for_torch]())
    model = torch.nn.Sequential(*layers)
    theirs = torch.func.vmap(torch.func.jacrev(model))(torch.from_numpy(X)).detach().numpy()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(net.jacobian(X), theirs, **tol)


@pytest.fixture(params=["tanh", "relu", "sigmoid"])
def activation_for_torch(request):
    return request.param


def test_jacobian_rows_are_independent_of_how_they_are_chunked(rng):
    net = _net("tanh", np.float64, (5, 6, 3))
    X = rng.normal(size=(600, 5))  # more rows than one chunk holds
    J = net.jacobian(X)
    for i in (0, 255, 256, 599):
        np.testing.assert_array_equal(J[i], net.jacobian(X[i:i + 1])[0])


@pytest.mark.parametrize("X, match", [
    (np.full((2, 7), np.nan), "X"), (np.zeros((2, 6)), "7"), (np.zeros((0, 7)), "X"),
])
def test_jacobian_refuses_bad_inputs(X, match):
    with pytest.raises(ValueError, match=match):
        _net("tanh", np.float64).jacobian(X)


def test_jacobian_beyond_memory_is_refused_with_its_size(monkeypatch):
    import initreg._validation as v
    net = _net("tanh", np.float32)
    monkeypatch.setattr(v, "memory_limit", lambda: 10_000)
    with pytest.raises(ValueError, match=r"Jacobian of 500 rows.*\d+(\.\d+)? (kB|KiB|MB|MiB)"):
        net.jacobian(np.zeros((500, 7)))


# ---- the isometry experiment ---------------------------------------------------------

def test_a_product_of_orthogonal_layers_keeps_every_singular_value_at_one():
    r = ex.isometry(activations=("linear",), weights=("orthogonal",), width=64, depth=40,
                    n_samples=1)
    np.testing.assert_allclose(r.sq_mean, 1, atol=1e-12)
    assert np.all(r.sq_var < 1e-20)
    np.testing.assert_allclose(r.sv_max, 1, atol=1e-12)
    np.testing.assert_allclose(r.sv_min, 1, atol=1e-12)


def test_a_product_of_gaussian_layers_spreads_as_free_probability_says():
    # L layers N(0, 1/n): squared singular values of mean 1 and variance L
    # (n -> infinity); four draws at n = 256 average within 10 %
    depths = (1, 2, 4, 8)
    runs = [ex.isometry(activations=("linear",), weights=("gaussian",), width=256,
                        depths=depths, n_samples=1, seed=seed) for seed in range(4)]
    var = np.mean([r.sq_var[0, 0] for r in runs], axis=0)
    mean = np.mean([r.sq_mean[0, 0] for r in runs], axis=0)
    np.testing.assert_allclose(var, depths, rtol=0.10)
    np.testing.assert_allclose(mean, 1, atol=0.05)


def test_tanh_at_criticality_is_isometric_with_orthogonal_weights_and_relu_is_not():
    r = ex.isometry(activations=("tanh", "relu"), width=128, depths=(2, 32), n_samples=2)
    tanh, relu = r.activations.index("tanh"), r.activations.index("relu")
    gauss, orth = r.weights.index("gaussian"), r.weights.index("orthogonal")
    assert r.gains[relu] == pytest.approx(np.sqrt(2), rel=1e-9)
    # tanh: the orthogonal spectrum stays concentrated, the Gaussian one spreads
    assert r.sq_var[tanh, orth, -1] < 1.0 < 10 * r.sq_var[tanh, orth, -1] < r.sq_var[tanh, gauss, -1]
    assert abs(r.sq_mean[tanh, orth, -1] - 1) < 0.2
    # ReLU: zeroed directions spread it with depth whatever the weights
    assert r.sq_var[relu, orth, -1] > 4 * r.sq_var[relu, orth, 0]
    assert r.sv_min[relu, orth, -1] < 1e-6
    density = r.hist.sum(axis=-1) * np.diff(r.log10_edges)[0]
    np.testing.assert_allclose(density, 1)


def test_isometry_results_round_trip_and_draw():
    r = ex.isometry(activations=("linear", "tanh"), width=16, depth=4, n_samples=1)
    back = type(r).from_json(r.to_json())
    np.testing.assert_array_equal(back.sq_var, r.sq_var)
    assert set(r.summary()) == {"identity", "tanh"}
    pytest.importorskip("matplotlib")
    assert set(r.plot()) == {"isometry_spectra", "isometry_moments"}


@pytest.mark.parametrize("kwargs, match", [
    ({"weights": ("uniform",)}, "weights"), ({"gains": 0.0}, "gains"),
    ({"gains": (1.0, 2.0)}, "gains"), ({"depth": 0}, "depth"), ({"depths": (0, 3)}, "depths"),
    ({"width": 0}, "width"), ({"s_b2": -1.0}, "s_b2"), ({"activations": ("softplus",)}, "activation"),
    ({"width": 10**6, "depth": 100}, r"networks of 100 layers of width 1000000.*memory"),
])
def test_isometry_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ex.isometry(**kwargs)
