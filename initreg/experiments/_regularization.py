"""What L1, L2 and elastic-net penalties do to the weights and to
generalization, across a sweep of lambda."""
from __future__ import annotations

import dataclasses

import numpy as np

from initreg.experiments._common import (Result, TrainSpec, load_dataset, seed_list,
                                         weight_metrics)
from initreg.experiments._sweep import sweep_training
from initreg.optim import DEFAULT_L1_MODE, DEFAULT_LR, DEFAULT_MOMENTUM, SGD

__all__ = ["regularization", "RegularizationResult", "PENALTIES"]

#: How each penalty name maps lambda to (l1, l2).
PENALTIES = {
    "none": lambda lam: (0.0, 0.0),
    "l1": lambda lam: (lam, 0.0),
    "l2": lambda lam: (0.0, lam),
    "elastic": lambda lam: (lam, lam),
}

N_BINS = 160


@dataclasses.dataclass
class RegularizationResult(Result):
    """One model per (penalty, lambda, seed).

    Arrays [penalty, lambda, seed]: train_acc, test_acc, gap (train - test
    accuracy), zero_fraction (weights exactly 0), small_fraction (``|w| < eps``),
    l1_norm (``sum |w|``), l2_norm (``sqrt(sum w**2)``), diverged.  hist [penalty,
    lambda, bin]: the first seed's weights (all layers) on hist_edges.  The
    "none" row repeats one unregularized run for every lambda.
    """

    dataset: str
    layer_sizes: list
    penalties: list
    lambdas: list
    l1_mode: str
    seeds: list
    epochs: int
    n_train: int
    eps: float
    train_acc: np.ndarray
    test_acc: np.ndarray
    gap: np.ndarray
    zero_fraction: np.ndarray
    small_fraction: np.ndarray
    l1_norm: np.ndarray
    l2_norm: np.ndarray
    diverged: np.ndarray
    hist: np.ndarray
    hist_edges: np.ndarray

    def showcase_lambda_index(self):
        """The lambda whose L1 run zeroes closest to a third of the weights (a
        clear spike at 0 without an empty network); the middle one without L1."""
        if "l1" not in self.penalties:
            return len(self.lambdas) // 2
        zeros = np.mean(self.zero_fraction[self.penalties.index("l1")], axis=1)
        return int(np.argmin(np.abs(zeros - 1 / 3)))

    def plot(self):
        from initreg.plotting import plot_regularization
        return plot_regularization(self)

    def summary(self):
        """Means over seeds, per penalty and lambda."""
        return {p: {f"{lam:g}": {k: float(np.mean(getattr(self, k)[pi, li]))
                                 for k in ("test_acc", "gap", "zero_fraction", "small_fraction",
                                           "l2_norm")}
                    for li, lam in enumerate(self.lambdas)}
                for pi, p in enumerate(self.penalties)}


def regularization(dataset="digits", *, penalties=("none", "l1", "l2", "elastic"),
                   lambdas=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2), l1_mode=DEFAULT_L1_MODE,
                   hidden=(128,), activation="relu", init="he", epochs=40, batch_size=32,
                   lr=DEFAULT_LR, momentum=DEFAULT_MOMENTUM, n_train=500, eps=1e-3,
                   weight_range=1.0, seed=0, n_seeds=2, executor=None, progress=False):
    """Train one model per penalty, lambda and seed; measure the weights.

    The penalty is ``l1 * sum|w| + l2 * sum w^2`` over the weights (see
    :data:`PENALTIES`: "elastic" uses both with the same lambda), applied by
    SGD with ``l1_mode``.  ``n_train`` keeps only that many training samples,
    so an unregularized network over-fits and the generalization gap shows.
    Returns a :class:`RegularizationResult`.
    """
    unknown = [p for p in penalties if p not in PENALTIES]
    if unknown:
        raise ValueError(f"unknown penalties {unknown}; known: {list(PENALTIES)}")
    data = load_dataset(dataset, seed=seed, n_train=n_train)
    sizes = [data.n_features, *hidden, data.n_classes]
    seeds = seed_list(seed, n_seeds)
    edges = np.linspace(-weight_range, weight_range, N_BINS + 1)

    def spec(penalty, lam, seed):
        l1, l2 = PENALTIES[penalty](lam)
        return TrainSpec(sizes, activation, init, seed,
                         SGD(lr=lr, momentum=momentum, l1=l1, l2=l2, l1_mode=l1_mode), epochs,
                         batch_size)

    def finish(net, hist, scores, **_):
        w = np.concatenate([x.ravel() for x in net.weights])
        return {**scores, **weight_metrics(net, eps), "diverged": hist.diverged,
                "hist": np.histogram(np.clip(w, edges[0], edges[-1]), edges)[0]}

    # "none" does not depend on lambda: run once, repeated along the lambda axis
    penalized = [p for p in penalties if p != "none"]
    runs = {}
    if penalized:
        runs["penalized"] = sweep_training(spec, finish,
                                           {"penalty": penalized, "lam": list(lambdas)},
                                           data=data, seeds=seeds, executor=executor,
                                           progress=progress)
    if "none" in penalties:
        runs["none"] = sweep_training(spec, finish, {"penalty": ["none"], "lam": [0.0]},
                                      data=data, seeds=seeds, executor=executor)

    def stacked(key):
        parts = {}
        if "penalized" in runs:
            parts.update(zip(penalized, runs["penalized"].array(key)))
        if "none" in runs:
            none = runs["none"].array(key)[0]
            parts["none"] = np.repeat(none, len(lambdas), axis=0)
        return np.array([parts[p] for p in penalties])

    keys = ("train_acc", "test_acc", "gap", "zero_fraction", "small_fraction", "l1_norm",
            "l2_norm", "diverged")
    return RegularizationResult(dataset=data.name, layer_sizes=sizes, penalties=list(penalties),
                                lambdas=list(lambdas), l1_mode=l1_mode, seeds=seeds,
                                epochs=epochs, n_train=len(data.y_train), eps=eps,
                                hist=stacked("hist")[:, :, 0], hist_edges=edges,
                                **{k: stacked(k) for k in keys})
