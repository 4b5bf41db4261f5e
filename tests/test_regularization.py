"""The converters of ir.regularization, against the other libraries' own
arithmetic where they are installed and the documented formulas otherwise;
the penalties on the biases through the engine."""
import numpy as np
import pytest

import initreg as ir
from initreg import regularization as reg
from initreg._core import _kernels as K


@pytest.fixture
def weights(rng):
    return [rng.normal(size=(5, 4)), rng.normal(size=(4, 3))]


def test_penalties_are_the_documented_sums(weights):
    flat = np.concatenate([w.ravel() for w in weights])
    assert reg.l1_penalty(weights, 0.3) == pytest.approx(0.3 * np.abs(flat).sum())
    assert reg.l2_penalty(weights, 0.2) == pytest.approx(0.2 * (flat**2).sum())
    for fn in (reg.l1_penalty, reg.l2_penalty):
        with pytest.raises(ValueError, match="l1|l2"):
            fn(weights, -1.0)


def test_torch_weight_decay_is_twice_l2():
    torch = pytest.importorskip("torch")
    w0 = np.linspace(-1, 1, 11)
    g = np.cos(np.arange(11.0))
    p = torch.tensor(w0.copy(), requires_grad=True)
    p.grad = torch.tensor(g)
    torch.optim.SGD([p], lr=0.1, weight_decay=0.06).step()
    w = w0.copy()  # initreg's update with the converted penalty
    K.sgd_update(w, g, lr=0.1, l2=reg.l2_from_torch_weight_decay(0.06))
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-14)
    assert reg.torch_weight_decay_from_l2(reg.l2_from_torch_weight_decay(0.06)) == 0.06


def test_sklearn_mlp_alpha_is_2n_l2(rng):
    sklearn_nn = pytest.importorskip("sklearn.neural_network")
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    alpha, n = 0.7, 40

    def batch_loss(a):  # the loss scikit-learn reports for one full batch
        m = sklearn_nn.MLPRegressor(hidden_layer_sizes=(4,), alpha=a, batch_size=n,
                                    learning_rate_init=1e-12, random_state=0)
        m.partial_fit(X, y)
        m.partial_fit(X, y)
        return m.loss_curve_[-1], m.coefs_

    with_penalty, coefs = batch_loss(alpha)
    without, _ = batch_loss(0.0)
    l2 = reg.l2_from_sklearn_alpha(alpha, n)
    assert with_penalty - without == pytest.approx(reg.l2_penalty(coefs, l2), rel=1e-6)
    assert reg.sklearn_alpha_from_l2(l2, n) == pytest.approx(alpha)


def test_sklearn_sgd_elastic_net_and_keras_are_their_formulas(weights):
    flat = np.concatenate([w.ravel() for w in weights])
    alpha, r = 0.01, 0.3
    l1, l2 = reg.from_sklearn_sgd(alpha, l1_ratio=r)
    theirs = alpha * (r * np.abs(flat).sum() + (1 - r) / 2 * (flat**2).sum())
    assert reg.l1_penalty(weights, l1) + reg.l2_penalty(weights, l2) == pytest.approx(theirs)
    assert reg.l2_from_keras(0.05) == 0.05 and reg.l1_from_keras(0.02) == 0.02
    with pytest.raises(ValueError, match="l1_ratio"):
        reg.from_sklearn_sgd(alpha, l1_ratio=1.5)
    with pytest.raises(ValueError, match="n_samples"):
        reg.l2_from_sklearn_alpha(0.1, 0)


@pytest.mark.parametrize("mode", ["proximal", "cumulative"])
def test_thresholding_l1_on_the_biases_through_the_engine(mode, rng):
    """One engine step with regularize_bias: every parameter, biases too,
    follows w' = w - lr (dJ/dw + 2 l2 w), then the L1 threshold."""
    net = ir.MLP([4, 6, 3], activation="tanh", dtype="float64", seed=2)
    for b in net.biases:
        b[...] = rng.normal(0, 0.02, b.shape)  # some within the threshold
    X, y = rng.normal(size=(8, 4)), rng.integers(0, 3, 8)
    lr, l1, l2 = 0.1, 0.05, 0.01
    _, grads = net.loss_and_gradients(X, y)
    g = np.concatenate([d[0].ravel() for d in grads] + [d[1] for d in grads])
    w0 = net.parameters.copy()
    net.step(X, y, ir.SGD(lr=lr, momentum=0.0, l1=l1, l2=l2, l1_mode=mode,
                          regularize_bias=True))
    half = w0 - lr * (g + 2 * l2 * w0)
    # one step from a zero applied penalty: both modes clip at lr l1
    expected = np.sign(half) * np.maximum(np.abs(half) - lr * l1, 0.0)
    np.testing.assert_allclose(net.parameters, expected, rtol=1e-12, atol=1e-15)
    n_w = net._net.n_weights
    assert (net.parameters[n_w:] == 0).any()  # some biases reached exact zero
    # without regularize_bias the biases take the plain step
    net2 = ir.MLP([4, 6, 3], activation="tanh", dtype="float64", seed=2)
    net2._assign_parameters(w0)
    net2.step(X, y, ir.SGD(lr=lr, momentum=0.0, l1=l1, l2=l2, l1_mode=mode))
    np.testing.assert_allclose(net2.parameters[n_w:], w0[n_w:] - lr * g[n_w:], rtol=1e-12)
