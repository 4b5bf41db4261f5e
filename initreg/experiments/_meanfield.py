"""Mean-field theory of a wide network at initialization (Poole et al. 2016;
Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017), by Gaussian quadrature.

With weights N(0, s_w2 / fan_in) and biases N(0, s_b2), the variance of a
unit's pre-activation follows ``q <- s_w2 E[phi(sqrt(q) z)^2] + s_b2`` to a
fixed point q*, and the correlation of two inputs follows the c-map
``c <- (s_w2 E[phi(u1) phi(u2)] + s_b2) / q*`` (u1, u2 Gaussian with
variance q* and correlation c) to a fixed point c*.  Then

- ``chi_1 = s_w2 E[phi'(sqrt(q*) z)^2]`` decides the phase: below 1 the
  network is ordered (c* = 1, gradients vanish), above 1 chaotic (c* < 1,
  gradients explode); ``chi_1 = 1`` is the critical line;
- ``xi_q = -1 / log(chi_1 + s_w2 E[phi''(u) phi(u)])`` and
  ``xi_c = -1 / log(chi_c)``, ``chi_c = s_w2 E[phi'(u1) phi'(u2)]`` at c*
  (the slope of the c-map there), are the depths over
  which q and c approach their fixed points; xi_c diverges at the critical
  line, and networks train only when they are shallower than a few xi_c.

Every expectation is a composite Gauss-Legendre rule on [-L, L] (in one or
two dimensions), with a panel boundary at 0 so that ReLU's kink costs no
accuracy and panels fine enough for the steep tanh(sqrt(q) z) of large q.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.polynomial.legendre import leggauss

from initreg._validation import check_float
from initreg._vocabulary import LEAKY_SLOPE
from initreg._vocabulary import activation as _activation

__all__ = ["MeanField", "mean_field", "fixed_point_q", "critical_s_w2", "critical_line",
           "expectation", "QUADRATURE_NODES"]


def _rule(half_width, panels, order):
    """Nodes and weights for E[f(z)], z ~ N(0, 1): Gauss-Legendre on
    ``panels`` panels of [-half_width, half_width] (0 a panel boundary)."""
    x, w = leggauss(order)
    edges = np.linspace(-half_width, half_width, panels + 1)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    nodes = (mid[:, None] + half[:, None] * x).ravel()
    weights = (half[:, None] * w).ravel() * np.exp(-0.5 * nodes**2) / math.sqrt(2 * math.pi)
    return nodes, weights


#: The 1-D rule: 400 panels of 8 nodes on [-10, 10].
_Z, _W = _rule(10.0, 400, 8)
#: The 2-D rule's axis: 64 panels of 4 nodes on [-8, 8].
_Z2, _W2 = _rule(8.0, 64, 4)
QUADRATURE_NODES = {"1d": _Z.size, "2d": _Z2.size**2}


def expectation(f):
    """E[f(z)] for z ~ N(0, 1), f vectorised."""
    return float(_W @ f(_Z))


def _pair(f, g, q, c):
    """E[f(u1) g(u2)], (u1, u2) Gaussian with variances q and correlation c."""
    s = math.sqrt(max(1.0 - c * c, 0.0))
    u1 = math.sqrt(q) * _Z2
    u2 = math.sqrt(q) * (c * _Z2[:, None] + s * _Z2[None, :])
    return float(_W2 @ (f(u1)[:, None] * g(u2)) @ _W2)


def _checked(activation, s_w2, s_b2, slope):
    act = _activation(activation)
    s_w2 = check_float(s_w2, "s_w2", low=0, low_open=True)
    s_b2 = check_float(s_b2, "s_b2", low=0)
    slope = check_float(slope, "slope", low=0, high=1)
    return act, s_w2, s_b2, slope


def fixed_point_q(activation, s_w2, *, s_b2=0.0, slope=LEAKY_SLOPE):
    """q*, the stable fixed point of the variance map: the root where
    ``s_w2 E[phi(sqrt(q) z)^2] + s_b2 - q`` turns from positive to negative
    (bisection).  0 when the signal dies out (no bias, an ordered network),
    inf when it grows without bound (an unbounded activation above its
    critical s_w2)."""
    act, s_w2, s_b2, slope = _checked(activation, s_w2, s_b2, slope)

    def excess(q):
        return s_w2 * expectation(lambda z: act.phi(math.sqrt(q) * z, slope) ** 2) + s_b2 - q

    lo = 1e-300
    if excess(lo) <= 0:
        return 0.0
    hi = 1.0
    while excess(hi) > 0:
        lo, hi = hi, 4.0 * hi
        if hi > 1e12:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi) if hi / lo < 4 else math.sqrt(lo * hi)
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-14 * hi:
            break
    return 0.5 * (lo + hi)


@dataclasses.dataclass
class MeanField:
    """The mean-field quantities at (s_w2, s_b2) (see the module docs)."""

    activation: str
    s_w2: float
    s_b2: float
    q_star: float
    chi_1: float
    c_star: float
    chi_c: float
    xi_q: float
    xi_c: float


def _depth(rate):
    """-1 / log(rate): the depth scale of a map contracting at ``rate``."""
    if rate <= 0:
        return 0.0
    return math.inf if rate >= 1 else -1.0 / math.log(rate)


def _at_fixed_point(act, s_w2, s_b2, slope):
    """(q*, q, s_b2): q* and the q (and bias variance) at which the other
    quantities are taken -- see :func:`mean_field`."""
    q_star = fixed_point_q(act.name, s_w2, s_b2=s_b2, slope=slope)
    q = q_star
    if q_star == 0.0:
        q = 1e-12
    elif math.isinf(q_star):  # only homogeneous activations grow without bound
        q, s_b2 = 1.0, 0.0
    elif act.homogeneous and s_b2 == 0.0:
        q = 1.0  # any q is a fixed point at criticality
    return q_star, q, s_b2


def _chi_1(act, s_w2, q, slope):
    root = math.sqrt(q)
    return s_w2 * expectation(lambda z: act.dphi(root * z, slope) ** 2)


def mean_field(activation, s_w2, *, s_b2=0.0, slope=LEAKY_SLOPE):
    """q*, chi_1, c*, chi_c, xi_q and xi_c of ``activation`` at (s_w2, s_b2).

    Raises ValueError naming the argument for an unknown activation (one
    without a mean-field formula) and for s_w2 <= 0 or s_b2 < 0.  Where q*
    is 0 (the signal dies out) the quantities are those of the limit of
    small signals; where q* is infinite (a positively homogeneous activation
    above criticality) the bias no longer matters and they are computed at
    the scale-free fixed point."""
    act, s_w2, s_b2, slope = _checked(activation, s_w2, s_b2, slope)
    q_star, q, s_b2 = _at_fixed_point(act, s_w2, s_b2, slope)
    phi = lambda u: act.phi(u, slope)  # noqa: E731
    dphi = lambda u: act.dphi(u, slope)  # noqa: E731
    root = math.sqrt(q)
    chi_1 = _chi_1(act, s_w2, q, slope)
    xi_q = _depth(chi_1 + s_w2 * expectation(lambda z: act.d2phi(root * z, slope)
                                             * phi(root * z)))
    # the next layer's variance: q itself at a fixed point; s_w2 q / 2 for
    # ReLU above criticality, where the c-map is normalised by it
    q_next = s_w2 * expectation(lambda z: phi(root * z) ** 2) + s_b2
    c = _c_star(phi, q, q_next, s_w2, s_b2, chi_1)
    chi_c = s_w2 * _pair(dphi, dphi, q, c) * q / q_next  # the c-map's slope at c*
    return MeanField(act.name, s_w2, s_b2, q_star, chi_1, c, chi_c, xi_q, _depth(chi_c))


def _c_star(phi, q, q_next, s_w2, s_b2, chi_1):
    """The stable fixed point of the c-map: 1 in the ordered phase, below 1
    in the chaotic one (found by bisection on c-map(c) - c)."""
    if chi_1 <= 1.0:
        return 1.0

    def gap(c):
        return (s_w2 * _pair(phi, phi, q, c) + s_b2) / q_next - c

    lo, hi = -0.999999, 1.0 - 1e-9
    if gap(lo) <= 0:
        return lo
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if gap(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def critical_s_w2(activation, *, s_b2=0.0, slope=LEAKY_SLOPE, lo=0.05, hi=16.0):
    """The s_w2 of the critical line at s_b2, where chi_1 = 1 (bisection to
    a relative 1e-12).  ValueError when chi_1 does not cross 1 in [lo, hi]
    (sigmoid, whose derivative is at most 1/4, needs s_w2 near 16 and more)."""
    act, _, s_b2, slope = _checked(activation, 1.0, s_b2, slope)

    def chi(s_w2):
        _, q, _ = _at_fixed_point(act, s_w2, s_b2, slope)
        return _chi_1(act, s_w2, q, slope)

    if not chi(lo) < 1.0 < chi(hi):
        raise ValueError(f"chi_1 = 1 is not crossed for s_w2 in [{lo}, {hi}] "
                         f"({act.name}, s_b2={s_b2})")
    while hi - lo > 1e-12 * hi:
        mid = 0.5 * (lo + hi)
        if chi(mid) < 1.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def critical_line(activation, s_b2, *, slope=LEAKY_SLOPE):
    """The critical line s_w2(s_b2), chi_1 = 1, at each bias variance."""
    return np.array([critical_s_w2(activation, s_b2=float(b), slope=slope)
                     for b in np.atleast_1d(s_b2)])
