"""How the signal travels through a deep network at initialization.

One batch of standard-normal inputs goes forward and backward through a deep
stack of equal-width layers, for each initializer; per layer we measure the
activations and the back-propagated gradients, and set beside them what the
variance recursions predict:

- linear (the derivation of Glorot & Bengio (2010) as the deeplearning.ai
  notes give it, tanh ~ identity near 0):
  q_l = sigma_w^2 q_{l-1}, with sigma_w^2 = fan_in Var(W);
- mean field (Poole et al. 2016):
  q_l = sigma_w^2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2, z ~ N(0, 1),
  and backwards Var(dZ_l) = fan_out Var(W_{l+1}) Var(dZ_{l+1}) E[phi'(sqrt(q_l) z)^2].

The expectations are integrals against the normal density on a fine grid
(fine enough to resolve phi' when q is in the hundreds, where a Gauss-Hermite
rule misses the narrow peak); sigma_w^2 is measured from the drawn weights,
so any initializer (orthogonal too) gets its prediction.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from initreg._vocabulary import LEAKY_SLOPE, activation as _activation
from initreg.experiments._common import Result, seed_list
from initreg.experiments._sweep import sweep
from initreg.model import MLP

__all__ = ["signal_propagation", "SignalResult", "mean_field_variances"]

# E[f(z)] = sum_i w_i f(z_i) for z ~ N(0, 1): trapezoid rule on [-10, 10].
_NODES = np.linspace(-10.0, 10.0, 40001)
_WEIGHTS = np.exp(-0.5 * _NODES**2) / np.sqrt(2 * np.pi) * (_NODES[1] - _NODES[0])
_WEIGHTS[[0, -1]] *= 0.5

N_BINS = 60


def _gauss(f):
    """E[f(z)] for z ~ N(0, 1)."""
    return float(np.dot(_WEIGHTS, f(_NODES)))


def mean_field_variances(sigma_w2, q0, activation, *, sigma_b2=0.0, slope=LEAKY_SLOPE):
    """Pre-activation variances q_l of the mean-field recursion.

    sigma_w2 : sequence, fan_in * Var(W_l) per layer
    q0 : second moment of the inputs (the first layer sees them unactivated)
    Returns (q, act_mean, act_std), each per layer.
    """
    phi = _activation(activation).phi
    q, mean, std = [], [], []
    prev = None
    for l, s2 in enumerate(sigma_w2):
        m2 = q0 if l == 0 else _gauss(lambda z: phi(np.sqrt(prev) * z, slope) ** 2)
        prev = s2 * m2 + sigma_b2
        q.append(prev)
        mu = _gauss(lambda z: phi(np.sqrt(prev) * z, slope))
        second = _gauss(lambda z: phi(np.sqrt(prev) * z, slope) ** 2)
        mean.append(mu)
        std.append(np.sqrt(max(second - mu * mu, 0.0)))
    return np.array(q), np.array(mean), np.array(std)


def _hist_edges(act, acts):
    """The activation's own range where it is bounded, the data's elsewhere."""
    top = max(float(np.abs(a).max()) for a in acts) or 1.0
    lo, hi = act.range
    return np.linspace(-top if lo is None else lo, top if hi is None else hi, N_BINS + 1)


#: The width of the softmax layer on top of the signal experiments' stacks.
N_OUTPUTS = 10


def one_run(*, activation, depth, width, batch, init, seed, n_outputs=N_OUTPUTS,
            slope=LEAKY_SLOPE):
    """Measurements and predictions of one network (one init, one seed)."""
    act = _activation(activation)
    rng = np.random.default_rng([seed, 1])  # data stream, apart from the weights'
    X = rng.standard_normal((batch, width)).astype(np.float32)
    y = rng.integers(0, n_outputs, batch)
    net = MLP([width] * (depth + 1) + [n_outputs], activation=activation, init=init,
              seed=seed, leaky_slope=slope)
    tr = net.trace(X, y)
    hidden = range(depth)
    acts = [tr.activations[l].astype(np.float64) for l in hidden]
    pre = [tr.pre_activations[l].astype(np.float64) for l in hidden]
    grads = [tr.gradients[l].astype(np.float64) for l in hidden]
    lo, hi = act.range
    out = {
        "act_mean": [a.mean() for a in acts],
        "act_std": [a.std() for a in acts],
        "act_second_moment": [(a * a).mean() for a in acts],
        "pre_std": [z.std() for z in pre],
        "grad_std": [g.std() for g in grads],
        # within 1% of the range's width from either end
        "saturated": [np.mean(np.abs(2 * (a - lo) / (hi - lo) - 1) > 0.98)
                      if lo is not None and hi is not None else np.nan for a in acts],
        # units that output their floor (ReLU's 0) on the whole batch
        "dead": [np.mean((a <= lo).all(axis=0)) if lo is not None and hi is None else np.nan
                 for a in acts],
    }
    # predictions from the drawn weights
    s2 = [w.shape[0] * float(w.astype(np.float64).var()) for w in net.weights]
    q0 = float((X.astype(np.float64) ** 2).mean())
    q_lin = q0 * np.cumprod(s2[:depth])
    q_mf, mf_mean, mf_std = mean_field_variances(s2[:depth], q0, activation, slope=slope)
    # backwards from the measured gradient at the logits
    g_var = float(tr.gradients[depth].astype(np.float64).var())
    pred_g = np.empty(depth)
    for l in range(depth - 1, -1, -1):
        w_above = net.weights[l + 1]
        g_var *= w_above.shape[1] * float(w_above.astype(np.float64).var())
        g_var *= _gauss(lambda z: act.dphi(np.sqrt(q_mf[l]) * z, slope) ** 2)
        pred_g[l] = np.sqrt(g_var)
    out.update(pred_linear_std=np.sqrt(q_lin), pred_mf_pre_std=np.sqrt(q_mf),
               pred_mf_act_std=mf_std, pred_mf_grad_std=pred_g)
    edges = _hist_edges(act, acts)
    out["hist"] = [np.histogram(np.clip(a, edges[0], edges[-1]), edges)[0] for a in acts]
    out["hist_edges"] = edges
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


@dataclasses.dataclass
class SignalResult(Result):
    """Per-layer signal statistics at initialization.

    Arrays indexed [init, seed, layer] (I inits, S seeds, L hidden layers):
    act_mean, act_std, act_second_moment, pre_std (of Z), grad_std (of
    dLoss/dZ), saturated (fraction of activations within 1% of the ends of
    a bounded activation's range: ``|a| > 0.98`` for tanh, ``a`` outside
    [0.01, 0.99] for sigmoid; NaN otherwise), dead (fraction of ReLU units zero on the
    whole batch; NaN otherwise).  Predictions [init, seed, layer]:
    pred_linear_std (pre-activation std, linear recursion), pred_mf_pre_std,
    pred_mf_act_std, pred_mf_grad_std (mean field).  hist [init, layer, bin]
    counts of the first seed's activations on hist_edges [init, bin + 1].
    """

    activation: str
    depth: int
    width: int
    batch: int
    inits: list
    seeds: list
    act_mean: np.ndarray
    act_std: np.ndarray
    act_second_moment: np.ndarray
    pre_std: np.ndarray
    grad_std: np.ndarray
    saturated: np.ndarray
    dead: np.ndarray
    pred_linear_std: np.ndarray
    pred_mf_pre_std: np.ndarray
    pred_mf_act_std: np.ndarray
    pred_mf_grad_std: np.ndarray
    hist: np.ndarray
    hist_edges: np.ndarray

    def plot(self):
        from initreg.plotting import plot_signal
        return plot_signal(self)

    def summary(self):
        """Key numbers per init (mean over seeds): last layer act/grad std,
        saturated fraction."""
        return {init: {"last_act_std": float(self.act_std[i, :, -1].mean()),
                       "first_act_std": float(self.act_std[i, :, 0].mean()),
                       "last_grad_std": float(self.grad_std[i, :, -1].mean()),
                       "first_grad_std": float(self.grad_std[i, :, 0].mean()),
                       "last_saturated": float(self.saturated[i, :, -1].mean()),
                       "mf_last_act_std": float(self.pred_mf_act_std[i, :, -1].mean())}
                for i, init in enumerate(self.inits)}


def signal_propagation(depth=10, *, width=256, activation="tanh",
                       inits=("small", "xavier", "glorot", "he", "large"), batch=512,
                       seed=0, n_seeds=3, n_outputs=N_OUTPUTS, leaky_slope=LEAKY_SLOPE,
                       executor=None):
    """Forward and backward one batch through a deep net at initialization.

    A network of ``depth`` hidden layers of ``width`` units (and a softmax
    layer of ``n_outputs``) gets a batch of N(0, 1) inputs of shape
    (batch, width) with random labels, for every initializer and ``n_seeds``
    seeds.  Returns a :class:`SignalResult` with the measured statistics of
    every hidden layer and the predictions of the linear and mean-field
    variance recursions.
    """
    inits = list(inits)
    seeds = seed_list(seed, n_seeds)
    runs = sweep(lambda init, seed: one_run(activation=activation, depth=depth, width=width,
                                            batch=batch, n_outputs=n_outputs, init=init,
                                            seed=seed, slope=leaky_slope),
                 {"init": inits}, seeds=seeds, executor=executor)
    fields = ("act_mean", "act_std", "act_second_moment", "pre_std", "grad_std", "saturated",
              "dead", "pred_linear_std", "pred_mf_pre_std", "pred_mf_act_std",
              "pred_mf_grad_std")
    return SignalResult(activation=activation, depth=depth, width=width, batch=batch,
                        inits=inits, seeds=seeds, **{k: runs.array(k) for k in fields},
                        hist=runs.array("hist")[:, 0], hist_edges=runs.array("hist_edges")[:, 0])
