"""Training under different initializations: curves, per-layer statistics,
the symmetry of constant inits, decision boundaries, and depth."""
from __future__ import annotations

import dataclasses

import numpy as np

from initreg.experiments._common import Result, TrainSpec, load_dataset, seed_list
from initreg.experiments._sweep import sweep_training
from initreg.optim import DEFAULT_LR, DEFAULT_MOMENTUM, SGD

__all__ = ["initialization", "InitializationResult", "depth_study", "DepthResult",
           "distinct_units"]


def distinct_units(model, layer, rtol=1e-4):
    """Number of distinct hidden units in ``layer``: units whose incoming
    weights and bias are identical compute the same function (and, being
    symmetric, receive the same gradient: zero or constant init never breaks
    the tie).

    Units count as one when they agree to within ``rtol`` times the layer's
    largest parameter: BLAS may round the columns of one matrix product
    differently (edge tiles, vector tails), so exactly tied units drift apart
    by a few ulps, while units of a random init differ by the size of the
    weights themselves.
    """
    units = np.vstack([model.weights[layer], model.biases[layer][None]]).T
    tol = rtol * float(np.max(np.abs(units), initial=0.0))
    count = 0
    while len(units):  # greedy: each pass removes one unit and its near-copies
        near = np.max(np.abs(units - units[0]), axis=1) <= tol
        near[0] = True  # even when NaN makes every comparison false
        units = units[~near]
        count += 1
    return count


def _pad(values, n):
    """Curves of runs that stopped early are NaN-padded to ``n`` epochs."""
    out = np.full(n, np.nan)
    out[:len(values)] = values
    return out


def _curves(net, hist, scores, epochs, record=False, grid=None):
    """What the initialization experiments keep of one trained run (NaN
    where a run stopped before recording an epoch)."""
    out = {"loss": _pad(hist.loss, epochs), "train_acc": _pad(hist.accuracy, epochs),
           "test_acc": _pad(hist.val_accuracy, epochs), "diverged": hist.diverged,
           "final_test_acc": scores["test_acc"]}
    if record:
        for key in ("act_std", "grad_std"):
            stats = np.full((epochs, net.n_layers), np.nan)
            if hist.layer_stats is not None:
                stats[:hist.n_epochs] = hist.layer_stats[key]
            out[key] = stats
        out["distinct_units"] = [distinct_units(net, l) for l in range(net.n_layers - 1)]
    if grid is not None:
        out["boundary"] = net.predict(grid).reshape(int(np.sqrt(len(grid))), -1)
    return out


@dataclasses.dataclass
class InitializationResult(Result):
    """One model per (init, seed), trained the same way.

    Arrays [init, seed, epoch]: loss (running train loss), train_acc,
    test_acc; [init, seed]: final_test_acc, diverged; [init, seed, epoch,
    layer]: act_std, grad_std (recorded during training); [init, seed,
    hidden layer]: distinct_units.  For a 2-D dataset, boundary [init, G, G]
    holds the first seed's predicted class on the grid grid_x x grid_y, and
    points / labels a sample of the training data.
    """

    dataset: str
    activation: str
    layer_sizes: list
    inits: list
    seeds: list
    epochs: int
    lr: float
    loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    final_test_acc: np.ndarray
    diverged: np.ndarray
    act_std: np.ndarray
    grad_std: np.ndarray
    distinct_units: np.ndarray
    grid_x: np.ndarray | None = None
    grid_y: np.ndarray | None = None
    boundary: np.ndarray | None = None
    points: np.ndarray | None = None
    labels: np.ndarray | None = None

    def plot(self):
        from initreg.plotting import plot_initialization
        return plot_initialization(self)

    def summary(self):
        """Mean final test accuracy, final loss and distinct units per init."""
        return {init: {"test_acc": float(np.nanmean(self.final_test_acc[i])),
                       "final_loss": float(np.nanmean(self.loss[i, :, -1])),
                       "distinct_units": [int(v) for v in self.distinct_units[i, 0]],
                       "diverged": int(np.sum(self.diverged[i]))}
                for i, init in enumerate(self.inits)}


def initialization(dataset="digits", *, inits=("zeros", "small", "xavier", "glorot", "he", "large"),
                   activation="tanh", hidden=(64, 64, 64), epochs=30, batch_size=32,
                   lr=DEFAULT_LR, momentum=DEFAULT_MOMENTUM, seed=0, n_seeds=3, grid_size=120,
                   executor=None, progress=False):
    """Train one model per initializer (and seed) on ``dataset``.

    Parameters
    ----------
    dataset : str, tuple or Data
        See :func:`initreg.experiments.load_dataset` ("digits", "spirals",
        ...); standardized features.
    hidden : tuple of int
        Hidden layer widths.

    Returns
    -------
    InitializationResult
        Loss and accuracy curves, per-layer activation / gradient std over
        training, the number of distinct units per hidden layer, and (2-D
        data) decision boundaries.
    """
    data = load_dataset(dataset, seed=seed)
    sizes = [data.n_features, *hidden, data.n_classes]
    seeds = seed_list(seed, n_seeds)
    grid_x = grid_y = grid = None
    if data.n_features == 2:
        X = np.r_[data.X_train, data.X_test]
        lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
        grid_x, grid_y = np.linspace(lo[0], hi[0], grid_size), np.linspace(lo[1], hi[1], grid_size)
        gx, gy = np.meshgrid(grid_x, grid_y)
        grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)

    def spec(init, seed):
        return TrainSpec(sizes, activation, init, seed, SGD(lr=lr, momentum=momentum), epochs,
                         batch_size, validate=True, record=True)

    def finish(net, hist, scores, init, seed):
        return _curves(net, hist, scores, epochs, record=True,
                       grid=grid if seed == seeds[0] else None)

    runs = sweep_training(spec, finish, {"init": list(inits)}, data=data, seeds=seeds,
                          executor=executor, progress=progress)
    result = InitializationResult(
        dataset=data.name, activation=activation, layer_sizes=sizes, inits=list(inits),
        seeds=seeds, epochs=epochs, lr=lr,
        **{k: runs.array(k) for k in ("loss", "train_acc", "test_acc", "final_test_acc",
                                      "diverged", "act_std", "grad_std", "distinct_units")})
    if grid is not None:
        first = {r["init"]: r["result"] for r in runs.records if r["seed"] == seeds[0]}
        result.grid_x, result.grid_y = grid_x, grid_y
        result.boundary = np.array([first[i]["boundary"] for i in inits])
        result.points, result.labels = data.X_train[:400], data.y_train[:400]
    return result


@dataclasses.dataclass
class DepthResult(Result):
    """Final accuracy and curves against depth.

    Arrays [activation, init, depth, seed]: final_test_acc, diverged;
    [activation, init, depth, seed, epoch]: loss, test_acc.
    """

    dataset: str
    width: int
    activations: list
    inits: list
    depths: list
    seeds: list
    epochs: int
    final_test_acc: np.ndarray
    diverged: np.ndarray
    loss: np.ndarray
    test_acc: np.ndarray

    def plot(self):
        from initreg.plotting import plot_depth
        return plot_depth(self)

    def summary(self):
        """Mean final test accuracy per activation, init and depth."""
        return {a: {i: {int(d): float(np.nanmean(self.final_test_acc[ai, ii, di]))
                        for di, d in enumerate(self.depths)}
                    for ii, i in enumerate(self.inits)}
                for ai, a in enumerate(self.activations)}


def depth_study(dataset="digits", *, depths=(2, 5, 10, 20, 30), width=64,
                inits=("xavier", "he"), activations=("relu", "tanh"), epochs=30,
                batch_size=32, lr=DEFAULT_LR, momentum=DEFAULT_MOMENTUM, seed=0, n_seeds=2,
                executor=None, progress=False):
    """He vs Xavier as the network deepens (He et al. 2015: a 30-layer ReLU
    net with Xavier init stalls, with He init it trains), for each activation.

    Every (activation, init, depth, seed) trains a net of ``depth`` hidden
    layers of ``width`` units.  Returns a :class:`DepthResult`.  At the
    library's default step (``lr=0.01``, momentum 0.9) the deepest networks
    can diverge (recorded in ``diverged``); ``initreg report`` runs this with
    ``lr=0.002``, where they train.
    """
    data = load_dataset(dataset, seed=seed)
    seeds = seed_list(seed, n_seeds)

    def spec(activation, init, depth, seed):
        sizes = [data.n_features] + [width] * depth + [data.n_classes]
        return TrainSpec(sizes, activation, init, seed, SGD(lr=lr, momentum=momentum), epochs,
                         batch_size, validate=True)

    def finish(net, hist, scores, **_):
        return _curves(net, hist, scores, epochs)

    grid = {"activation": list(activations), "init": list(inits), "depth": list(depths)}
    runs = sweep_training(spec, finish, grid, data=data, seeds=seeds, executor=executor,
                          progress=progress)
    return DepthResult(dataset=data.name, width=width, activations=list(activations),
                       inits=list(inits), depths=list(depths), seeds=seeds, epochs=epochs,
                       **{k: runs.array(k) for k in ("final_test_acc", "diverged", "loss",
                                                     "test_acc")})
