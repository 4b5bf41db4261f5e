"""L2 is not weight decay under Adam (Loshchilov & Hutter, "Decoupled Weight
Decay Regularization", ICLR 2019): the idea of their Figure 2 at CPU scale,
and what the three ways of applying L1 under Adam do.

A grid of learning rate x regularization strength lambda is trained for
four methods -- SGD (with momentum) + L2, SGDW, Adam + L2 and AdamW -- and
the test error of every cell recorded.  As in the paper, lambda is the L2
coefficient for the L2 methods (``l2 = lambda``: the cost gains ``lambda *
sum w^2``) and the decay per step for the decoupled ones (the weights are
multiplied by ``1 - lambda`` each step: ``weight_decay = lambda / lr``,
since initreg's optimizers, like PyTorch's, decay by ``lr * weight_decay``).
For each learning rate the strengths whose test error cannot be told from
the row's best form the row's good range; how its centre moves when the
learning rate changes (the slope of the valley of good cells, in log-log)
says how coupled the two hyperparameters are.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from initreg._validation import check_float
from initreg.experiments._common import (Result, TrainSpec, load_dataset, seed_list,
                                         weight_metrics)
from initreg.experiments._sweep import sweep_training
from initreg.optim import DEFAULT_MOMENTUM, SGD, Adam

__all__ = ["weight_decay", "WeightDecayResult", "METHODS", "METHOD_TITLES"]


def _sgd_l2(lr, strength):
    return SGD(lr=lr, momentum=DEFAULT_MOMENTUM, l2=strength)


def _sgdw(lr, strength):
    return SGD(lr=lr, momentum=DEFAULT_MOMENTUM, weight_decay=strength / lr)


def _adam_l2(lr, strength):
    return Adam(lr=lr, l2=strength)


def _adamw(lr, strength):
    return Adam(lr=lr, weight_decay=strength / lr)


#: The compared methods: name -> optimizer(lr, strength).
METHODS = {"sgd+l2": _sgd_l2, "sgdw": _sgdw, "adam+l2": _adam_l2, "adamw": _adamw}
#: How the figures and the report name them.
METHOD_TITLES = {"sgd+l2": "SGD + L2", "sgdw": "SGDW", "adam+l2": "Adam + L2",
                 "adamw": "AdamW"}


@dataclasses.dataclass
class WeightDecayResult(Result):
    """The learning rate x strength grids, and L1 under Adam.

    ``lrs`` are the SGD methods' learning rates; the Adam methods ran at
    ``lr * adam_lr_scale``.  ``strengths`` are the lambdas (``l2 = lambda``;
    ``weight_decay = lambda / lr``).  Arrays [method, lr, strength, seed]:
    test_error, train_error, weight_norm (Frobenius norm of all weights),
    zero_fraction, diverged.
    best [method] = (lr index, strength index) of the lowest mean test error.
    L1 part, [mode, l1, seed]: l1_test_acc, l1_zero_fraction, for Adam at
    ``l1_lr``.
    """

    dataset: str
    layer_sizes: list
    methods: list
    lrs: list
    adam_lr_scale: float
    strengths: list
    seeds: list
    epochs: int
    n_train: int
    test_error: np.ndarray
    train_error: np.ndarray
    weight_norm: np.ndarray
    zero_fraction: np.ndarray
    diverged: np.ndarray
    l1_modes: list
    l1s: list
    l1_lr: float
    l1_test_acc: np.ndarray
    l1_zero_fraction: np.ndarray

    def title(self, method):
        """How figures and reports name a method: "AdamW", "SGD + L2"."""
        return METHOD_TITLES.get(method, method)

    @property
    def best(self):
        """Per method, (lr index, strength index) of the lowest mean test error."""
        mean = np.nanmean(self.test_error, axis=-1)
        return {m: np.unravel_index(int(np.nanargmin(mean[i])), mean[i].shape)
                for i, m in enumerate(self.methods)}

    def _stats(self, method):
        err = self.test_error[self.methods.index(method)]
        mean = np.nanmean(err, axis=-1)
        n = np.sum(np.isfinite(err), axis=-1)
        se = (np.nanstd(err, axis=-1, ddof=1) / np.sqrt(n) if err.shape[-1] > 1
              else np.zeros_like(mean))
        return mean, se

    def valley(self, method):
        """For each learning rate, the best strength, refined by a parabola
        through the best cell and its neighbours in log(strength); NaN where
        no strength beats the weakest by more than two standard errors (over
        seeds), as regularization does not matter there.  And the
        least-squares slope of log(best strength) against log(lr) over the
        other rows: about -1 when the best strength moves with 1/lr, about 0
        when it does not move, +1 when it moves with lr; NaN with fewer than
        two such rows."""
        mean, se = self._stats(method)
        logs = np.log10(self.strengths)
        best = np.full(len(self.lrs), np.nan)
        for r, (row, row_se) in enumerate(zip(mean, se)):
            if not np.isfinite(row).any():
                continue
            k = int(np.nanargmin(row))
            if row[0] - row[k] <= 2 * np.hypot(row_se[0], row_se[k]):
                continue
            best[r] = logs[k]
            if 0 < k < len(row) - 1 and np.isfinite(row[k - 1:k + 2]).all():
                a, b, _ = np.polyfit(logs[k - 1:k + 2], row[k - 1:k + 2], 2)
                if a > 0:
                    best[r] = np.clip(-b / (2 * a), logs[k - 1], logs[k + 1])
        keep = np.isfinite(best)
        slope = (float(np.polyfit(np.log10(self.lrs)[keep], best[keep], 1)[0])
                 if keep.sum() >= 2 else float("nan"))
        return 10.0 ** best, slope

    def summary(self):
        out = {}
        for i, m in enumerate(self.methods):
            li, si = self.best[m]
            centre, slope = self.valley(m)
            scale = self.adam_lr_scale if m.startswith("adam") else 1.0
            out[m] = {"best_lr": float(self.lrs[li]) * scale,
                      "best_strength": float(self.strengths[si]),
                      "best_test_error": float(np.nanmean(self.test_error[i, li, si])),
                      "valley_slope": slope,
                      "best_strength_per_lr": [float(v) for v in centre],
                      "weight_norm_at_best": float(np.nanmean(self.weight_norm[i, li, si])),
                      "zero_fraction_at_best": float(np.nanmean(self.zero_fraction[i, li, si]))}
        out["l1"] = {mode: {f"{l1:g}": {"test_acc": float(np.mean(self.l1_test_acc[j, k])),
                                        "zero_fraction": float(np.mean(
                                            self.l1_zero_fraction[j, k]))}
                            for k, l1 in enumerate(self.l1s)}
                     for j, mode in enumerate(self.l1_modes)}
        out["l1_sparsest"] = self.sparsest()
        return out

    def sparsest(self, tolerance=0.02):
        """Per L1 mode, the run with the most weights at exactly 0 among
        those whose mean test accuracy is within ``tolerance`` of the best
        L1 run's: {"l1", "zero_fraction", "test_acc"}."""
        acc = self.l1_test_acc.mean(axis=-1)
        zeros = self.l1_zero_fraction.mean(axis=-1)
        if acc.size == 0:
            return {}
        ok = acc >= acc.max() - tolerance
        out = {}
        for j, mode in enumerate(self.l1_modes):
            k = int(np.argmax(np.where(ok[j], zeros[j], -1.0)))
            if ok[j, k]:
                out[mode] = {"l1": float(self.l1s[k]), "zero_fraction": float(zeros[j, k]),
                             "test_acc": float(acc[j, k])}
        return out

    def plot(self):
        from initreg.plotting import plot_weight_decay
        return plot_weight_decay(self)


def _positive_values(values, name, below_one=False):
    values = [check_float(v, name, low=0, low_open=True, high=1 if below_one else None,
                          high_open=below_one) for v in np.atleast_1d(values).tolist()]
    if not values:
        raise ValueError(f"{name} must hold at least one value")
    return values


def weight_decay(dataset="digits", *, methods=tuple(METHODS),
                 lrs=(2e-3, 4e-3, 1e-2, 2e-2, 5e-2, 1e-1),
                 strengths=(3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
                 adam_lr_scale=0.2, hidden=(256,), activation="relu", init="he", epochs=80,
                 batch_size=32, n_train=100, l1_modes=("subgradient", "proximal",
                                                       "proximal_preconditioned"),
                 l1s=(1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0), l1_lr=3e-3, seed=0, n_seeds=4,
                 executor=None, progress=False):
    """Train every method on a grid of learning rate x strength, and Adam with
    each L1 mode over ``l1s``.

    Parameters
    ----------
    lrs : tuple of float
        The SGD methods' learning rates; the Adam methods use
        ``lr * adam_lr_scale`` (Adam's steps are of size ~lr whatever the
        gradient, so it needs smaller ones), and the result lists SGD's.
    strengths : tuple of float
        The lambdas: ``l2 = lambda`` for the L2 methods, a decay of
        ``lambda`` per step (``weight_decay = lambda / lr``) for the
        decoupled ones; each below 1.
    n_train : int
        Training samples kept, so that regularization matters.

    Returns
    -------
    WeightDecayResult
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods: unknown {unknown}; known: {list(METHODS)}")
    lrs = _positive_values(lrs, "lrs")
    strengths = _positive_values(strengths, "strengths", below_one=True)
    l1s = _positive_values(l1s, "l1s")
    check_float(adam_lr_scale, "adam_lr_scale", low=0, low_open=True)
    for mode in l1_modes:
        Adam(l1_mode=mode)  # refuses an unknown mode now, not in every run
    data = load_dataset(dataset, seed=seed, n_train=n_train)
    sizes = [data.n_features, *hidden, data.n_classes]
    seeds = seed_list(seed, n_seeds)

    def spec(method, lr, strength, seed):
        scale = adam_lr_scale if method.startswith("adam") else 1.0
        return TrainSpec(sizes, activation, init, seed,
                         METHODS[method](lr * scale, strength), epochs, batch_size)

    def finish(net, hist, scores, **_):
        metrics = weight_metrics(net)
        return {"test_error": 1 - scores["test_acc"], "train_error": 1 - scores["train_acc"],
                "weight_norm": metrics["l2_norm"], "zero_fraction": metrics["zero_fraction"],
                "diverged": hist.diverged}

    grid = sweep_training(spec, finish,
                          {"method": list(methods), "lr": lrs, "strength": strengths},
                          data=data, seeds=seeds, executor=executor, progress=progress)

    def spec_l1(mode, l1, seed):
        return TrainSpec(sizes, activation, init, seed, Adam(lr=l1_lr, l1=l1, l1_mode=mode),
                         epochs, batch_size)

    def finish_l1(net, hist, scores, **_):
        return {"test_acc": scores["test_acc"],
                "zero_fraction": weight_metrics(net)["zero_fraction"]}

    l1 = sweep_training(spec_l1, finish_l1, {"mode": list(l1_modes), "l1": l1s}, data=data,
                        seeds=seeds, executor=executor, progress=progress)
    return WeightDecayResult(
        dataset=data.name, layer_sizes=sizes, methods=list(methods), lrs=list(lrs),
        adam_lr_scale=adam_lr_scale, strengths=list(strengths), seeds=seeds, epochs=epochs,
        n_train=len(data.y_train), l1_modes=list(l1_modes), l1s=list(l1s), l1_lr=l1_lr,
        l1_test_acc=l1.array("test_acc"), l1_zero_fraction=l1.array("zero_fraction"),
        **{k: grid.array(k) for k in ("test_error", "train_error", "weight_norm",
                                      "zero_fraction", "diverged")})
