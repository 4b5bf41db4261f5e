"""Dynamical isometry: the whole singular-value spectrum of the input-output
Jacobian at initialization (Saxe, McClelland & Ganguli 2014; Pennington,
Schoenholz & Ganguli 2017).

The Jacobian of a depth-L network is ``J = D_L W_L ... D_1 W_1`` with
``D_l = diag(phi'(h_l))``.  A product of scaled Gaussian matrices has
singular values that spread out with depth -- for linear layers of width n
with variance 1/n the squared singular values keep mean 1 and their
variance grows like L (the free-probability limit, n to infinity) -- while a
product of orthogonal matrices keeps every one at exactly 1.  With tanh at
the critical point (chi_1 = 1) and a small fixed point q*, orthogonal
weights keep the spectrum concentrated (dynamical isometry); ReLU networks
cannot, whatever the weights.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import scipy.linalg

from initreg._validation import check_float, check_int, check_memory
from initreg._vocabulary import LEAKY_SLOPE
from initreg._vocabulary import activation as _activation
from initreg.experiments._common import Result
from initreg.experiments._meanfield import critical_s_w2, expectation, fixed_point_q
from initreg.init import normal, orthogonal, variance_scaling
from initreg.model import MLP

__all__ = ["isometry", "IsometryResult", "WEIGHTS", "critical_gain"]

#: The weight distributions compared, by name: a gain g gives N(0, g^2 / n)
#: or g times a (Haar) orthogonal matrix.
WEIGHTS = {
    "gaussian": lambda gain: variance_scaling(scale=gain**2, mode="fan_in",
                                              distribution="normal"),
    "orthogonal": lambda gain: orthogonal(gain=gain),
}


def critical_gain(activation, s_b2=0.0):
    """The weight gain on the critical line at bias variance ``s_b2``, the
    square root of the s_w2 where chi_1 = 1: 1 for linear networks and for
    tanh without biases, sqrt(2) for ReLU."""
    act = _activation(activation)
    if act.name == "identity":
        return 1.0
    return math.sqrt(critical_s_w2(act.name, s_b2=s_b2))


def _depths(depth):
    """About a dozen depths from 1 to ``depth``, geometrically spaced."""
    grid = np.unique(np.round(np.geomspace(1, depth, 12)).astype(int))
    return [int(d) for d in grid]


def _input_std(act, s_w2, s_b2):
    """The input scale that puts the first layer at the fixed point q*: the
    std of phi at q*, so that ``s_w2 E[x^2] + s_b2 = q*``.  1 where q* is 0
    or infinite, and for positively homogeneous activations (their Jacobian
    does not depend on the scale)."""
    if act.homogeneous:
        return 1.0
    q = fixed_point_q(act.name, s_w2, s_b2=s_b2)
    if not 0 < q < math.inf:
        return 1.0
    return math.sqrt(expectation(lambda z: act.phi(math.sqrt(q) * z, LEAKY_SLOPE) ** 2))


@dataclasses.dataclass
class IsometryResult(Result):
    """Singular values of the input-output Jacobian at initialization.

    Arrays [activation, weights, depth]: sq_mean and sq_var (mean and
    variance of the squared singular values, pooled over the samples'
    Jacobians), sv_max and sv_min (largest and smallest singular value).
    hist [activation, weights, depth, bin]: the density of log10 of the
    singular values on log10_edges.  ``gains[a]`` is the gain used with
    activation a, biases N(0, s_b2).
    """

    activations: list
    weights: list
    gains: list
    s_b2: float
    width: int
    depths: list
    n_samples: int
    sq_mean: np.ndarray
    sq_var: np.ndarray
    sv_max: np.ndarray
    sv_min: np.ndarray
    hist: np.ndarray
    log10_edges: np.ndarray
    seconds: float

    def summary(self):
        last = len(self.depths) - 1
        return {a: {w: {"depth": int(self.depths[last]),
                        "sq_mean": float(self.sq_mean[i, j, last]),
                        "sq_var": float(self.sq_var[i, j, last]),
                        "max_over_min": float(self.sv_max[i, j, last] / self.sv_min[i, j, last])
                        if self.sv_min[i, j, last] > 0 else math.inf}
                    for j, w in enumerate(self.weights)}
                for i, a in enumerate(self.activations)}

    def plot(self):
        from initreg.plotting import plot_isometry
        return plot_isometry(self)


def isometry(*, activations=("linear", "tanh", "relu"), weights=("gaussian", "orthogonal"),
             gains=None, s_b2=1e-4, width=256, depth=100, depths=None, n_samples=2, bins=80,
             seed=0):
    """Singular values of the input-output Jacobian of networks of
    ``width`` units per layer and up to ``depth`` layers, at initialization,
    for every activation and weight distribution.

    Parameters
    ----------
    gains : None, float or sequence of float
        None (each activation's :func:`critical_gain` at ``s_b2``), a
        number, or one per activation.
    s_b2 : float
        The variance of the biases, N(0, s_b2).  A small one puts tanh's
        critical point at a small q*, where it is close to linear.
    depths : sequence of int or None
        The depths measured (default: about a dozen from 1 to ``depth``).

    Returns
    -------
    IsometryResult

    Notes
    -----
    A network of depth L has L layers of width x width, each followed by
    the activation; the Jacobian of the last layer's activations is
    computed by :meth:`initreg.MLP.jacobian` (float64) on ``n_samples``
    Gaussian inputs scaled to the fixed point q*, and its singular values by
    LAPACK (``scipy.linalg.svdvals``, batched).
    """
    start = time.perf_counter()
    acts = [_activation(a) for a in activations]
    if not acts:
        raise ValueError("activations: give at least one")
    unknown = [w for w in weights if w not in WEIGHTS]
    if unknown or not weights:
        raise ValueError(f"weights: unknown {unknown}; known: {list(WEIGHTS)}")
    s_b2 = check_float(s_b2, "s_b2", low=0)
    if gains is None:
        gains = [critical_gain(a.name, s_b2) for a in acts]
    elif np.ndim(gains) == 0:
        gains = [gains] * len(acts)
    if len(gains) != len(acts):
        raise ValueError(f"gains: one per activation ({len(acts)}), got {len(gains)}")
    gains = [check_float(g, "gains", low=0, low_open=True) for g in gains]
    width = check_int(width, "width", low=1)
    n_samples = check_int(n_samples, "n_samples", low=1)
    bins = check_int(bins, "bins", low=1)
    depths = _depths(check_int(depth, "depth", low=1)) if depths is None else \
        sorted({check_int(d, "depths", low=1) for d in depths})
    if not depths:
        raise ValueError("depths: give at least one")
    # the deepest network (float64 parameters) and one batch of Jacobians
    check_memory(8 * (depths[-1] * (width * width + width) + 3 * n_samples * width * width),
                 f"networks of {depths[-1]} layers of width {width}")
    rng = np.random.default_rng([seed, 7])
    Z = rng.standard_normal((n_samples, width))
    shape = (len(acts), len(weights), len(depths))
    sq_mean, sq_var, sv_max, sv_min = (np.zeros(shape) for _ in range(4))
    edges = np.linspace(-6.0, 3.0, bins + 1)
    hist = np.zeros(shape + (bins,))
    bias = normal(std=math.sqrt(s_b2)) if s_b2 > 0 else 0.0
    for i, (act, gain) in enumerate(zip(acts, gains)):
        X = Z * _input_std(act, gain**2, s_b2)
        for j, name in enumerate(weights):
            net = MLP([width] * (depths[-1] + 1), activation=act.name, init=WEIGHTS[name](gain),
                      bias_init=bias, output="linear", dtype="float64", seed=seed)
            pre = net.trace(X).pre_activations
            for k, d in enumerate(depths):
                # J = D_d (W_d ... D_1 W_1): the Jacobian of layer d's
                # pre-activations, then the activation's derivative there
                J = act.dphi(pre[d - 1], LEAKY_SLOPE)[:, :, None] * net.jacobian(X, layer=d - 1)
                sv = scipy.linalg.svdvals(J)  # batched over the samples: LAPACK
                sq = sv**2
                sq_mean[i, j, k], sq_var[i, j, k] = sq.mean(), sq.var()
                sv_max[i, j, k], sv_min[i, j, k] = sv.max(), sv.min()
                logs = np.log10(np.maximum(sv.ravel(), 1e-300))
                hist[i, j, k] = np.histogram(np.clip(logs, edges[0], edges[-1]), edges,
                                             density=True)[0]
    return IsometryResult(activations=[a.name for a in acts], weights=list(weights),
                          gains=gains, s_b2=s_b2, width=width, depths=depths,
                          n_samples=n_samples, sq_mean=sq_mean, sq_var=sq_var, sv_max=sv_max,
                          sv_min=sv_min, hist=hist, log10_edges=edges,
                          seconds=time.perf_counter() - start)
