"""Where deep networks can still train (Schoenholz, Gilmer, Ganguli &
Sohl-Dickstein 2017, "Deep information propagation").

Networks of every depth are initialized with weights N(0, s_w2 / fan_in) and
biases N(0, s_b2), for values of s_w2 on both sides of the critical line
chi_1 = 1, and trained briefly.  Mean-field theory predicts that signals
(and gradients) survive about xi_c layers, so a network trains only when its
depth is below a few xi_c: the paper draws 6 xi_c over its heatmaps.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from initreg._validation import check_float, check_int
from initreg._vocabulary import activation as _activation
from initreg.experiments._common import Result, TrainSpec, load_dataset, seed_list
from initreg.experiments._meanfield import critical_s_w2, mean_field
from initreg.experiments._sweep import sweep_training
from initreg.init import normal, variance_scaling
from initreg.optim import SGD

__all__ = ["trainability", "TrainabilityResult"]


@dataclasses.dataclass
class TrainabilityResult(Result):
    """Test accuracy over a grid of s_w2 x depth, and the theory's depth scale.

    accuracy [s_w2, depth, seed]; xi_c and chi_1 [s_w2] from
    :func:`mean_field`, and xi_c on a finer grid (curve_s_w2, curve_xi_c) to
    draw; critical_s_w2 where chi_1 = 1; ``trains`` is the accuracy a cell
    must reach to count as trained.
    """

    dataset: str
    activation: str
    s_w2: list
    s_b2: float
    depths: list
    width: int
    seeds: list
    epochs: int
    lr: float
    critical_s_w2: float
    xi_c: np.ndarray
    chi_1: np.ndarray
    accuracy: np.ndarray
    trains: float
    curve_s_w2: np.ndarray
    curve_xi_c: np.ndarray

    def counts(self):
        """Cells (mean over seeds) deeper than 6 xi_c that still train, and
        shallower ones that fail: how well the theory's line separates."""
        mean = np.nanmean(self.accuracy, axis=-1)
        limit = 6 * self.xi_c[:, None]
        deep = np.asarray(self.depths)[None, :] > limit
        trained = mean >= self.trains
        return {"beyond_curve": int(deep.sum()), "beyond_curve_trained": int((deep & trained).sum()),
                "below_curve": int((~deep).sum()), "below_curve_failed": int((~deep & ~trained).sum())}

    def summary(self):
        return {"critical_s_w2": self.critical_s_w2, **self.counts(),
                "xi_c": {f"{s:.3g}": float(x) for s, x in zip(self.s_w2, self.xi_c)}}

    def plot(self):
        from initreg.plotting import plot_trainability
        return plot_trainability(self)


def trainability(dataset="digits", *, activation="tanh", s_w2=None, s_b2=0.01,
                 depths=(4, 8, 16, 32, 64, 100), width=128, epochs=5, batch_size=32, lr=0.05,
                 trains=0.5, seed=0, n_seeds=1, executor=None, progress=False):
    """Train a ``width``-wide network of every depth for every s_w2 (weights
    N(0, s_w2 / fan_in), biases N(0, s_b2)), ``epochs`` epochs of SGD with
    momentum 0.9 at the learning rate ``lr / depth``, and record its test
    accuracy.

    Parameters
    ----------
    s_w2 : array of float or None
        Default: 13 values from a third of the critical s_w2 to four times
        it, geometrically spaced, and the critical one.
    lr : float
        The learning rate of a one-layer network; a network of depth L
        trains at lr / L, as the gradient's norm grows with the depth (a
        step that suits 4 layers diverges at 100).
    trains : float
        The test accuracy from which a cell counts as trained.

    Returns
    -------
    TrainabilityResult
        With the mean-field xi_c of every s_w2, to draw 6 xi_c over it.
    """
    act = _activation(activation)
    s_b2 = check_float(s_b2, "s_b2", low=0)
    depths = [check_int(d, "depths", low=1) for d in depths]
    width = check_int(width, "width", low=1)
    epochs = check_int(epochs, "epochs", low=1)
    lr = check_float(lr, "lr", low=0, low_open=True)
    trains = check_float(trains, "trains", low=0, high=1)
    critical = critical_s_w2(act.name, s_b2=s_b2)
    if s_w2 is None:
        s_w2 = np.unique(np.r_[np.geomspace(critical / 3, 4 * critical, 13), critical])
    s_w2 = [check_float(v, "s_w2", low=0, low_open=True) for v in np.atleast_1d(s_w2).tolist()]
    if not s_w2 or not depths:
        raise ValueError("s_w2 and depths need at least one value each")
    data = load_dataset(dataset, seed=seed)
    theory = [mean_field(act.name, v, s_b2=s_b2) for v in s_w2]
    curve = np.unique(np.r_[np.geomspace(min(s_w2) / 1.2, max(s_w2) * 1.2, 30), critical])
    seeds = seed_list(seed, n_seeds)
    bias = normal(std=math.sqrt(s_b2)) if s_b2 > 0 else 0.0

    def spec(s_w2, depth, seed):
        sizes = [data.n_features] + [width] * depth + [data.n_classes]
        init = variance_scaling(scale=s_w2, mode="fan_in", distribution="normal")
        return TrainSpec(sizes, act.name, init, seed, SGD(lr=lr / depth), epochs, batch_size,
                         bias_init=bias)

    def finish(net, hist, scores, **_):
        return {"accuracy": scores["test_acc"]}

    runs = sweep_training(spec, finish, {"s_w2": s_w2, "depth": list(depths)}, data=data,
                          seeds=seeds, executor=executor, progress=progress)
    return TrainabilityResult(
        dataset=data.name, activation=act.name, s_w2=s_w2, s_b2=s_b2, depths=depths,
        width=width, seeds=seeds, epochs=epochs, lr=lr, critical_s_w2=critical,
        xi_c=np.array([t.xi_c for t in theory]), chi_1=np.array([t.chi_1 for t in theory]),
        accuracy=runs.array("accuracy"), trains=trains, curve_s_w2=curve,
        curve_xi_c=np.array([mean_field(act.name, v, s_b2=s_b2).xi_c for v in curve]))
