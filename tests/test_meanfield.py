"""Mean-field quantities (Gauss-Legendre quadrature) against closed forms
(linear, ReLU: the arc-cosine kernel of Cho & Saul 2009) and an independent
computation (probabilists' Gauss-Hermite quadrature, and SciPy's adaptive
quad); the trainability and deep-linear experiments."""
import math

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy import integrate

from initreg import experiments as ex

Z, W = hermegauss(240)
W = W / W.sum()  # E[f(z)], z ~ N(0, 1)


def _gh(f):
    return float(W @ f(Z))


def _gh_pair(f, g, q, c):
    u1 = math.sqrt(q) * Z[:, None]
    u2 = math.sqrt(q) * (c * Z[:, None] + math.sqrt(1 - c * c) * Z[None, :])
    return float(W @ (f(u1) * g(u2)) @ W)


def _tanh_reference(s_w2, s_b2, correlations=True):
    """q*, chi_1, c*, chi_c of tanh by fixed-point iteration on Gauss-Hermite
    (c* and chi_c None unless ``correlations``)."""
    q = 1.0
    for _ in range(5000):
        q, before = s_w2 * _gh(lambda z: np.tanh(math.sqrt(q) * z) ** 2) + s_b2, q
        if abs(q - before) < 1e-16 * q:
            break
    dphi = lambda u: 1 / np.cosh(u) ** 2  # noqa: E731
    chi_1 = s_w2 * _gh(lambda z: dphi(math.sqrt(q) * z) ** 2)
    if not correlations:
        return q, chi_1, None, None
    c = 0.5
    for _ in range(5000):
        c, before = min((s_w2 * _gh_pair(np.tanh, np.tanh, q, c) + s_b2) / q, 1.0), c
        if abs(c - before) < 1e-15:
            break
    chi_c = s_w2 * _gh_pair(dphi, dphi, q, min(c, 1 - 1e-12))
    return q, chi_1, c, chi_c


@pytest.mark.parametrize("s_w2, s_b2", [(0.8, 0.05), (1.5, 0.05), (2.5, 0.01), (4.0, 0.3)])
def test_tanh_agrees_with_an_independent_quadrature(s_w2, s_b2):
    q, chi_1, c, chi_c = _tanh_reference(s_w2, s_b2)
    mf = ex.mean_field("tanh", s_w2, s_b2=s_b2)
    assert mf.q_star == pytest.approx(q, rel=1e-8)
    assert mf.chi_1 == pytest.approx(chi_1, rel=1e-8)
    assert mf.c_star == pytest.approx(c, abs=1e-6)
    if chi_1 > 1:  # chaotic: c* < 1, and chi_c < 1 makes xi_c finite
        assert mf.c_star < 0.999 and mf.chi_c == pytest.approx(chi_c, rel=1e-5)
        assert mf.xi_c == pytest.approx(-1 / math.log(chi_c), rel=1e-4)
    else:  # ordered: c* = 1, chi_c = chi_1
        assert mf.c_star == 1 and mf.xi_c == pytest.approx(-1 / math.log(chi_1), rel=1e-6)


def test_q_star_agrees_with_scipy_quad():
    s_w2, s_b2 = 1.7, 0.05
    q = 1.0
    for _ in range(300):
        q = s_w2 * integrate.quad(lambda z: np.tanh(math.sqrt(q) * z) ** 2
                                  * math.exp(-z * z / 2) / math.sqrt(2 * math.pi),
                                  -np.inf, np.inf, epsabs=1e-14)[0] + s_b2
    assert ex.fixed_point_q("tanh", s_w2, s_b2=s_b2) == pytest.approx(q, rel=1e-10)


@pytest.mark.parametrize("s_w2, s_b2", [(1.2, 0.1), (1.9, 0.5), (3.0, 0.2)])
def test_relu_has_the_arc_cosine_closed_forms(s_w2, s_b2):
    mf = ex.mean_field("relu", s_w2, s_b2=s_b2)
    assert mf.chi_1 == pytest.approx(s_w2 / 2, rel=1e-12)
    if s_w2 < 2:  # q* = s_b2 / (1 - s_w2 / 2); ordered, c* = 1
        assert mf.q_star == pytest.approx(s_b2 / (1 - s_w2 / 2), rel=1e-10)
        assert mf.c_star == 1
        assert mf.xi_c == pytest.approx(-1 / math.log(s_w2 / 2), rel=1e-10)
    else:  # the variance grows without bound, by s_w2 / 2 a layer; normalised by it,
        # the c-map of the arc-cosine kernel has c* = 1 and slope 1 there: the
        # correlations converge more slowly than any exponential
        assert math.isinf(mf.q_star)
        assert mf.c_star == pytest.approx(1, abs=1e-4)  # the gap to 1 vanishes like (1 - c)^1.5
        assert mf.chi_c == pytest.approx(1, abs=1e-3) and mf.xi_c > 1e2


def test_linear_networks_have_exact_answers():
    mf = ex.mean_field("linear", 0.5, s_b2=0.3)
    assert mf.q_star == pytest.approx(0.3 / (1 - 0.5), rel=1e-10)
    assert mf.chi_1 == pytest.approx(0.5, rel=1e-12) and mf.c_star == 1
    assert ex.critical_s_w2("linear") == pytest.approx(1, rel=1e-10)
    assert ex.critical_s_w2("relu", s_b2=0.2) == pytest.approx(2, rel=1e-10)


def test_the_critical_line_of_tanh():
    # without biases tanh is critical at s_w2 = 1 (q* -> 0, tanh'(0) = 1); the
    # line rises with s_b2, and on it chi_1 = 1 by the independent quadrature
    line = ex.critical_line("tanh", [0.0, 0.01, 0.05, 0.2])
    assert line[0] == pytest.approx(1, abs=1e-6)
    assert np.all(np.diff(line) > 0)
    for s_b2, s_w2 in zip([0.01, 0.05, 0.2], line[1:]):
        q, chi_1, _, _ = _tanh_reference(s_w2, s_b2, correlations=False)
        assert chi_1 == pytest.approx(1, abs=1e-8)
        assert ex.mean_field("tanh", s_w2, s_b2=s_b2).xi_c > 1e4  # diverges there


@pytest.mark.parametrize("call, match", [
    (lambda: ex.mean_field("tanh", 0.0), "s_w2"),
    (lambda: ex.mean_field("tanh", -1.0), "s_w2"),
    (lambda: ex.mean_field("tanh", float("nan")), "s_w2"),
    (lambda: ex.mean_field("tanh", 1.0, s_b2=-0.1), "s_b2"),
    (lambda: ex.mean_field("softmax", 1.0), "activation"),
    (lambda: ex.critical_s_w2("sigmoid"), "not crossed"),
])
def test_mean_field_refuses_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mean_field_refuses_a_non_number():
    with pytest.raises(TypeError, match="s_w2"):
        ex.mean_field("tanh", "1.0")


# ---- trainability and deep linear networks -----------------------------------------

def test_trainability_counts_cells_against_the_six_xi_c_line():
    r = ex.trainability(depths=(2, 8, 40), width=32, epochs=1, s_w2=[0.3, 1.424, 8.0])
    assert r.accuracy.shape == (3, 3, 1)
    for s_w2, xi in zip(r.s_w2, r.xi_c):
        assert xi == pytest.approx(ex.mean_field("tanh", s_w2, s_b2=r.s_b2).xi_c)
    c = r.counts()
    assert c["beyond_curve"] + c["below_curve"] == 9
    deep = np.asarray(r.depths)[None, :] > 6 * r.xi_c[:, None]
    assert c["beyond_curve"] == deep.sum()
    trained = r.accuracy[..., 0] >= r.trains
    assert c["beyond_curve_trained"] == (deep & trained).sum()
    # at 0.3 the signal dies within a layer or two: 40 layers cannot train
    assert r.accuracy[0, -1, 0] < r.trains and deep[0, -1]
    assert r.accuracy[:, 0, 0].max() > 0.8  # two layers train at every s_w2 here
    back = type(r).from_json(r.to_json())
    np.testing.assert_array_equal(back.accuracy, r.accuracy)


@pytest.mark.parametrize("kwargs, match", [
    ({"s_w2": [0.5, -1.0]}, "s_w2"), ({"s_w2": []}, "s_w2"), ({"depths": (0,)}, "depths"),
    ({"width": 0}, "width"), ({"epochs": 0}, "epochs"), ({"s_b2": -0.1}, "s_b2"),
    ({"activation": "softmax"}, "activation"), ({"trains": 1.5}, "trains"),
])
def test_trainability_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ex.trainability(**kwargs)


def test_deep_linear_networks_from_orthogonal_weights_learn_as_fast_when_deeper():
    r = ex.deep_linear(depths=(1, 32), lrs=(0.1,), n_seeds=1, max_epochs=40)
    assert r.threshold > r.optimum > 0
    epochs = r.epochs_to_threshold
    orth, gauss = r.weights.index("orthogonal"), r.weights.index("gaussian")
    assert np.isfinite(epochs[orth]).all()
    assert epochs[orth, 1, 0] <= 1.5 * epochs[orth, 0, 0]
    # a 32-layer Gaussian network is stuck on a plateau for far longer
    assert not epochs[gauss, 1, 0] <= 1.5 * epochs[orth, 1, 0]
    # the loss of a run that reached the threshold ends at or below it
    k = int(epochs[orth, 1, 0]) - 1
    assert r.loss[orth, 1, 0, 0, k] <= r.threshold < r.loss[orth, 1, 0, 0, 0]
    assert r.best_lr[orth, 1, 0] == 0.1


@pytest.mark.parametrize("kwargs, match", [
    ({"weights": ("uniform",)}, "weights"), ({"depths": (0,)}, "depths"),
    ({"lrs": (0.0,)}, "lrs"), ({"tolerance": 0}, "tolerance"), ({"max_epochs": 0}, "max_epochs"),
])
def test_deep_linear_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ex.deep_linear(**kwargs)
