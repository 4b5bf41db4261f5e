"""``initreg report``: run the experiments and write what they show.

The output directory receives, as each experiment finishes (so a failure
keeps what was done):

- ``figures/*.png``: every figure;
- ``results.json``: every number behind every figure (each result's
  ``to_dict()``), its summary, timings and any error;
- ``report.html``: one self-contained page (figures embedded), each section
  opening with sentences whose numbers come from this run.
"""
from __future__ import annotations

import base64
import datetime
import html
import json
import platform
import time
import traceback
from dataclasses import dataclass

import numpy as np

import initreg
from initreg import experiments as ex
from initreg._files import atomic_write, prepare_output
from initreg._progress import Progress
from initreg._serialize import to_jsonable

__all__ = ["run_report", "BadDataset", "EXPERIMENTS", "outputs"]

def outputs():
    """What the report writes in its directory (and --force replaces):
    nothing else there is touched."""
    return ("report.html", "results.json",
            *(f"figures/{s.name}-*.png" for s in EXPERIMENTS))


@dataclass
class Section:
    """One experiment of the report: how to run it and how to tell it."""

    name: str
    title: str
    run: object      # (data_spec, seed, quick) -> Result
    describe: object  # Result -> str (the section's opening sentences)
    figures: tuple = ()  # name prefixes of the result's figures to show; () = all

    def wants(self, figure_name):
        return not self.figures or figure_name.startswith(self.figures)


def _pct(x):
    return f"{100 * x:.1f}%"


#: The report's SGD step: larger than the library's default so that its short
#: runs (8 to 40 epochs) converge; the depth study's is smaller, so that
#: 30-layer networks do not diverge (the section is about initialization).
REPORT_LR = 0.05
DEPTH_LR = 0.002


# ---- the sections ---------------------------------------------------------------

def _signal_tanh(dataset, seed, quick):
    return ex.signal_propagation(depth=10, width=256, activation="tanh",
                                 inits=("small", "xavier", "glorot", "he", "large"),
                                 batch=256 if quick else 512, seed=seed,
                                 n_seeds=1 if quick else 3)


def _describe_signal_tanh(r):
    s = r.summary()
    x, small, large = s["xavier"], s["small"], s["large"]
    i_large = r.inits.index("large")
    grad_ratio = np.mean(r.grad_std[i_large, :, 0] / r.grad_std[i_large, :, -1])
    return (f"A batch of {r.batch} standard-normal inputs passes forward and backward through "
            f"{r.depth} tanh layers of {r.width} units at initialization. With the Xavier init "
            f"N(0, 1/n) of the deeplearning.ai notes the activation std goes from {x['first_act_std']:.2f} in "
            f"layer 1 to {x['last_act_std']:.2f} in layer {r.depth}, as the mean-field "
            f"recursion predicts ({x['mf_last_act_std']:.2f}), while the linear derivation's "
            f"prediction stays at about 1. With N(0, 0.01²) the signal collapses to "
            f"{small['last_act_std']:.1e} by layer {r.depth}; with N(0, 1), "
            f"{_pct(large['last_saturated'])} of the last layer's units are saturated "
            f"(|a| > 0.98) and the back-propagated gradient is {grad_ratio:.0f} times larger "
            f"at layer 1 than at layer {r.depth}.")


def _signal_relu(dataset, seed, quick):
    return ex.signal_propagation(depth=30, width=256, activation="relu", inits=("xavier", "he"),
                                 batch=256 if quick else 512, seed=seed,
                                 n_seeds=1 if quick else 3)


def _describe_signal_relu(r):
    xi, hi = r.inits.index("xavier"), r.inits.index("he")
    m = r.act_second_moment
    return (f"In a {r.depth}-layer ReLU network of width {r.width}, He initialization "
            f"N(0, 2/n) keeps the second moment of the activations at "
            f"{np.mean(m[hi, :, -1]):.2f} after {r.depth} layers (layer 1: "
            f"{np.mean(m[hi, :, 0]):.2f}), while Xavier's N(0, 1/n) halves it at every layer, "
            f"to {np.mean(m[xi, :, -1]):.1e} (layer 1: {np.mean(m[xi, :, 0]):.2f}) — ReLU "
            f"zeroes half of its inputs, which is the factor 2 of He et al. (2015). "
            f"Mean field predicts the He curve flat and the Xavier curve falling by 2 per layer.")


def _init_curves(dataset, seed, quick):
    return ex.initialization(dataset, activation="tanh", hidden=(64, 64, 64), lr=REPORT_LR,
                             epochs=8 if quick else 30, seed=seed, n_seeds=1 if quick else 3)


def _describe_init_curves(r):
    s = r.summary()
    accs = ", ".join(f"{k} {_pct(v['test_acc'])}" for k, v in s.items())
    zeros = s.get("zeros")
    symmetry = ""
    if zeros is not None:
        symmetry = (f"Zero init never breaks the symmetry: after training every hidden layer "
                    f"still has {max(zeros['distinct_units'])} distinct unit"
                    f"{'s' if max(zeros['distinct_units']) > 1 else ''} (the others have "
                    f"{min(v['distinct_units'][0] for k, v in s.items() if k != 'zeros')}) "
                    f"and its loss stays at {zeros['final_loss']:.2f}. ")
    return (f"The same {r.activation} network {r.layer_sizes} is trained for {r.epochs} epochs "
            f"on {r.dataset} from {len(r.inits)} initializations ({len(r.seeds)} seed"
            f"{'s' if len(r.seeds) > 1 else ''} each; bands span the seeds). {symmetry}"
            f"Final test accuracy: {accs}. The per-layer panels show how the activation and "
            f"gradient scales evolve during training.")


def _init_boundaries(dataset, seed, quick):
    data = ex.load_dataset(dataset, seed=seed)
    spec = data if data.n_features == 2 else "spirals"
    return ex.initialization(spec, activation="tanh", hidden=(64, 64), lr=REPORT_LR,
                             epochs=40 if quick else 150, seed=seed, n_seeds=1)


def _describe_init_boundaries(r):
    accs = ", ".join(f"{k} {_pct(v['test_acc'])}" for k, v in r.summary().items())
    return (f"The decision boundaries a {r.activation} network {r.layer_sizes} draws on the "
            f"2-D {r.dataset} set after {r.epochs} epochs, one panel per initialization "
            f"(test accuracy: {accs}). A zero-initialized network can only draw what a "
            f"single hidden unit per layer can.")


def _depth(dataset, seed, quick):
    return ex.depth_study(dataset, depths=(5, 30) if quick else (2, 5, 10, 20, 30), lr=DEPTH_LR,
                          epochs=10 if quick else 30, seed=seed, n_seeds=1 if quick else 2)


def _describe_depth(r):
    s = r.summary()
    deep, shallow = max(r.depths), min(r.depths)
    parts = []
    for act in r.activations:
        row = s[act]
        parts.append(f"with {act}, at {deep} hidden layers Xavier reaches "
                     f"{_pct(row['xavier'][deep])} and He {_pct(row['he'][deep])} "
                     f"(at {shallow}: {_pct(row['xavier'][shallow])} and "
                     f"{_pct(row['he'][shallow])})"
                     if "xavier" in row and "he" in row else f"{act}: {row}")
    return (f"Networks of {', '.join(map(str, r.depths))} hidden layers of width {r.width} "
            f"trained for {r.epochs} epochs on {r.dataset}: " + "; ".join(parts) +
            ". He et al. (2015) saw the same: a deep ReLU network with Xavier's variance stalls, "
            "with twice the variance it trains.")


def _regularization(dataset, seed, quick):
    return ex.regularization(dataset, lambdas=(1e-4, 1e-3, 1e-2) if quick
                             else (1e-4, 3e-4, 1e-3, 3e-3, 1e-2), lr=REPORT_LR,
                             epochs=10 if quick else 40, seed=seed, n_seeds=1 if quick else 2)


def _describe_regularization(r):
    li = r.showcase_lambda_index()  # the lambda of the histogram figure
    lam = r.lambdas[li]

    def m(key, pen):
        return float(np.mean(getattr(r, key)[r.penalties.index(pen), li]))

    text = (f"A {r.layer_sizes} ReLU network trained on {r.n_train} {r.dataset} samples for "
            f"{r.epochs} epochs, with no penalty, L1 ({r.l1_mode}), L2 and both, for λ from "
            f"{min(r.lambdas):g} to {max(r.lambdas):g}. ")
    if {"none", "l1", "l2"} <= set(r.penalties):
        text += (f"At λ = {lam:g}, L1 sets {_pct(m('zero_fraction', 'l1'))} of the weights to "
                 f"exactly 0 and L2 {_pct(m('zero_fraction', 'l2'))}; L2 shrinks the weight "
                 f"norm from {m('l2_norm', 'none'):.1f} to {m('l2_norm', 'l2'):.1f} (L1: "
                 f"{m('l2_norm', 'l1'):.1f}). Test accuracy: none {_pct(m('test_acc', 'none'))}, "
                 f"L1 {_pct(m('test_acc', 'l1'))}, L2 {_pct(m('test_acc', 'l2'))}; the "
                 f"train-test gap is {_pct(m('gap', 'none'))} without a penalty and "
                 f"{_pct(m('gap', 'l2'))} with L2.")
    return text


def _landscape(dataset, seed, quick):
    return ex.landscape(seed=seed)


def _describe_landscape(r):
    o, l1, l2 = r.optimum, r.opt_l1, r.opt_l2
    zero = (f"from λ ≈ {r.l1_zero_lambda:.2g} on, one coordinate of the L1 optimum is exactly 0"
            if r.l1_zero_lambda is not None else "the L1 optimum never reaches an axis here")
    return (f"Least squares with two weights on two correlated features: the unregularized "
            f"optimum is ({o[0]:.2f}, {o[1]:.2f}). Adding λ|w|₁ moves the optimum along a path "
            f"that runs into the w₁ axis — {zero}, where the contour of J first touches the "
            f"L1 diamond at a corner; at λ = {r.lam:.2g} it is ({l1[0]:.2f}, {l1[1]:.2f}). "
            f"Adding λ|w|² instead shrinks it towards the origin, to ({l2[0]:.2f}, "
            f"{l2[1]:.2f}) at the same λ, with no coordinate zero: the L2 circle has no corners.")


def _weight_decay(dataset, seed, quick):
    if quick:
        return ex.weight_decay(dataset, lrs=(4e-3, 2e-2, 1e-1), strengths=(1e-4, 3e-3, 3e-2),
                               epochs=20, l1s=(1e-3, 1e-1), seed=seed, n_seeds=1)
    return ex.weight_decay(dataset, seed=seed)


def _describe_weight_decay(r):
    s = r.summary()

    def moves(m):
        slope = s[m]["valley_slope"]
        if not np.isfinite(slope):
            return f"{r.title(m)}: no regularization helped at two learning rates"
        return (f"{r.title(m)} {slope:+.2f} (x{10 ** slope:.2g} per 10x in lr)")

    at_best = ", ".join(f"{r.title(m)} {_pct(s[m]['best_test_error'])} "
                        f"(weight norm {s[m]['weight_norm_at_best']:.1f})" for m in r.methods)
    text = (f"A {r.layer_sizes} ReLU network trained on {r.n_train} {r.dataset} samples for "
            f"{r.epochs} epochs, on a grid of {len(r.lrs)} learning rates x {len(r.strengths)} "
            f"regularization strengths for each method ({len(r.seeds)} seed"
            f"{'s' if len(r.seeds) > 1 else ''}). As in Loshchilov & Hutter 2019, the strength "
            f"is the L2 coefficient for the L2 methods and the decay per step for the "
            f"decoupled ones (weights multiplied by 1 - λ each step, whatever the learning "
            f"rate). For each learning rate where some strength beats "
            f"the weakest by more than two standard errors, the best strength is marked; the "
            f"slope of log(best strength) against log(lr) says how coupled the two are (0: "
            f"independent; -1: the best strength moves with 1/lr): {'; '.join(map(moves, r.methods))}. "
            f"Best test error (and weight norm there): {at_best}. ")
    sparsest = s["l1_sparsest"]
    if sparsest:
        parts = [f"{mode} {_pct(v['zero_fraction'])} (L1 = {v['l1']:g}, "
                 f"{_pct(v['test_acc'])} accuracy)" for mode, v in sparsest.items()]
        text += (f"L1 under Adam: the largest share of weights at exactly 0 while the test "
                 f"accuracy stays within 2 points of the best L1 run's: {', '.join(parts)}. "
                 f"The subgradient form leaves weights oscillating around 0; the proximal "
                 f"forms set them to 0, and thresholding in Adam's metric reaches far more "
                 f"of them at the same L1.")
    return text


def _isometry(dataset, seed, quick):
    if quick:
        return ex.isometry(width=64, depth=16, n_samples=1, seed=seed)
    return ex.isometry(seed=seed)


def _describe_isometry(r):
    s = r.summary()
    deep = r.depths[-1]
    text = (f"Networks of width {r.width} and depth 1 to {deep}, weights Gaussian or "
            f"orthogonal at the critical gain of each activation and biases N(0, "
            f"{r.s_b2:g}), at initialization: the singular values of the input-output "
            f"Jacobian, by LAPACK on {r.n_samples} input{'s' if r.n_samples > 1 else ''} "
            f"({r.seconds:.1f} s). ")
    idx = {a: i for i, a in enumerate(r.activations)}
    w = {name: j for j, name in enumerate(r.weights)}
    if "identity" in idx and {"gaussian", "orthogonal"} <= set(w):
        i = idx["identity"]
        flat = float(np.max(np.abs(np.sqrt(r.sq_mean[i, w["orthogonal"]]) - 1)))
        k = min(range(len(r.depths)), key=lambda k: abs(r.depths[k] - 8))
        text += (f"Linear layers, orthogonal: every squared singular value is 1 at every "
                 f"depth (the spectrum's variance at most {np.max(r.sq_var[i, w['orthogonal']]):.1g}, "
                 f"the mean off 1 by at most {flat:.1g}). Gaussian: the variance of the squared "
                 f"singular values is {r.sq_var[i, w['gaussian'], k]:.2f} at depth "
                 f"{r.depths[k]}, where free probability predicts the depth itself, "
                 f"{r.depths[k]}; at depth {deep} the largest singular value is "
                 f"{s['identity']['gaussian']['max_over_min']:.2g} times the smallest. ")
    if "tanh" in idx and {"gaussian", "orthogonal"} <= set(w):
        t = s["tanh"]
        text += (f"tanh at the critical point (gain {r.gains[idx['tanh']]:.3g}): at depth "
                 f"{deep} the squared singular values have mean "
                 f"{t['orthogonal']['sq_mean']:.2f} and variance "
                 f"{t['orthogonal']['sq_var']:.2f} with orthogonal weights -- dynamical "
                 f"isometry -- against mean {t['gaussian']['sq_mean']:.2f} and variance "
                 f"{t['gaussian']['sq_var']:.3g} with Gaussian ones. ")
    if "relu" in idx and "orthogonal" in w:
        rl = s["relu"]["orthogonal"]
        text += (f"ReLU at gain {r.gains[idx['relu']]:.3g} cannot be isometric: each layer "
                 f"zeroes about half the directions, and at depth {deep} the variance is "
                 f"{rl['sq_var']:.3g} even with orthogonal weights.")
    return text


def _trainability(dataset, seed, quick):
    if quick:
        return ex.trainability(dataset, depths=(4, 16, 64), width=64, epochs=2,
                               s_w2=np.geomspace(0.5, 6.0, 7), seed=seed)
    return ex.trainability(dataset, seed=seed)


def _describe_trainability(r):
    c = r.counts()
    return (f"{r.activation} networks of width {r.width} and depth {r.depths[0]} to "
            f"{r.depths[-1]}, weights N(0, σ_w²/fan_in) for {len(r.s_w2)} values of σ_w² and "
            f"biases N(0, {r.s_b2:g}), trained {r.epochs} epochs on {r.dataset}. Mean-field "
            f"theory puts the critical point (χ₁ = 1) at σ_w² = {r.critical_s_w2:.3f}, where "
            f"the depth scale ξ_c diverges; a network is predicted to train when it is "
            f"shallower than 6 ξ_c (Schoenholz et al. 2017). Of the {c['beyond_curve']} cells "
            f"deeper than 6 ξ_c, {c['beyond_curve_trained']} reached {_pct(r.trains)} test "
            f"accuracy; of the {c['below_curve']} cells below the curve, "
            f"{c['below_curve_failed']} did not.")


def _deep_linear(dataset, seed, quick):
    if quick:
        return ex.deep_linear(dataset, depths=(1, 8, 64), lrs=(0.1,), max_epochs=30,
                              n_seeds=1, seed=seed)
    return ex.deep_linear(dataset, seed=seed)


def _describe_deep_linear(r):
    s = r.summary()
    text = (f"Linear networks of depth {r.depths[0]} to {r.depths[-1]} (hidden width "
            f"{r.width}) learn the least-squares map from {r.dataset} features to one-hot "
            f"labels, each at its best of the learning rates {', '.join(map(str, r.lrs))}, "
            f"until the training loss has come {_pct(1 - r.tolerance)} of the way from that "
            f"of predicting the mean to the least-squares optimum ({r.optimum:.4f}). ")
    parts = []
    for w in r.weights:
        reached = [(d, v["epochs"]) for d, v in s[w].items() if v["epochs"] is not None]
        failed = [d for d, v in s[w].items() if v["epochs"] is None]
        part = f"{w} weights took "
        part += (f"{min(e for _, e in reached):.0f} to {max(e for _, e in reached):.0f} epochs "
                 f"at depths {', '.join(str(d) for d, _ in reached)}" if reached
                 else "longer than the limit at every depth")
        if failed:
            part += (f", and did not get there in {r.max_epochs} epochs at depth"
                     f"{'s' if len(failed) > 1 else ''} {', '.join(map(str, failed))}")
        parts.append(part)
    return text + "; ".join(parts) + " (Saxe et al. 2014: from orthogonal weights the " \
        "learning time does not grow with depth)."


EXPERIMENTS = [
    Section("signal_tanh", "Signal propagation at initialization (tanh)", _signal_tanh,
            _describe_signal_tanh),
    Section("signal_relu", "Signal propagation at initialization (ReLU, 30 layers)",
            _signal_relu, _describe_signal_relu),
    Section("initialization", "Training from each initialization", _init_curves,
            _describe_init_curves),
    Section("boundaries", "Decision boundaries", _init_boundaries, _describe_init_boundaries,
            figures=("init_boundaries",)),
    Section("depth", "Depth: Xavier vs He", _depth, _describe_depth),
    Section("regularization", "L1 and L2: what they do to the weights", _regularization,
            _describe_regularization),
    Section("landscape", "The two-parameter picture", _landscape, _describe_landscape),
    Section("weight_decay", "L2 is not weight decay under Adam", _weight_decay,
            _describe_weight_decay),
    Section("isometry", "Beyond variance: the Jacobian's singular values", _isometry,
            _describe_isometry),
    Section("trainability", "Where deep networks can still train", _trainability,
            _describe_trainability),
    Section("deep_linear", "Deep linear networks: learning time against depth", _deep_linear,
            _describe_deep_linear),
]


# ---- writing ----------------------------------------------------------------------

def _write_json(path, data):
    text = json.dumps(to_jsonable(data), indent=1, allow_nan=False)
    atomic_write(path, lambda f: f.write(text), binary=False)


def _figure_tag(path):
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(path.stem)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(path.name)}'
            f'</figcaption></figure>')


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1180px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.5}h1{margin-bottom:.2em}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}.meta{color:#666;font-size:.9em}
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#888;font-size:.8em}.error{background:#fee;border:1px solid #e99;padding:.6em;
white-space:pre-wrap;font-family:monospace;font-size:.85em}nav li{margin:.1em 0}"""


def _write_html(out, state):
    meta = state["meta"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>initreg report: {html.escape(meta['dataset'])}</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>Initialization and regularization: what they do</h1>",
             f"<p class='meta'>initreg {meta['initreg']} · dataset {html.escape(meta['dataset'])}"
             f" · seed {meta['seed']} · {'quick' if meta['quick'] else 'full'} run · "
             f"{meta['started']} · {html.escape(meta['machine'])}"
             + (f" · {meta['seconds']:.1f} s" if "seconds" in meta else " · running") + "</p>",
             "<nav><ul>"]
    for s in EXPERIMENTS:
        if s.name in state["experiments"] or s.name in state["errors"]:
            parts.append(f"<li><a href='#{s.name}'>{html.escape(s.title)}</a></li>")
    parts.append("</ul></nav>")
    for s in EXPERIMENTS:
        if s.name in state["experiments"]:
            e = state["experiments"][s.name]
            parts.append(f"<section id='{s.name}'><h2>{html.escape(s.title)}</h2>"
                         f"<p>{html.escape(e['text'])}</p>")
            parts += [_figure_tag(out / "figures" / f) for f in e["figures"]]
            parts.append(f"<p class='meta'>{e['seconds']:.1f} s; every number behind these "
                         f"figures is in results.json under experiments.{s.name}.</p></section>")
        elif s.name in state["errors"]:
            parts.append(f"<section id='{s.name}'><h2>{html.escape(s.title)}</h2>"
                         f"<p>This experiment failed; the others are unaffected.</p>"
                         f"<div class='error'>{html.escape(state['errors'][s.name])}</div>"
                         "</section>")
    parts.append("</body></html>")
    atomic_write(out / "report.html", lambda f: f.write("\n".join(parts)), binary=False)


class BadDataset(ValueError):
    """The report's dataset cannot be read (the message says why)."""


def run_report(dataset="digits", *, out="initreg-report", quick=False, seed=0, force=False,
               progress=True, only=None):
    """Run the experiments and write the report into ``out``.

    Parameters
    ----------
    dataset : str
        "digits" (default, embedded), "spirals", "mnist:DIR", "npz:PATH", ...
        (see :func:`initreg.experiments.load_dataset`).
    out : str or path
        The report's directory.
    quick : bool
        Fewer seeds, epochs and depths (seconds instead of a minute or two).
    seed : int
        The first seed of every experiment.
    force : bool
        Overwrite the report files of an existing, non-empty ``out``.
    progress : bool
        A progress bar over the sections.
    only : list of str or None
        Names of the sections to run (default: all of :data:`EXPERIMENTS`).

    Returns
    -------
    path : path
        The report's ``report.html``.
    errors : dict
        Maps a failed section to its traceback; the others are written
        regardless.
    """
    from initreg.plotting import save_figure  # needs matplotlib: fail before any work

    try:  # a bad dataset fails here, before anything is written
        ex.load_dataset(dataset, seed=seed)
    except (ValueError, TypeError, OSError) as exc:
        raise BadDataset(str(exc)) from exc
    out = prepare_output(out, force, outputs())
    (out / "figures").mkdir(exist_ok=True)
    sections = [s for s in EXPERIMENTS if only is None or s.name in only]
    state = {"meta": {"initreg": initreg.__version__, "dataset": str(dataset), "seed": seed,
                      "quick": quick, "started": datetime.datetime.now().isoformat(timespec="seconds"),
                      "machine": f"{platform.machine()}, {platform.python_implementation()} "
                                 f"{platform.python_version()}"},
             "experiments": {}, "errors": {}}
    start = time.perf_counter()
    with Progress(len(sections), "report", enabled=progress, unit="experiment") as bar:
        for s in sections:
            t0 = time.perf_counter()
            try:
                result = s.run(dataset, seed, quick)
                names = []
                for name, fig in result.plot().items():
                    if s.wants(name):
                        names.append(f"{s.name}-{name}.png")  # unique across sections
                        save_figure(fig, out / "figures" / names[-1])
                state["experiments"][s.name] = {
                    "title": s.title, "text": s.describe(result), "figures": names,
                    "seconds": time.perf_counter() - t0,
                    "summary": result.summary() if hasattr(result, "summary") else None,
                    "kind": result.kind, "result": result.to_dict()}
            except OSError:
                raise  # the disk, not the experiment: no point going on
            except Exception:  # noqa: BLE001 - recorded; the other sections go on
                state["errors"][s.name] = traceback.format_exc()
                bar.write(f"report: {s.name} failed (see results.json)")
            _write_json(out / "results.json", state)
            _write_html(out, state)
            bar.update(experiment=s.name)
    state["meta"]["seconds"] = time.perf_counter() - start
    _write_json(out / "results.json", state)
    _write_html(out, state)
    return out / "report.html", state["errors"]
