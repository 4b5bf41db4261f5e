"""The parts of :meth:`initreg.MLP.fit`: checking its arguments
(:func:`plan`), the order of an epoch's samples (:func:`epoch_order`), one
epoch in the compiled core (:func:`run_epoch`, which returns an
:class:`EpochRecord`), and the snapshot of model and optimizer that an epoch
which diverges or is interrupted rolls back to (:class:`Snapshot`,
:func:`deferred_interrupts`).  The loop itself, with its callbacks, is
``MLP.fit``.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
import warnings
from typing import NamedTuple

import numpy as np

from initreg._core import _network
from initreg._validation import check_bool, check_choice, check_int, check_memory
from initreg.history import HIST_EDGES, SMALL_WEIGHT
from initreg.optim import SGD, Optimizer

#: The spawn key of the shuffling stream: SeedSequence(seed, spawn_key=(key,
#: epoch)) gives epoch ``epoch``'s order, apart from the layers' streams.
SHUFFLE_KEY = 0x5348

#: What ``fit(on_divergence=...)`` accepts.
ON_DIVERGENCE = ("warn", "raise", "ignore")


class FitPlan(NamedTuple):
    """Every argument of a fit, checked and converted."""

    X: np.ndarray
    t: np.ndarray
    epochs: int
    batch_size: int
    optimizer: Optimizer
    validation: tuple | None
    shuffle: bool
    record: bool
    progress: bool
    shuffle_seed: int
    callbacks: list
    on_divergence: str


class EpochRecord(NamedTuple):
    """What one epoch of training produced."""

    status: int                # _network.OK, DIVERGED or INTERRUPTED
    values: dict               # the epoch's scalars, by History field
    batch_losses: np.ndarray   # the loss of every completed step
    layer_stats: dict | None   # with record=True
    weight_hist: np.ndarray | None
    pending: BaseException | None  # what a signal handler raised


def plan(model, X, y, *, epochs, batch_size, optimizer, validation_data, shuffle, record,
         progress, seed, callbacks, on_divergence):
    """Check and convert every argument of ``model.fit``; nothing changes."""
    X, t = model._check_Xy(X, y)
    n = X.shape[0]
    epochs = check_int(epochs, "epochs", low=0)
    batch_size = min(check_int(batch_size, "batch_size", low=1), n)
    optimizer = SGD() if optimizer is None else model._check_optimizer(optimizer)
    optimizer._check_trains(model)
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        Xv = model._check_X(validation_data[0], "validation_data[0]")
        validation = (Xv, model._check_y(validation_data[1], Xv.shape[0], "validation_data[1]"))
    callbacks = list(callbacks or ())
    if not all(callable(cb) for cb in callbacks):
        raise TypeError("callbacks must be callables cb(model, history, epoch)")
    if seed is not None:
        check_int(seed, "seed", low=0)
    check_choice(on_divergence, "on_divergence", ON_DIVERGENCE)
    shuffle, record, progress = (check_bool(flag, name) for name, flag in
                                 (("shuffle", shuffle), ("record", record),
                                  ("progress", progress)))
    model._check_workspace(batch_size)
    # the sample order, and the epoch snapshot: parameters and up to three
    # optimizer arrays of the same size
    check_memory(n * 8 + 4 * model.parameters.nbytes,
                 f"training {n} rows (the epoch's sample order and a snapshot of "
                 f"{model.n_params} parameters and their optimizer state)")
    return FitPlan(X, t, epochs, batch_size, optimizer, validation, shuffle, record, progress,
                   model.seed if seed is None else int(seed), callbacks, on_divergence)


def epoch_order(seed, epoch, n, shuffle):
    """The sample order of the model's ``epoch``-th epoch: a permutation
    drawn from (seed, epoch) alone, so that training resumed from a
    checkpoint sees the same orders as one uninterrupted run."""
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    seq = np.random.SeedSequence(seed, spawn_key=(SHUFFLE_KEY, epoch))
    return np.random.default_rng(seq).permutation(n).astype(np.int64)


def run_epoch(model, plan, state, lr):
    """One epoch of training with learning rate ``lr``, as one compiled
    call; the per-epoch values are computed only when the epoch completed."""
    engine = model._net
    n = plan.X.shape[0]
    order = epoch_order(plan.shuffle_seed, model.epochs_trained, n, plan.shuffle)
    n_batches = -(-n // plan.batch_size)
    stats = np.zeros((model.n_layers, len(_network.STAT_COLUMNS))) if plan.record else None
    losses = np.empty(n_batches)
    state.lr = lr
    start = time.perf_counter()
    run = engine.train_epoch(plan.X, plan.t, order, plan.batch_size, state, stats=stats,
                             batch_losses=losses,
                             check_signals=threading.current_thread() is threading.main_thread())
    elapsed = time.perf_counter() - start
    if run.status != _network.OK:
        return EpochRecord(run.status, {}, losses[:run.steps], None, None, run.pending)
    values = epoch_values(model, plan, plan.optimizer.hyperparameters(), run.loss_sum,
                          run.correct, run.seen, lr, elapsed)
    layer_stats = weight_hist = None
    if plan.record:
        layer_stats = _layer_stats(model, stats, run.seen, run.steps)
        weight_hist = _weight_histograms(model)
    return EpochRecord(run.status, values, losses, layer_stats, weight_hist, None)


def epoch_values(model, plan, hyper, loss_sum, correct, seen, lr, elapsed):
    """The per-epoch scalars a History records for ``model`` after an epoch
    that summed ``loss_sum`` and ``correct`` over ``seen`` samples, with
    the optimizer's hyperparameters ``hyper``."""
    engine = model._net
    abs_sum, sq_sum, zeros = engine.penalty(0.0, 0.0)  # one pass over the weights
    if hyper["regularize_bias"]:
        abs_sum, sq_sum, _ = engine.penalty(0.0, 0.0, True)
    per_sample = model.layer_sizes[-1] if model.output == "sigmoid" else 1
    values = {"loss": loss_sum / seen,
              "penalty": hyper["l1"] * abs_sum + hyper["l2"] * sq_sum,
              "accuracy": np.nan if model.output == "linear"
              else correct / (seen * per_sample),
              "lr": lr, "epoch_time": elapsed, "sparsity": zeros / engine.n_weights}
    if plan.validation is not None:
        Xv, tv = plan.validation
        val_loss, val_correct = engine.evaluate(Xv, tv)
        values["val_loss"] = val_loss
        values["val_accuracy"] = np.nan if model.output == "linear" else val_correct / tv.size
    return values


def report_divergence(message, on_divergence, stacklevel):
    """What fit does when training diverged: raise, warn or nothing."""
    if on_divergence == "raise":
        raise FloatingPointError(message)
    if on_divergence == "warn":
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel + 1)


class Snapshot(NamedTuple):
    """Model and optimizer as they were at the start of an epoch."""

    parameters: np.ndarray
    epochs_trained: int
    optimizer_epoch: int
    steps: int
    cum_u: float
    buffers: dict

    @classmethod
    def take(cls, model, optimizer, state):
        return cls(model.parameters.copy(), model.epochs_trained, optimizer.epoch,
                   int(state.steps), float(state.cum_u),
                   {k: v.copy() for k, v in state.buffers.items()})

    def restore(self, model, optimizer, state):
        """Put everything back (the caller holds both guards)."""
        model.parameters[...] = self.parameters
        model._epochs_trained = self.epochs_trained
        optimizer.epoch = self.optimizer_epoch
        state.steps, state.cum_u = self.steps, self.cum_u
        for name, values in state.buffers.items():
            if name in self.buffers:
                values[...] = self.buffers[name]
            else:  # created during the epoch (a setting changed by a callback)
                values[...] = 0


@contextlib.contextmanager
def deferred_interrupts():
    """Hold Ctrl-C (SIGINT) until the block is done, then deliver it: the
    block -- recording an epoch, or putting a model back -- is never left
    half done.  Outside the main thread, where Python delivers no signal,
    the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, received[0])
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt


def _std(total, total_sq, count):
    mean = total / count
    return float(np.sqrt(max(total_sq / count - mean * mean, 0.0)))


def _layer_stats(model, sums, seen, steps):
    """Per-layer statistics of one epoch from the engine's sums."""
    out = {k: np.zeros(model.n_layers) for k in
           ("act_mean", "act_std", "grad_std", "weight_grad_std", "weight_std",
            "weight_norm", "zero_fraction", "small_fraction")}
    for l, w in enumerate(model.weights):
        fan_out = w.shape[1]
        n_act, n_w = seen * fan_out, max(steps, 1) * w.size
        a_sum, a_sq, d_sum, d_sq, g_sum, g_sq = sums[l]
        out["act_mean"][l] = a_sum / n_act
        out["act_std"][l] = _std(a_sum, a_sq, n_act)
        out["grad_std"][l] = _std(d_sum, d_sq, n_act)
        out["weight_grad_std"][l] = _std(g_sum, g_sq, n_w)
        w64 = w.astype(np.float64)
        out["weight_std"][l] = w64.std()
        out["weight_norm"][l] = np.sqrt((w64 * w64).sum())
        out["zero_fraction"][l] = np.mean(w == 0)
        out["small_fraction"][l] = np.mean(np.abs(w) < SMALL_WEIGHT)
    return out


def _weight_histograms(model):
    lo, hi = HIST_EDGES[0], HIST_EDGES[-1]
    return np.stack([np.histogram(np.clip(w, lo, hi), bins=HIST_EDGES)[0]
                     for w in model.weights])
