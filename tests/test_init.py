"""Initializers against their stated distributions: mean and variance within
bounds that would catch a factor-of-two error, orthogonality, seeds."""
import math

import numpy as np
import pytest

import initreg as ir
from initreg import init

SHAPE = (400, 300)  # 120,000 draws: the sample variance is within ~1.3% (3 sigma)
FI, FO = SHAPE

# name -> (expected variance, family)
STATED = {
    "xavier_normal": (1 / FI, "normal"),
    "xavier_uniform": (1 / FI, "uniform"),
    "glorot_normal": (2 / (FI + FO), "normal"),
    "glorot_uniform": (2 / (FI + FO), "uniform"),
    "he_normal": (2 / FI, "normal"),
    "he_uniform": (2 / FI, "uniform"),
    "lecun_normal": (1 / FI, "truncated"),
    "lecun_uniform": (1 / FI, "uniform"),
}


def _check_moments(w, var):
    n = w.size
    assert abs(w.mean()) < 5 * math.sqrt(var / n)
    # a factor of 2 in the variance is a 100% error; allow 5%
    assert w.var() == pytest.approx(var, rel=0.05)


@pytest.mark.parametrize("name", list(STATED))
def test_initializers_have_their_stated_variance(name, dtype):
    var, family = STATED[name]
    w = getattr(init, name)(SHAPE, rng=0, dtype=dtype)
    assert w.shape == SHAPE and w.dtype == dtype and w.flags.c_contiguous
    _check_moments(w.astype(np.float64), var)
    if family == "uniform":
        assert np.abs(w).max() <= math.sqrt(3 * var) * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * math.sqrt(3 * var)
    if family == "truncated":  # cut at 2 std of the untruncated normal
        assert np.abs(w).max() <= 2 * math.sqrt(var) / 0.87962566103423978 * (1 + 1e-6)


@pytest.mark.parametrize("mode, n", [("fan_in", FI), ("fan_out", FO), ("fan_avg", (FI + FO) / 2)])
@pytest.mark.parametrize("dist", ["normal", "truncated_normal", "uniform"])
def test_variance_scaling(mode, n, dist):
    w = init.variance_scaling(SHAPE, scale=3.0, mode=mode, distribution=dist, rng=1)
    _check_moments(w.astype(np.float64), 3.0 / n)


def test_parametrised_initializers():
    _check_moments(init.normal(SHAPE, std=0.3, rng=2).astype(np.float64), 0.09)
    _check_moments(init.uniform(SHAPE, limit=0.3, rng=2).astype(np.float64), 0.03)
    assert (init.constant(SHAPE, value=0.25) == 0.25).all()
    assert (init.zeros(SHAPE) == 0).all()
    recipe = init.normal(std=0.3)
    assert isinstance(recipe, init.Initializer) and repr(recipe) == "normal(std=0.3)"
    np.testing.assert_array_equal(recipe(SHAPE, rng=5), init.normal(SHAPE, std=0.3, rng=5))
    small, large = init.get("small"), init.get("large")
    assert small((500, 500), rng=0).std() == pytest.approx(init.SMALL_STD, rel=0.02)
    assert large((500, 500), rng=0).std() == pytest.approx(init.LARGE_STD, rel=0.02)


@pytest.mark.parametrize("shape", [(50, 50), (30, 80), (80, 30), (1, 7)])
def test_orthogonal_is_orthogonal(shape):
    w = init.orthogonal(shape, gain=2.0, rng=3, dtype=np.float64)
    small = min(shape)
    gram = w @ w.T if shape[0] <= shape[1] else w.T @ w
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-10)


def test_same_seed_same_array_and_generators_pass_through():
    for name in STATED:
        f = getattr(init, name)
        np.testing.assert_array_equal(f((30, 20), rng=7), f((30, 20), rng=7))
        assert not np.array_equal(f((30, 20), rng=7), f((30, 20), rng=8))
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(init.he_normal((5, 5), rng=g1), init.he_normal((5, 5), rng=g2))


def test_gain_values_match_pytorch():
    assert init.gain("linear") == 1 and init.gain("sigmoid") == 1
    assert init.gain("tanh") == pytest.approx(5 / 3)
    assert init.gain("relu") == pytest.approx(math.sqrt(2))
    assert init.gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))


def test_get_resolves_names_and_refuses_unknown():
    assert init.get("xavier") == init.xavier_normal()
    assert init.get("glorot") == init.glorot_uniform()
    assert init.get("he") == init.he_normal()
    assert init.get("xavier") != init.he_normal()
    f = lambda shape, rng=None, dtype=np.float32: np.ones(shape, dtype)  # noqa: E731
    assert init.get(f) is f
    with pytest.raises(ValueError, match="unknown initializer"):
        init.get("kaiming_magic")
    with pytest.raises(ValueError, match="fan_in"):
        init.he_normal((0, 3))


def test_model_layers_draw_from_independent_streams():
    a = ir.MLP([10, 20, 30, 5], seed=0)
    b = ir.MLP([10, 20, 40, 5], seed=0)  # layer 1 and 2 change shape
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
    c = ir.MLP([10, 20, 30, 5], init=["xavier", "xavier", "he"], seed=0)  # only layer 2 changes
    np.testing.assert_array_equal(a.weights[0], c.weights[0])
    np.testing.assert_array_equal(a.weights[1], c.weights[1])
    assert not np.array_equal(a.weights[2], c.weights[2])
    d = ir.MLP([10, 20, 30, 5], seed=1)
    assert not np.array_equal(a.weights[0], d.weights[0])
    # no seed: fresh entropy, recorded so the model can be rebuilt
    e = ir.MLP([10, 20, 30, 5])
    np.testing.assert_array_equal(ir.MLP([10, 20, 30, 5], seed=e.seed).parameters, e.parameters)


def test_lsuv_gives_unit_variance_pre_activations(rng):
    X = rng.normal(size=(512, 32)).astype(np.float32)
    net = ir.MLP([32, 64, 64, 64, 10], activation="relu", init="small", seed=0)
    variances = init.lsuv(net, X, tol=0.02, rng=0)
    assert len(variances) == 4
    for layer, v in enumerate(variances):
        assert v == pytest.approx(1.0, abs=0.02)
        assert net.trace(X).pre_activations[layer].var() == pytest.approx(1.0, abs=0.02)
    # orthogonal directions, rescaled: columns stay mutually orthogonal
    w = net.weights[1].astype(np.float64)
    gram = w.T @ w
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0, atol=1e-5)


def test_with_parameter_sets_the_one_number_of_an_initializer():
    from initreg.init import PARAMETER, with_parameter
    assert with_parameter("he") == "he" and with_parameter("orthogonal") == "orthogonal"
    assert with_parameter("orthogonal", 2.0) == ir.init.orthogonal(gain=2.0)
    assert with_parameter("constant", -0.5) == ir.init.constant(value=-0.5)
    for name, keyword in PARAMETER.items():
        assert with_parameter(name, 0.25).params == {keyword: 0.25}
    with pytest.raises(ValueError, match="has no parameter"):
        with_parameter("he", 2.0)
    with pytest.raises(ValueError):
        with_parameter("normal", -1.0)
    with pytest.raises(ValueError, match="unknown initializer"):
        with_parameter("glorious", 1.0)
