"""Deep linear networks learn in a time independent of their depth from
orthogonal initial weights, and in a time that grows with depth from
Gaussian ones (Saxe, McClelland & Ganguli 2014, their Fig. 6A), at CPU scale.

Linear networks of increasing depth learn the least-squares map from the
features to one-hot labels.  Each is trained, at each of a few learning
rates, until its training loss comes within ``tolerance`` of the best a
linear map can do (known in closed form), and the epochs that took at the
best learning rate are recorded, as in the paper.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from initreg._validation import check_float, check_int
from initreg.experiments._common import Data, Result, load_dataset, seed_list, train_model
from initreg.experiments._isometry import WEIGHTS
from initreg.experiments._sweep import sweep
from initreg.optim import SGD

__all__ = ["deep_linear", "DeepLinearResult"]


@dataclasses.dataclass
class DeepLinearResult(Result):
    """Epochs to reach the loss threshold, [weights, depth, lr, seed] (NaN:
    not within ``max_epochs``), and the training loss per epoch [weights,
    depth, lr, seed, epoch] (NaN after the run stopped).  As in Saxe et al.,
    each depth is judged at its best learning rate: :attr:`epochs_to_threshold`
    is the minimum over ``lrs``."""

    dataset: str
    width: int
    weights: list
    depths: list
    lrs: list
    seeds: list
    max_epochs: int
    optimum: float
    tolerance: float
    threshold: float
    epochs: np.ndarray
    loss: np.ndarray

    @property
    def epochs_to_threshold(self):
        """[weights, depth, seed]: the fewest epochs over the learning rates."""
        with np.errstate(invalid="ignore"):
            best = np.nanmin(np.where(np.isnan(self.epochs), np.inf, self.epochs), axis=2)
        return np.where(np.isinf(best), np.nan, best)

    @property
    def best_lr(self):
        """[weights, depth, seed]: the learning rate of the fewest epochs (NaN
        when none reached the threshold)."""
        filled = np.where(np.isnan(self.epochs), np.inf, self.epochs)
        best = np.asarray(self.lrs)[np.argmin(filled, axis=2)]
        return np.where(np.isnan(self.epochs_to_threshold), np.nan, best)

    def summary(self):
        out = {}
        for i, w in enumerate(self.weights):
            out[w] = {}
            for k, d in enumerate(self.depths):
                runs = self.epochs_to_threshold[i, k]
                reached = runs[np.isfinite(runs)]
                out[w][int(d)] = {"epochs": float(np.mean(reached)) if reached.size else None,
                                  "reached": f"{reached.size}/{runs.size}"}
        return out

    def plot(self):
        from initreg.plotting import plot_deep_linear
        return plot_deep_linear(self)


def deep_linear(dataset="digits", *, depths=(1, 2, 4, 8, 16, 32, 64), width=64,
                weights=("orthogonal", "gaussian"), lrs=(0.01, 0.03, 0.1, 0.3), batch_size=32,
                max_epochs=60, tolerance=0.05, seed=0, n_seeds=2, executor=None,
                progress=False):
    """Train linear networks of every depth (``depth - 1`` hidden layers of
    ``width`` units) from each weight distribution (gain 1), with SGD at
    every learning rate of ``lrs``, until the training loss (mean squared
    error to one-hot labels) is within ``tolerance`` of the least-squares
    optimum, as a fraction of the distance from the loss of predicting the
    mean to it.  Returns a :class:`DeepLinearResult`."""
    unknown = [w for w in weights if w not in WEIGHTS]
    if unknown or not weights:
        raise ValueError(f"weights: unknown {unknown}; known: {list(WEIGHTS)}")
    depths = [check_int(d, "depths", low=1) for d in depths]
    lrs = [check_float(v, "lrs", low=0, low_open=True) for v in lrs]
    if not depths or not lrs:
        raise ValueError("depths and lrs need at least one value each")
    tolerance = check_float(tolerance, "tolerance", low=0, low_open=True, high=1)
    max_epochs = check_int(max_epochs, "max_epochs", low=1)
    labels = load_dataset(dataset, seed=seed)
    eye = np.eye(labels.n_classes, dtype=np.float32)
    data = Data(labels.name, labels.X_train, eye[labels.y_train], labels.X_test,
                eye[labels.y_test])
    targets = data.y_train
    X = np.c_[data.X_train, np.ones(len(data.X_train))].astype(np.float64)
    coef = np.linalg.lstsq(X, targets, rcond=None)[0]
    optimum = float(np.mean((X @ coef - targets) ** 2))
    start = float(np.mean((targets - targets.mean(axis=0)) ** 2))
    threshold = optimum + tolerance * (start - optimum)
    seeds = seed_list(seed, n_seeds)

    def run(weights, depth, lr, seed):
        sizes = [data.n_features] + [width] * (depth - 1) + [targets.shape[1]]
        _, hist, _ = train_model(
            data, sizes, activation="identity", init=WEIGHTS[weights](1.0), output="linear",
            seed=seed, epochs=max_epochs, batch_size=batch_size,
            optimizer=SGD(lr=lr, momentum=0.0),
            callbacks=[lambda model, history, epoch: history.loss[-1] <= threshold])
        below = np.flatnonzero(hist.loss <= threshold)
        loss = np.full(max_epochs, np.nan)
        loss[:hist.n_epochs] = hist.loss
        return {"epochs": float(below[0] + 1) if below.size else np.nan, "loss": loss}

    runs = sweep(run, {"weights": list(weights), "depth": depths, "lr": lrs}, seeds=seeds,
                 executor=executor, progress=progress)
    return DeepLinearResult(dataset=data.name, width=width, weights=list(weights),
                            depths=depths, lrs=lrs, seeds=seeds, max_epochs=max_epochs,
                            optimum=optimum, tolerance=tolerance, threshold=threshold,
                            epochs=runs.array("epochs"),
                            loss=runs.array("loss"))
