"""Figures of the experiment results (needs the ``report`` extra: matplotlib).

Each ``plot_<kind>(result)`` returns a dict ``name -> matplotlib Figure``.
Figures are built without pyplot (no global state, no display needed), so
they can be made in worker threads and saved anywhere.
"""
from __future__ import annotations

import warnings

import numpy as np

from initreg._files import atomic_write

try:
    from matplotlib.figure import Figure
except ImportError as exc:  # pragma: no cover - exercised without matplotlib
    raise ImportError('initreg\'s figures need matplotlib: pip install "initreg[report]"') from exc

__all__ = ["plot_signal", "plot_initialization", "plot_depth", "plot_regularization",
           "plot_landscape", "plot_weight_decay", "plot_isometry", "plot_trainability",
           "plot_deep_linear", "plot_sweep", "save_figure"]

INIT_COLORS = {"zeros": "#7f7f7f", "small": "#1f77b4", "xavier": "#2ca02c", "glorot": "#17becf",
               "he": "#d62728", "large": "#ff7f0e", "lecun": "#9467bd", "orthogonal": "#8c564b"}
PENALTY_COLORS = {"none": "#d62728", "l1": "#1f77b4", "l2": "#2ca02c", "elastic": "#9467bd"}


def _color(name, i):
    return INIT_COLORS.get(name, f"C{i % 10}")


def _figure(nrows=1, ncols=1, width=4.2, height=3.4, **kw):
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _band(ax, x, runs, color, label, style="-", marker=None):
    """Mean over runs (axis 0) as a line, min..max as a shaded band."""
    runs = np.asarray(runs, dtype=np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a point where every run is NaN
        mean = np.nanmean(runs, axis=0)
        lo, hi = np.nanmin(runs, axis=0), np.nanmax(runs, axis=0)
    ax.plot(x, mean, style, color=color, label=label, marker=marker, ms=3)
    if runs.shape[0] > 1:
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)


def save_figure(fig, path, dpi=110):
    """Write a figure as PNG, atomically."""
    atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format="png"))


# ---- signal propagation -------------------------------------------------------

def plot_signal(r):
    """Figures of a :class:`~initreg.experiments.SignalResult`.

    ``signal_histograms_<activation>``: the activation histogram of every
    layer, one panel per initializer (Glorot & Bengio 2010, Fig. 6 style);
    ``signal_std_<activation>``: the activation and back-propagated gradient
    std per layer, measured (band over seeds) against the mean-field and
    linear predictions.
    """
    figs = {}
    n = len(r.inits)
    fig, axes = _figure(1, n, width=3.0, height=2.8, sharey=False)
    cmap_colors = [tuple(c) for c in _viridis(r.depth)]
    for i, init in enumerate(r.inits):
        ax = axes[0, i]
        edges = r.hist_edges[i]
        centers = 0.5 * (edges[1:] + edges[:-1])
        for l in range(r.depth):
            counts = r.hist[i, l]
            ax.plot(centers, counts / max(counts.sum(), 1), color=cmap_colors[l], lw=1.1,
                    label=f"layer {l + 1}" if i == 0 and l in (0, r.depth - 1) else None)
        ax.set_title(f"{init}", fontsize=10)
        ax.set_xlabel(f"{r.activation} activation")
        ax.set_yscale("log")
        if i == 0:
            ax.set_ylabel("fraction of units")
            ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"Activation histograms per layer ({r.depth} x {r.width}, {r.activation}); "
                 "light = deeper", fontsize=10)
    figs[f"signal_histograms_{r.activation}"] = fig

    fig, axes = _figure(1, 2, width=5.0, height=3.8)
    layers = np.arange(1, r.depth + 1)
    for i, init in enumerate(r.inits):
        c = _color(init, i)
        _band(axes[0, 0], layers, r.act_std[i], c, f"{init}", marker="o")
        axes[0, 0].plot(layers, np.nanmean(r.pred_mf_act_std[i], axis=0), ":", color=c, lw=1.6)
        axes[0, 0].plot(layers, np.nanmean(r.pred_linear_std[i], axis=0), "--", color=c,
                        lw=0.9, alpha=0.7)
        _band(axes[0, 1], layers, r.grad_std[i], c, f"{init}", marker="o")
        axes[0, 1].plot(layers, np.nanmean(r.pred_mf_grad_std[i], axis=0), ":", color=c, lw=1.6)
    measured = np.concatenate([r.act_std.ravel(), r.grad_std.ravel()])
    measured = measured[np.isfinite(measured) & (measured > 0)]
    if measured.size:  # the linear prediction may explode: keep the measured in view
        axes[0, 0].set_ylim(measured.min() / 5, measured.max() * 1e3)
    axes[0, 0].set_title("activation std: measured (o), mean field (:), linear (--)",
                         fontsize=9)
    axes[0, 1].set_title("back-propagated gradient std dL/dZ: measured (o), mean field (:)",
                         fontsize=9)
    for ax in axes[0]:
        ax.set_yscale("log")
        ax.set_xlabel("layer")
    axes[0, 0].legend(fontsize=7)
    figs[f"signal_std_{r.activation}"] = fig
    return figs


def _viridis(n):
    from matplotlib import colormaps
    return colormaps["viridis"](np.linspace(0.0, 0.92, max(n, 1)))


# ---- initialization training ------------------------------------------------------

def plot_initialization(r):
    """Figures of an :class:`~initreg.experiments.InitializationResult`.

    ``init_curves_<dataset>``: training loss and test accuracy per epoch,
    one band (over seeds) per initializer; ``init_layer_stats_<dataset>``:
    each layer's activation and gradient std over training, one column per
    initializer, titled with its number of distinct units; and, for a 2-D
    dataset, ``init_boundaries_<dataset>``: each initializer's decision
    boundary.
    """
    figs = {}
    epochs = np.arange(1, r.epochs + 1)
    fig, axes = _figure(1, 2, width=4.8, height=3.6)
    for i, init in enumerate(r.inits):
        c = _color(init, i)
        _band(axes[0, 0], epochs, r.loss[i], c, init)
        _band(axes[0, 1], epochs, r.test_acc[i], c, init)
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_ylabel("training loss")
    axes[0, 1].set_ylabel("test accuracy")
    for ax in axes[0]:
        ax.set_xlabel("epoch")
    axes[0, 1].legend(fontsize=7)
    fig.suptitle(f"{r.dataset}, {r.activation}, layers {r.layer_sizes}", fontsize=10)
    figs[f"init_curves_{r.dataset}"] = fig

    n_hidden = r.act_std.shape[-1] - 1
    fig, axes = _figure(2, len(r.inits), width=2.6, height=2.4, sharex=True)
    colors = _viridis(n_hidden + 1)
    for i, init in enumerate(r.inits):
        for l in range(n_hidden + 1):
            label = f"layer {l + 1}" if l < n_hidden else "output"
            axes[0, i].plot(epochs, np.nanmean(r.act_std[i, :, :, l], axis=0),
                            color=colors[l], label=label)
            axes[1, i].plot(epochs, np.nanmean(r.grad_std[i, :, :, l], axis=0), color=colors[l])
        axes[0, i].set_title(f"{init}: {int(r.distinct_units[i, 0, 0])} distinct units",
                             fontsize=9)
        for ax in axes[:, i]:
            ax.set_yscale("log")
        axes[1, i].set_xlabel("epoch")
    axes[0, 0].set_ylabel("activation std")
    axes[1, 0].set_ylabel("gradient std dL/dZ")
    axes[0, 0].legend(fontsize=6)
    figs[f"init_layer_stats_{r.dataset}"] = fig

    if r.boundary is not None:
        fig, axes = _figure(1, len(r.inits), width=2.7, height=2.7)
        for i, init in enumerate(r.inits):
            ax = axes[0, i]
            ax.contourf(r.grid_x, r.grid_y, r.boundary[i], levels=np.arange(-0.5, 10.5, 1),
                        cmap="coolwarm", alpha=0.35)
            ax.scatter(r.points[:, 0], r.points[:, 1], c=r.labels, cmap="coolwarm", s=4,
                       edgecolors="none")
            ax.set_title(f"{init}: {np.mean(r.final_test_acc[i]):.0%}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(f"Decision boundaries on {r.dataset} after {r.epochs} epochs "
                     "(test accuracy)", fontsize=10)
        figs[f"init_boundaries_{r.dataset}"] = fig
    return figs


def plot_depth(r):
    """Figure of a :class:`~initreg.experiments.DepthResult`: ``depth``, test
    accuracy against the number of hidden layers, one panel per activation
    and one band (over seeds) per initializer."""
    fig, axes = _figure(1, len(r.activations), width=4.2, height=3.4, sharey=True)
    for a, act in enumerate(r.activations):
        ax = axes[0, a]
        for i, init in enumerate(r.inits):
            _band(ax, r.depths, r.final_test_acc[a, i].T, _color(init, i), init, marker="o")
        ax.set_title(f"{act}, width {r.width}", fontsize=10)
        ax.set_xlabel("hidden layers")
        ax.set_ylim(0, 1)
        ax.axhline(1 / 10, color="k", lw=0.6, ls=":")
    axes[0, 0].set_ylabel(f"test accuracy after {r.epochs} epochs")
    axes[0, 0].legend(fontsize=8)
    return {"depth": fig}


# ---- regularization ---------------------------------------------------------------

def plot_regularization(r, lam_index=None):
    """Figures of a :class:`~initreg.experiments.RegularizationResult`.

    ``reg_histograms``: the trained weights' histograms with L1 and with L2
    against none, at one strength (``lam_index`` into ``r.lambdas``; default
    :meth:`~initreg.experiments.RegularizationResult.showcase_lambda_index`);
    ``reg_sweep``: the fraction of weights exactly 0, the train and test
    accuracy and the weight norm against lambda, per penalty.
    """
    figs = {}
    li = r.showcase_lambda_index() if lam_index is None else lam_index
    lam = r.lambdas[li]
    centers = 0.5 * (r.hist_edges[1:] + r.hist_edges[:-1])
    width = r.hist_edges[1] - r.hist_edges[0]
    fig, axes = _figure(1, 2, width=4.6, height=3.4, sharey=True)
    base = r.penalties.index("none") if "none" in r.penalties else None
    for ax, pen in zip(axes[0], ("l1", "l2")):
        if pen not in r.penalties:
            continue
        if base is not None:
            ax.bar(centers, r.hist[base, li], width=width, color=PENALTY_COLORS["none"],
                   alpha=0.55, label="unregularized")
        ax.bar(centers, r.hist[r.penalties.index(pen), li], width=width,
               color=PENALTY_COLORS[pen], alpha=0.55, label=f"{pen.upper()}, $\\lambda$={lam:g}")
        ax.set_yscale("log")
        ax.set_xlabel("weight value")
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel("number of weights")
    fig.suptitle("Weights after training: L1 piles them at exactly 0, L2 shrinks them all",
                 fontsize=10)
    figs["reg_histograms"] = fig

    fig, axes = _figure(1, 3, width=3.6, height=3.2)
    for p, pen in enumerate(r.penalties):
        c = PENALTY_COLORS.get(pen, f"C{p}")
        _band(axes[0, 0], r.lambdas, r.zero_fraction[p].T, c, pen, marker="o")
        _band(axes[0, 1], r.lambdas, r.test_acc[p].T, c, pen, marker="o")
        _band(axes[0, 1], r.lambdas, r.train_acc[p].T, c, None, style="--")
        _band(axes[0, 2], r.lambdas, r.l2_norm[p].T, c, pen, marker="o")
    axes[0, 0].set_ylabel("fraction of weights exactly 0")
    axes[0, 1].set_ylabel("accuracy: test (o), train (--)")
    axes[0, 2].set_ylabel("weight norm $\\|W\\|_2$")
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel("$\\lambda$")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"{r.dataset} ({r.n_train} training samples), L1 mode: {r.l1_mode}",
                 fontsize=10)
    figs["reg_sweep"] = fig
    return figs


def plot_landscape(r):
    """Figure of a :class:`~initreg.experiments.LandscapeResult`:
    ``landscape``, contours of J + lambda*|w|_1 and of J + lambda*|w|_2^2 over
    the two weights, with the unit balls and the optimum's path as lambda
    grows."""
    fig, axes = _figure(1, 2, width=4.6, height=4.4)
    W1, W2 = np.meshgrid(r.grid_w1, r.grid_w2)
    levels = np.quantile(r.cost, np.linspace(0.002, 0.6, 14))
    for ax, name, reg_cost, opt, path, touching in (
            (axes[0, 0], "L1", r.cost_l1, r.opt_l1, r.path_l1, r.cost_at_l1),
            (axes[0, 1], "L2", r.cost_l2, r.opt_l2, r.path_l2, r.cost_at_l2)):
        ax.contour(W1, W2, r.cost, levels=levels, colors="0.65", linewidths=0.7)
        ax.contour(W1, W2, reg_cost, levels=np.quantile(reg_cost, np.linspace(0.002, 0.5, 10)),
                   cmap="viridis", linewidths=0.8, alpha=0.6)
        # the contour of J through the regularized optimum touches the region
        ax.contour(W1, W2, r.cost, levels=[touching], colors="k", linewidths=1.4)
        if name == "L1":  # the diamond |w1| + |w2| = |w*|_1 through the optimum
            t = np.abs(opt).sum()
            ax.fill([t, 0, -t, 0], [0, t, 0, -t], color="#1f77b4", alpha=0.15)
        else:
            rad = np.hypot(*opt)
            ax.add_patch(_circle(rad))
        ax.plot(path[:, 0], path[:, 1], "-", color="k", lw=1.2, label="optimum as $\\lambda$ grows")
        ax.plot(*r.optimum, "*", color="#d62728", ms=12, label="unregularized optimum")
        ax.plot(*opt, "o", color="#1f77b4", ms=7, label=f"{name} optimum, $\\lambda$={r.lam:.2g}")
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_aspect("equal")
        ax.set_xlim(r.grid_w1[0], r.grid_w1[-1])
        ax.set_ylim(r.grid_w2[0], r.grid_w2[-1])
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
        ax.set_title(f"J + $\\lambda$ {'$|w|_1$' if name == 'L1' else '$|w|_2^2$'}", fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{r.problem.replace('_', ' ')} with two weights: grey J, coloured "
                 "J + penalty, black the J contour through the regularized optimum", fontsize=9)
    return {"landscape": fig}


def _circle(radius):
    from matplotlib.patches import Circle
    return Circle((0, 0), radius, color="#2ca02c", alpha=0.15)


# ---- weight decay -------------------------------------------------------------------


def plot_weight_decay(r):
    """Figures of a :class:`~initreg.experiments.WeightDecayResult`.

    ``weight_decay_grid``: test error over learning rate x strength, one
    panel per method, the best strength of each learning rate marked and
    the slope of their line in the title; ``adam_l1``: for the three ways of
    applying L1 under Adam, the fraction of weights exactly 0 and the test
    accuracy against the L1 strength.
    """
    figs = {}
    n = len(r.methods)
    fig, axes = _figure(1, n, width=3.3, height=3.2)
    mean = np.nanmean(r.test_error, axis=-1)
    vmin, vmax = np.nanmin(mean), min(np.nanmax(mean), 3 * np.nanmin(mean) + 0.05)
    best = r.best
    for i, m in enumerate(r.methods):
        ax = axes[0, i]
        im = ax.imshow(mean[i], origin="lower", cmap="viridis_r", vmin=vmin, vmax=vmax,
                       aspect="auto")
        li, si = best[m]
        ax.plot(si, li, "*", color="#d62728", ms=14, mec="w")
        centre, slope = r.valley(m)
        ax.plot(np.interp(np.log10(centre), np.log10(r.strengths), np.arange(len(r.strengths))),
                range(len(r.lrs)), "w--", lw=1)
        scale = r.adam_lr_scale if m.startswith("adam") else 1.0
        ax.set_xticks(range(len(r.strengths)), [f"{v:g}" for v in r.strengths], fontsize=7,
                      rotation=60)
        ax.set_yticks(range(len(r.lrs)), [f"{v * scale:g}" for v in r.lrs], fontsize=7)
        ax.set_title(f"{r.title(m)}: slope {slope:+.2f}", fontsize=9)
        ax.set_xlabel("$\\lambda$: decay per step" if m in ("sgdw", "adamw")
                      else "$\\lambda$: l2", fontsize=8)
        if i == 0:
            ax.set_ylabel("learning rate")
    fig.colorbar(im, ax=axes[0, -1], label="test error")
    fig.suptitle(f"Test error on {r.dataset} ({r.n_train} training samples): the best cell "
                 "(*), the best strength per learning rate where regularization helps (--)",
                 fontsize=10)
    figs["weight_decay_grid"] = fig

    fig, axes = _figure(1, 2, width=4.4, height=3.2)
    for j, mode in enumerate(r.l1_modes):
        _band(axes[0, 0], r.l1s, r.l1_zero_fraction[j].T, f"C{j}", mode, marker="o")
        _band(axes[0, 1], r.l1s, r.l1_test_acc[j].T, f"C{j}", mode, marker="o")
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel("$\\lambda_1$")
    axes[0, 0].set_ylabel("fraction of weights exactly 0")
    axes[0, 1].set_ylabel("test accuracy")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"L1 under Adam (lr {r.l1_lr:g}): three ways to apply it", fontsize=10)
    figs["adam_l1"] = fig
    return figs


# ---- isometry, trainability, deep linear networks ------------------------------------

WEIGHT_COLORS = {"gaussian": "#1f77b4", "orthogonal": "#d62728"}


def plot_isometry(r):
    """Figures of an :class:`~initreg.experiments.IsometryResult`.

    ``isometry_spectra``: histograms of the Jacobian's singular values
    (log10) at initialization, per activation and depth, Gaussian against
    orthogonal weights; ``isometry_moments``: the mean and variance of
    their squares against depth.
    """
    figs = {}
    centers = 0.5 * (r.log10_edges[1:] + r.log10_edges[:-1])
    shown = sorted({0, len(r.depths) // 2, len(r.depths) - 1})
    fig, axes = _figure(len(r.activations), len(shown), width=3.0, height=2.4, sharex=True)
    for i, act in enumerate(r.activations):
        for col, k in enumerate(shown):
            ax = axes[i, col]
            for j, w in enumerate(r.weights):
                ax.plot(centers, r.hist[i, j, k], color=WEIGHT_COLORS.get(w, f"C{j}"), label=w)
            ax.set_title(f"{act}, depth {r.depths[k]}", fontsize=9)
            if col == 0:
                ax.set_ylabel("density")
            if i == len(r.activations) - 1:
                ax.set_xlabel(f"log$_{{10}}$ singular value (the left bin: "
                              f"$\\leq 10^{{{r.log10_edges[0]:g}}}$)", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Singular values of the input-output Jacobian at initialization "
                 f"(width {r.width})", fontsize=10)
    figs["isometry_spectra"] = fig

    floor = 1e-4  # variances below it (the orthogonal linear network's 0) drawn on it
    fig, axes = _figure(1, len(r.activations), width=3.6, height=3.2)
    for i, act in enumerate(r.activations):
        ax = axes[0, i]
        for j, w in enumerate(r.weights):
            c = WEIGHT_COLORS.get(w, f"C{j}")
            ax.plot(r.depths, r.sq_mean[i, j], "o-", color=c, ms=3, label=f"{w}: mean")
            ax.plot(r.depths, np.maximum(r.sq_var[i, j], floor), "s--", color=c, ms=3,
                    label=f"{w}: variance")
        if act == "identity":
            ax.plot(r.depths, r.depths, "k:", lw=1, label="variance = depth (theory)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(floor / 2, None)
        ax.set_xlabel("depth")
        ax.set_title(f"{act} (gain {r.gains[i]:.3g})", fontsize=9)
    axes[0, 0].set_ylabel("squared singular values")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(f"Mean and variance of the squared singular values against depth (width "
                 f"{r.width}; a variance below {floor:g} is drawn at {floor:g})", fontsize=10)
    figs["isometry_moments"] = fig
    return figs


def _log_edges(values):
    """Cell edges around log-spaced values: geometric midpoints, and the
    ends one half-step out."""
    v = np.log(np.asarray(values, dtype=np.float64))
    if v.size == 1:
        return np.exp(np.r_[v - 0.5, v + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.exp(np.r_[2 * v[0] - mid[0], mid, 2 * v[-1] - mid[-1]])


def plot_trainability(r):
    """Figure of a :class:`~initreg.experiments.TrainabilityResult`:
    ``trainability``, test accuracy over sigma_w^2 x depth, with the
    mean-field 6 xi_c line and the critical point drawn over it."""
    mean = np.nanmean(r.accuracy, axis=-1)
    fig, axes = _figure(1, 1, width=6.0, height=4.2)
    ax = axes[0, 0]
    x_edges, y_edges = _log_edges(r.s_w2), _log_edges(r.depths)
    im = ax.pcolormesh(x_edges, y_edges, mean.T, cmap="viridis", vmin=0, vmax=1)
    ax.plot(r.curve_s_w2, 6 * np.asarray(r.curve_xi_c), "w-", lw=2, label="6 $\\xi_c$ (mean field)")
    ax.axvline(r.critical_s_w2, color="w", ls=":", lw=1, label="$\\chi_1$ = 1")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.set_yticks(r.depths, [str(d) for d in r.depths])
    ax.minorticks_off()
    ax.set_xlabel("$\\sigma_w^2$")
    ax.set_ylabel("depth (hidden layers)")
    ax.legend(fontsize=8, loc="lower right")
    fig.colorbar(im, ax=ax, label=f"test accuracy after {r.epochs} epochs")
    fig.suptitle(f"Trainability of {r.activation} networks of width {r.width} on {r.dataset} "
                 f"($\\sigma_b^2$ = {r.s_b2:g})", fontsize=10)
    return {"trainability": fig}


def plot_deep_linear(r):
    """Figure of a :class:`~initreg.experiments.DeepLinearResult`:
    ``deep_linear``, epochs to the loss threshold against depth, orthogonal
    against Gaussian weights, and the training loss per epoch at the largest
    depth."""
    fig, axes = _figure(1, 2, width=4.4, height=3.4)
    epochs = r.epochs_to_threshold
    deepest = len(r.depths) - 1
    for j, w in enumerate(r.weights):
        c = WEIGHT_COLORS.get(w, f"C{j}")
        _band(axes[0, 0], r.depths, epochs[j].T, c, w, marker="o")
        missed = np.isnan(epochs[j]).any(axis=1)
        axes[0, 0].plot(np.asarray(r.depths)[missed], np.full(missed.sum(), r.max_epochs), "x",
                        color=c, ms=7, label=f"{w}: not reached" if missed.any() else None)
        # the deepest network's curves at the learning rate that went lowest
        curves = r.loss[j, deepest]  # [lr, seed, epoch]; NaN where a run had stopped
        final = np.min(np.where(np.isnan(curves), np.inf, curves), axis=-1)
        for s_ in range(final.shape[1]):
            k = int(np.argmin(final[:, s_]))
            axes[0, 1].plot(np.arange(1, r.max_epochs + 1), r.loss[j, deepest, k, s_], color=c,
                            lw=1, label=f"{w} (lr {r.lrs[k]:g})" if s_ == 0 else None)
    axes[0, 0].set_xscale("log")
    axes[0, 0].set_xticks(r.depths, [str(d) for d in r.depths])
    axes[0, 0].minorticks_off()
    axes[0, 0].set_xlabel("depth (weight layers)")
    axes[0, 0].set_ylabel(f"epochs to the loss threshold (best lr; x: not in {r.max_epochs})",
                          fontsize=8)
    axes[0, 1].axhline(r.threshold, color="k", lw=0.7, ls=":", label="threshold")
    axes[0, 1].set_yscale("log")
    axes[0, 1].set_xlabel("epoch")
    axes[0, 1].set_ylabel(f"training loss, depth {r.depths[-1]}")
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].legend(fontsize=7)
    fig.suptitle(f"Deep linear networks on {r.dataset}: learning time against depth "
                 "(Saxe et al. 2014, Fig. 6A)", fontsize=10)
    return {"deep_linear": fig}


# ---- sweeps -------------------------------------------------------------------------

def plot_sweep(records, keys, metric):
    """Summary figures of a grid sweep: the metric against a numeric parameter
    (log scale for penalties and step sizes), one line per value of another,
    and a heatmap over the first two varying parameters.  Means over seeds
    and over the parameters not shown."""
    values = {k: _distinct([_hashable(r[k]) for r in records]) for k in keys}
    varying = [k for k in keys if len(values[k]) > 1]
    figs = {}

    def points(**where):
        return [v for r in records
                if all(_hashable(r[k]) == want for k, want in where.items())
                for v in [_value(r, metric)] if v is not None]

    numeric = [k for k in varying if all(_is_number(v) for v in values[k])]
    if numeric:
        x = next((k for k in ("l1", "l2", "lr") if k in numeric), numeric[0])
        others = [k for k in varying if k != x]
        line = next((k for k in ("init", "activation") if k in others),
                    others[0] if others else None)
        fig, axes = _figure(1, 1, width=5.2, height=3.8)
        ax = axes[0, 0]
        for i, lv in enumerate(values[line] if line else [None]):
            xs, ys, lo, hi = [], [], [], []
            for xv in values[x]:
                pts = points(**{x: xv}, **({line: lv} if line else {}))
                if pts:
                    xs.append(float(xv)), ys.append(np.mean(pts))
                    lo.append(np.min(pts)), hi.append(np.max(pts))
            label = None if line is None else f"{line}={_label(lv)}"
            color = _color(lv, i) if line == "init" else f"C{i % 10}"
            ax.plot(xs, ys, "o-", color=color, label=label, ms=3)
            ax.fill_between(xs, lo, hi, color=color, alpha=0.15, lw=0)
        if x in ("l1", "l2", "lr") and all(float(v) > 0 for v in values[x]):
            ax.set_xscale("log")
        elif x in ("l1", "l2") and any(float(v) > 0 for v in values[x]):
            ax.set_xscale("symlog", linthresh=min(float(v) for v in values[x] if float(v) > 0))
        ax.set_xlabel(x)
        ax.set_ylabel(f"{metric} (mean over seeds; band: min..max)")
        if line:
            ax.legend(fontsize=8)
        figs[f"{metric}_vs_{x}"] = fig
    if len(varying) >= 2:
        a, b = varying[:2]
        grid = np.full((len(values[a]), len(values[b])), np.nan)
        for i, av in enumerate(values[a]):
            for j, bv in enumerate(values[b]):
                pts = points(**{a: av, b: bv})
                if pts:
                    grid[i, j] = np.mean(pts)
        fig, axes = _figure(1, 1, width=1.2 + 0.9 * len(values[b]),
                            height=1.2 + 0.6 * len(values[a]))
        ax = axes[0, 0]
        im = ax.imshow(grid, cmap="viridis", aspect="auto")
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.3g}", ha="center", va="center", fontsize=7,
                            color="w" if grid[i, j] < np.nanmean(grid) else "k")
        ax.set_xticks(range(len(values[b])), [_label(v) for v in values[b]], fontsize=7,
                      rotation=45)
        ax.set_yticks(range(len(values[a])), [_label(v) for v in values[a]], fontsize=7)
        ax.set_xlabel(b)
        ax.set_ylabel(a)
        fig.colorbar(im, ax=ax, label=metric)
        figs[f"heatmap_{a}_{b}"] = fig
    return figs


def _hashable(value):
    """A grid value as a dict key: lists (from JSON) become tuples."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def _distinct(values):
    """The distinct values, numbers in numeric order before everything else
    (in order of their text)."""
    unique = list(dict.fromkeys(values))
    return sorted(unique, key=lambda v: (0, float(v), "") if _is_number(v) else (1, 0.0, str(v)))


def _label(value):
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _value(record, metric):
    res = record.get("result")
    if isinstance(res, dict) and res.get(metric) is not None:
        return float(res[metric])
    return None
