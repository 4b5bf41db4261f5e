"""Many models of one architecture, trained together: :class:`Ensemble`.

Initialization and regularization experiments are grids -- inits x seeds x
penalties x learning rates -- of small networks.  On a network of a few
dozen weights one training step is all call overhead; an :class:`Ensemble`
trains K such models in one compiled call per epoch, with the models in the
SIMD lanes (see :mod:`initreg._core._ensemble`), and gives back K ordinary
:class:`~initreg.MLP` models and K :class:`~initreg.History` records, the
same as training them one after another.

Each model keeps its own initial weights, its own optimizer and settings
(learning rate, momentum, ``l1``, ``l2``, ``weight_decay``, ``l1_mode``,
SGD or Adam), and its own history; a model that diverges stops alone.
"""
from __future__ import annotations

import contextlib
import threading
import time

import numpy as np

from initreg import _fit
from initreg._core import _ensemble, _network
from initreg._progress import Progress
from initreg._validation import check_choice, check_int, check_memory
from initreg._vocabulary import L1_MODES, OUTPUTS
from initreg._vocabulary import activation as _activation
from initreg.history import History
from initreg.model import MLP
from initreg.optim import SGD, Adam, Optimizer

__all__ = ["Ensemble", "ENGINES", "lanes_pay"]

#: How :meth:`Ensemble.fit` trains: "lanes" (the models in the SIMD lanes of
#: one compiled call), "sequential" (one model after another, each epoch a
#: compiled call per model), or "auto" (lanes where they are faster).
ENGINES = ("auto", "lanes", "sequential")

#: "auto" trains in lanes when no layer has more weights than this (per
#: model, by dtype); above it a model's matrix products are large enough for
#: BLAS to run near peak one model at a time (docs/performance.md, "Many
#: models at once").
LANES_MAX_LAYER = {"float32": 64 * 64, "float64": 32 * 32}
#: Up to this many weights in every layer, half-filled vectors of models are
#: enough for the lanes to pay (see :func:`lanes_pay`).
LANES_HALF_VECTOR_LAYER = 32 * 32

_COL = {name: i for i, name in enumerate(_ensemble.HYPER_COLUMNS)}
_STREAMS = ("shared", "per_model")


class Ensemble:
    """K networks of one architecture, activation, output and dtype, trained
    together.

    Parameters
    ----------
    layer_sizes : sequence of int
        As :class:`~initreg.MLP`'s, the same for every model.
    seeds : sequence of int
        One seed per model (K = its length): model k is
        ``MLP(layer_sizes, init=inits[k], seed=seeds[k], ...)``.
    inits : initializer or sequence of K initializers
        Each model's ``init`` (anything :class:`~initreg.MLP` takes).
    activation, bias_init, output, dtype, leaky_slope
        As :class:`~initreg.MLP`'s, shared by every model.

    Notes
    -----
    Use :meth:`from_models` to train models you already have.  ``ens[k]``
    (or ``ens.models[k]``) is model k, an :class:`~initreg.MLP`: its
    parameters, ``predict``, ``save`` are those of that model, kept current
    after every epoch of :meth:`fit`.
    """

    def __init__(self, layer_sizes, seeds, *, inits="xavier", activation="tanh",
                 bias_init=0.0, output="softmax", dtype="float32", leaky_slope=None):
        if isinstance(seeds, (int, np.integer)) or not hasattr(seeds, "__len__"):
            raise TypeError(f"seeds must be a sequence of one seed per model, got {seeds!r}")
        seeds = list(seeds)
        if not seeds:
            raise ValueError("seeds: an ensemble needs at least one model")
        if isinstance(inits, (list, tuple)):
            if len(inits) != len(seeds):
                raise ValueError(f"inits: one per model ({len(seeds)}), got {len(inits)}")
            inits = list(inits)
        else:
            inits = [inits] * len(seeds)
        extra = {} if leaky_slope is None else {"leaky_slope": leaky_slope}
        models = []
        for k, (init, seed) in enumerate(zip(inits, seeds)):
            try:
                models.append(MLP(layer_sizes, activation=activation, init=init,
                                  bias_init=bias_init, output=output, dtype=dtype, seed=seed,
                                  **extra))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"model {k}: {exc}") from None
        self._set_models(models)

    @classmethod
    def from_models(cls, models):
        """An ensemble that trains these models (the objects themselves: their
        parameters change as it trains).  They must share layer sizes,
        activations, output, dtype and leaky slope."""
        models = list(models)
        if not models:
            raise ValueError("models: an ensemble needs at least one model")
        for k, m in enumerate(models):
            if not isinstance(m, MLP):
                raise TypeError(f"models[{k}] is a {type(m).__name__}, not an initreg.MLP")
        if len({id(m) for m in models}) != len(models):
            raise ValueError("models: the same MLP appears twice")
        ens = cls.__new__(cls)
        ens._set_models(models)
        return ens

    def _set_models(self, models):
        first = models[0]
        key = _architecture(first)
        for k, m in enumerate(models[1:], start=1):
            theirs = _architecture(m)
            if theirs != key:
                what = [n for n, a, b in zip(("layer_sizes", "activations", "output", "dtype",
                                              "leaky_slope"), key, theirs) if a != b]
                raise ValueError(f"model {k} differs from model 0 in {', '.join(what)}: an "
                                 "ensemble trains models of one architecture")
        self._models = models
        self._engine = None
        self._shared = None  # (the optimizer given for all, its per-model copies)
        self.histories = None
        self._busy = threading.Lock()

    # -- the models -----------------------------------------------------------------

    @property
    def models(self):
        """The K models (a new list of the same MLP objects)."""
        return list(self._models)

    def __len__(self):
        return len(self._models)

    def __getitem__(self, k):
        return self._models[k]

    def __iter__(self):
        return iter(self._models)

    def __repr__(self):
        m = self._models[0]
        return (f"Ensemble({len(self)} x {list(m.layer_sizes)}, activation="
                f"{m.activations[0]!r}, output={m.output!r}, dtype={m.dtype.name!r})")

    @property
    def n_models(self):
        return len(self._models)

    def predict(self, X):
        """Each model's predictions, shape (K, n_samples)."""
        return np.stack([m.predict(X) for m in self._models])

    def score(self, X, y):
        """Each model's score (accuracy, or R^2 for a linear output), (K,)."""
        return np.array([m.score(X, y) for m in self._models])

    # -- training -----------------------------------------------------------------

    def fit(self, X, y, *, epochs=10, batch_size=32, optimizer=None, validation_data=None,
            shuffle=True, streams="shared", record=False, progress=False, seed=None,
            on_divergence="warn", engine="auto"):
        """Train every model for ``epochs`` epochs on (X, y).

        Parameters
        ----------
        X, y, epochs, batch_size, validation_data, shuffle, record, progress,
        on_divergence
            As :meth:`initreg.MLP.fit`'s (no callbacks).
        optimizer : Optimizer, sequence of K optimizers, or None
            One per model (``optimizers[k]`` trains model k and keeps its
            state, as with ``MLP.fit``); or one for all, which the ensemble
            copies once per model and keeps (fitting again with the same
            object continues from those copies: :attr:`optimizers`); None is
            a fresh ``SGD()`` per model.  Settings may differ per model, SGD
            and Adam too.
        streams : {"shared", "per_model"}
            "shared": every model sees the same batches in the same order,
            drawn from ``seed`` (None: model 0's seed) as ``MLP.fit`` draws
            them.  "per_model": model k's order is the one
            ``models[k].fit(seed=seed)`` would see (None: its own seed).
        engine : {"auto", "lanes", "sequential"}
            See :data:`ENGINES` and :func:`lanes_pay`; the result is the same
            models either way (to rounding: the two sum products in
            different orders).

        Returns
        -------
        list of History
            One per model, also kept as :attr:`histories`.  A model whose
            loss becomes non-finite goes back to where that epoch started and
            stops; the others go on.  Ctrl-C puts every model back to the
            start of the running epoch and raises KeyboardInterrupt.
        """
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("this ensemble is already training in another thread")
        try:
            return self._fit(X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                             validation_data=validation_data, shuffle=shuffle, streams=streams,
                             record=record, progress=progress, seed=seed,
                             on_divergence=on_divergence, engine=engine)
        finally:
            self._busy.release()

    @property
    def optimizers(self):
        """The per-model copies of the optimizer last given for all models
        (None if none was)."""
        return None if self._shared is None else list(self._shared[1])

    def _fit(self, X, y, *, epochs, batch_size, optimizer, validation_data, shuffle, streams,
             record, progress, seed, on_divergence, engine):
        check_choice(engine, "engine", ENGINES)
        check_choice(streams, "streams", _STREAMS)
        models = self._models
        plan = _fit.plan(models[0], X, y, epochs=epochs, batch_size=batch_size, optimizer=None,
                         validation_data=validation_data, shuffle=shuffle, record=record,
                         progress=progress, seed=None, callbacks=None,
                         on_divergence=on_divergence)
        optimizers = self._optimizers_for(optimizer)
        seeds = self._seeds(seed, streams)
        if engine == "auto":
            m = models[0]
            engine = "lanes" if lanes_pay(m.layer_sizes, len(models), m.dtype) else "sequential"
        histories = [History() for _ in models]
        if plan.validation is not None:
            for h in histories:
                h.val_loss, h.val_accuracy = np.zeros(0), np.zeros(0)
        with contextlib.ExitStack() as held:
            for m in models:  # every model, and its optimizer's state, for this thread
                held.enter_context(m._exclusive())
            states = [opt._bind(m) for opt, m in zip(optimizers, models)]
            for s in states:
                s.acquire()
                held.callback(s.release)
            for m in models:
                m.history_ = None
                m._diverged = False
            run = _LaneRun if engine == "lanes" else _SequentialRun
            try:
                run(self, plan, optimizers, states, seeds, histories).train()
            finally:  # the completed epochs, also after Ctrl-C
                for m, h in zip(models, histories):
                    m.history_ = h
                self.histories = histories
        diverged = [k for k, h in enumerate(histories) if h.diverged]
        if diverged:
            message = (f"models {diverged} diverged (non-finite loss); each is back where "
                       "its diverging epoch started (see History); the others trained on")
            _fit.report_divergence(message, plan.on_divergence, stacklevel=3)
        return histories

    def _optimizers_for(self, optimizer):
        models = self._models
        if optimizer is None:
            return [SGD() for _ in models]
        if isinstance(optimizer, Optimizer):
            if self._shared is None or self._shared[0] is not optimizer:
                copies = [type(optimizer)(**optimizer.hyperparameters()) for _ in models]
                self._shared = (optimizer, copies)
            optimizers = self._shared[1]
        elif isinstance(optimizer, (list, tuple)):
            if len(optimizer) != len(models):
                raise ValueError(f"optimizer: one per model ({len(models)}), got "
                                 f"{len(optimizer)}")
            optimizers = list(optimizer)
        else:
            raise TypeError(f"optimizer must be an initreg optimizer, a list of one per model, "
                            f"or None; got {type(optimizer).__name__}")
        seen = {}
        for k, (opt, m) in enumerate(zip(optimizers, models)):
            if not isinstance(opt, (SGD, Adam)):
                raise TypeError(f"optimizer[{k}] must be an initreg SGD, Adam or AdamW, got "
                                f"{type(opt).__name__}")
            if id(opt) in seen:
                raise ValueError(f"optimizer[{k}] is optimizer[{seen[id(opt)]}]: one optimizer "
                                 "per model (it keeps that model's state)")
            seen[id(opt)] = k
            try:
                m._check_optimizer(opt)._check_trains(m)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"optimizer[{k}] (model {k}): {exc}") from None
        return optimizers

    def _seeds(self, seed, streams):
        """Each model's shuffling seed."""
        models = self._models
        if seed is not None and not isinstance(seed, (list, tuple)):
            seed = [check_int(seed, "seed", low=0)] * len(models)
        if seed is not None:
            if len(seed) != len(models):
                raise ValueError(f"seed: one int, or one per model ({len(models)})")
            return [check_int(s, f"seed[{k}]", low=0) for k, s in enumerate(seed)]
        if streams == "shared":
            return [models[0].seed] * len(models)
        return [m.seed for m in models]


def lanes_pay(layer_sizes, n_models, dtype):
    """Whether ``engine="auto"`` trains these models in lanes.

    Lanes pay when no layer has more weights than ``LANES_MAX_LAYER``
    allows for the dtype (64 x 64 in float32, 32 x 32 in float64) and the
    models fill enough of the vectors of lanes they take -- an empty lane
    costs as much as a model: half of them where every layer has at most
    ``LANES_HALF_VECTOR_LAYER`` weights (32 x 32), all of them otherwise
    (the lanes gain less there).

    Parameters
    ----------
    layer_sizes : sequence of int
        The models' architecture.
    n_models : int
        How many models train together.
    dtype : dtype
        float32 or float64.

    Returns
    -------
    bool
    """
    fill = lanes_fill(layer_sizes, dtype)
    lanes = _ensemble.lanes_for(n_models, np.dtype(dtype) == np.float64)
    return fill is not None and n_models >= fill * lanes


def lanes_fill(layer_sizes, dtype):
    """The share of their lanes the models must fill for :func:`lanes_pay`
    (0.5 or 1), or None where the lanes never pay."""
    sizes = list(layer_sizes)
    weights = max(a * b for a, b in zip(sizes, sizes[1:]))
    if weights > LANES_MAX_LAYER[np.dtype(dtype).name]:
        return None
    return 0.5 if weights <= LANES_HALF_VECTOR_LAYER else 1.0


def _architecture(m):
    return (tuple(m.layer_sizes), tuple(m.activations), m.output, m.dtype.name,
            m.leaky_slope)


class _Run:
    """One call of Ensemble.fit: the per-model bookkeeping both engines share."""

    def __init__(self, ens, plan, optimizers, states, seeds, histories):
        self.models = ens._models
        self.ens = ens
        self.plan = plan
        self.optimizers = optimizers
        self.states = states
        self.seeds = seeds
        self.histories = histories
        self.active = [True] * len(self.models)

    def order(self, k):
        return _fit.epoch_order(self.seeds[k], self.models[k].epochs_trained,
                                self.plan.X.shape[0], self.plan.shuffle)

    def record_epoch(self, k, values, batch_losses, layer_stats, weight_hist):
        """Model k's completed epoch, in its history and counters."""
        m, opt = self.models[k], self.optimizers[k]
        self.histories[k]._append_epoch(values, layer_stats, weight_hist, batch_losses)
        m._epochs_trained += 1
        opt.epoch += 1

    def values(self, k, loss, correct, seen, lr, elapsed):
        """Model k's per-epoch scalars, as MLP.fit records them."""
        return _fit.epoch_values(self.models[k], self.plan,
                                 self.optimizers[k].hyperparameters(), loss, correct, seen,
                                 lr, elapsed)

    def diverge(self, k, epoch):
        self.active[k] = False
        self.histories[k].diverged, self.histories[k].diverged_epoch = True, epoch
        self.models[k]._diverged = True


class _SequentialRun(_Run):
    """Each epoch, one compiled call per model: the models' own engines."""

    def train(self):
        plan = self.plan
        snapshots = [None] * len(self.models)
        try:
            with Progress(plan.epochs, "fit", enabled=plan.progress) as bar:
                for epoch in range(plan.epochs):
                    for k, (m, opt, state) in enumerate(zip(self.models, self.optimizers,
                                                            self.states)):
                        if not self.active[k]:
                            continue
                        snapshots[k] = _fit.Snapshot.take(m, opt, state)
                        mplan = plan._replace(optimizer=opt, shuffle_seed=self.seeds[k])
                        rec = _fit.run_epoch(m, mplan, state, opt.lr_at(opt.epoch))
                        if rec.status == _network.INTERRUPTED:
                            raise rec.pending
                        with _fit.deferred_interrupts():
                            if rec.status == _network.DIVERGED:
                                snapshots[k].restore(m, opt, state)
                                self.diverge(k, epoch)
                            else:
                                self.record_epoch(k, rec.values, rec.batch_losses,
                                                  rec.layer_stats, rec.weight_hist)
                            snapshots[k] = None
                    bar.update()
                    if not any(self.active):
                        break
        except BaseException as exc:
            with _fit.deferred_interrupts():
                for k, snap in enumerate(snapshots):  # the epoch under way, back to its start
                    if snap is not None:
                        snap.restore(self.models[k], self.optimizers[k], self.states[k])
                    self.histories[k].interrupted = isinstance(exc, KeyboardInterrupt)
            raise


class _LaneRun(_Run):
    """Every epoch one compiled call for all the models, in SIMD lanes."""

    def __init__(self, *args):
        super().__init__(*args)
        m = self.models[0]
        K = len(self.models)
        double = m.dtype == np.float64
        ens = self.ens
        if ens._engine is None:
            codes = [_activation(a).code for a in m.activations] + [0]
            ens._engine = _ensemble.EnsembleNetwork(m.layer_sizes, codes,
                                                    [m.leaky_slope] * m.n_layers,
                                                    OUTPUTS[m.output], double, K)
        self.engine = ens._engine
        lanes = self.engine.lanes
        n = self.plan.X.shape[0]
        per_lane = self.engine.n_params * m.dtype.itemsize
        check_memory(lanes * per_lane * 14 + self.engine.workspace_bytes(self.plan.batch_size)
                     + lanes * n * 8,
                     f"{K} models of {m.n_params} parameters in lanes (parameters, gradients, "
                     f"optimizer state, an epoch's snapshot and workspace)")
        # SGD models in the first lanes, Adam models after them
        kinds = [isinstance(opt, Adam) for opt in self.optimizers]
        self.lane = np.argsort(kinds, kind="stable")  # lane j holds model lane[j]
        self.lane_of = np.empty(K, dtype=np.intp)
        self.lane_of[self.lane] = np.arange(K)
        self.engine.set_kinds(K - sum(kinds), sum(kinds))
        hyper = [opt.hyperparameters() for opt in self.optimizers]
        self.l1 = np.array([h["l1"] for h in hyper])
        self.l2 = np.array([h["l2"] for h in hyper])
        self.reg_bias = np.array([h["regularize_bias"] for h in hyper])
        self.seeds_array = np.array(self.seeds)

    # -- packing the models into lanes and back ---------------------------------------

    def _views(self):
        """The parameters and each optimizer buffer as (blocks, n_params, L):
        lane j is ``view[j // L, :, j % L]``."""
        shape = (-1, self.engine.n_params, self.engine.block)
        return (self.engine.params.reshape(shape),
                {name: b.reshape(shape) for name, b in self.engine.buffers.items()})

    def _at(self, j):
        L = self.engine.block
        return (j // L, slice(None), j % L)

    def pack(self):
        params, buffers = self._views()
        hyper = self.engine.hyper
        hyper[...] = 0
        for b in buffers.values():
            b[...] = 0
        for j, k in enumerate(self.lane):
            m, opt, state = self.models[k], self.optimizers[k], self.states[k]
            params[self._at(j)] = m.parameters
            h = opt.hyperparameters()
            adam = isinstance(opt, Adam)
            row = {"kind": float(adam), "lr": opt.lr_at(opt.epoch), "l1": h["l1"],
                   "l2": h["l2"], "weight_decay": h["weight_decay"],
                   "l1_mode": L1_MODES[h["l1_mode"]].code,
                   "regularize_bias": float(h["regularize_bias"]), "steps": state.steps,
                   "cum_u": state.cum_u, "active": 1.0}
            if adam:
                row.update(beta1=h["betas"][0], beta2=h["betas"][1], eps=h["eps"],
                           amsgrad=float(h["amsgrad"]))
                used = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if h["amsgrad"] else [])
            else:
                row.update(momentum=h["momentum"], nesterov=float(h["nesterov"]))
                used = (["velocity"] if h["momentum"] != 0 else []) + \
                    (["cumulative"] if h["l1_mode"] == "cumulative" and h["l1"] != 0 else [])
            for name, value in row.items():
                hyper[j, _COL[name]] = value
            for name in used:
                if name in state.buffers:
                    buffers[name][self._at(j)] = state.buffers[name]

    def unpack_parameters(self, ks):
        params, _ = self._views()
        for k in ks:
            self.models[k]._net.params[...] = params[self._at(self.lane_of[k])]

    def unpack_state(self):
        """Every model's optimizer state (step count, L1 total, buffers) back
        into its own OptimizerState."""
        _, buffers = self._views()
        hyper = self.engine.hyper
        for k, (opt, state) in enumerate(zip(self.optimizers, self.states)):
            j = self.lane_of[k]
            state.steps = int(hyper[j, _COL["steps"]])
            state.cum_u = float(hyper[j, _COL["cum_u"]])
            h = opt.hyperparameters()
            if isinstance(opt, Adam):
                used = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if h["amsgrad"] else [])
            else:
                used = (["velocity"] if h["momentum"] != 0 else []) + \
                    (["cumulative"] if h["l1_mode"] == "cumulative" and h["l1"] != 0 else [])
            for name in used:
                state.load_buffer(name, buffers[name][self._at(j)])

    # -- the epochs -----------------------------------------------------------------------

    def _snapshot(self, into=None):
        """Copies of the parameters, optimizer buffers and table (into the
        arrays of an earlier snapshot when given)."""
        engine = self.engine
        if into is None:
            return (engine.params.copy(), {n: b.copy() for n, b in engine.buffers.items()},
                    engine.hyper.copy())
        params, buffers, hyper = into
        np.copyto(params, engine.params)
        for n, b in engine.buffers.items():
            np.copyto(buffers[n], b)
        np.copyto(hyper, engine.hyper)
        return into

    def _restore(self, snap, lanes=None):
        """Back to the snapshot: everything, or only the given lanes."""
        params, buffers, hyper = snap
        if lanes is None:
            self.engine.params[...] = params
            for n, b in self.engine.buffers.items():
                b[...] = buffers[n]
            self.engine.hyper[...] = hyper
            return
        shape = (-1, self.engine.n_params, self.engine.block)
        for j in lanes:
            at = self._at(j)
            self.engine.params.reshape(shape)[at] = params.reshape(shape)[at]
            for n, b in self.engine.buffers.items():
                b.reshape(shape)[at] = buffers[n].reshape(shape)[at]
            self.engine.hyper[j] = hyper[j]

    def train(self):
        plan, engine = self.plan, self.engine
        K, models, lane_of = len(self.models), self.models, self.lane_of
        hyper = engine.hyper
        active_col, lr_col = _COL["active"], _COL["lr"]
        self.pack()
        # the epochs each model completed in this call; the models' and the
        # optimizers' epoch counters move once, at the end
        self.done = np.zeros(K, dtype=np.int64)
        self.start_epoch = np.array([m.epochs_trained for m in models])
        self.records = []  # per epoch: (models that completed it, their values, batch losses)
        scheduled = [k for k, opt in enumerate(self.optimizers) if opt.schedule is not None]
        snapshot = None
        recorded = 0
        snapshot_arrays = None  # reused from epoch to epoch
        check_signals = threading.current_thread() is threading.main_thread()
        try:
            with Progress(plan.epochs, "fit", enabled=plan.progress) as bar:
                for epoch in range(plan.epochs):
                    live = np.flatnonzero(self.active)
                    if live.size == 0:
                        break
                    for k in scheduled:
                        opt = self.optimizers[k]
                        hyper[lane_of[k], lr_col] = opt.lr_at(opt.epoch + self.done[k])
                    orders = self._orders(live)
                    stats = (np.zeros((models[0].n_layers, 6, engine.lanes)) if plan.record
                             else None)
                    snapshot = snapshot_arrays = self._snapshot(snapshot_arrays)
                    recorded = len(self.records)
                    start = time.perf_counter()
                    run = engine.train_epoch(plan.X, plan.t, orders, plan.batch_size,
                                             stats=stats, check_signals=check_signals)
                    elapsed = time.perf_counter() - start
                    lanes = lane_of[live]
                    failed = hyper[lanes, active_col] == 0
                    if failed.any():
                        self._restore(snapshot, lanes[failed])
                        hyper[lanes[failed], active_col] = 0
                        for k in live[failed]:
                            self.diverge(k, epoch)
                    done = live[~failed]
                    self._record(epoch, done, run, stats, elapsed)
                    # the epoch is recorded: no rollback from here (an interrupt
                    # between the two lines drops the record again, below)
                    snapshot = None
                    self.done[done] += 1
                    bar.update()
        except BaseException as exc:
            with _fit.deferred_interrupts():
                if snapshot is not None:  # the epoch under way: back to its start
                    self._restore(snapshot)
                    del self.records[recorded:]
                for h in self.histories:
                    h.interrupted = isinstance(exc, KeyboardInterrupt)
            raise
        finally:
            with _fit.deferred_interrupts():
                self.unpack_parameters(range(K))
                self.unpack_state()
                self._finish_histories()

    def _record(self, epoch, done, run, stats, elapsed):
        """The epoch's values of the models that completed it, all at once
        where they come from the lanes: arrays over every model, NaN for the
        others."""
        plan, models, K = self.plan, self.models, len(self.models)
        lanes = self.lane_of[done]
        m0 = models[0]
        norms = self.engine.norms()[:, self.lane_of]  # (6, K) over the models
        abs_w = np.where(self.reg_bias, norms[0] + norms[3], norms[0])
        sq_w = np.where(self.reg_bias, norms[1] + norms[4], norms[1])
        zeros = norms[2]
        per_sample = m0.layer_sizes[-1] if m0.output == "sigmoid" else 1
        with np.errstate(invalid="ignore"):  # 0 x inf: NaN, as MLP.fit records it
            penalty = self.l1 * abs_w + self.l2 * sq_w
        values = {"loss": run.loss_sum[self.lane_of] / run.seen, "penalty": penalty,
                  "accuracy": (np.full(K, np.nan) if m0.output == "linear"
                               else run.correct[self.lane_of] / (run.seen * per_sample)),
                  "lr": self.engine.hyper[self.lane_of, _COL["lr"]].copy(),
                  "epoch_time": np.full(K, elapsed),
                  "sparsity": zeros / m0._net.n_weights}
        extra = {}
        if plan.validation is not None or plan.record:
            self.unpack_parameters(done)  # the models' own engines compute these
            for i, k in enumerate(done):
                m = models[k]
                item = {}
                if plan.validation is not None:
                    Xv, tv = plan.validation
                    val_loss, val_correct = m._net.evaluate(Xv, tv)
                    item["val_loss"] = val_loss
                    item["val_accuracy"] = (np.nan if m.output == "linear"
                                            else val_correct / tv.size)
                if plan.record:
                    item["layer_stats"] = _fit._layer_stats(m, stats[:, :, lanes[i]], run.seen,
                                                            run.steps)
                    item["weight_hist"] = _fit._weight_histograms(m)
                extra[k] = item
        mask = np.zeros(K, dtype=bool)
        mask[done] = True
        self.records.append((mask, values, run.batch_losses[:, self.lane_of], extra))

    def _finish_histories(self):
        """Every model's History from the recorded epochs, and its epoch
        counters advanced by the epochs it completed."""
        if not self.records:
            return
        masks = np.stack([r[0] for r in self.records])  # (epochs, K)
        fields = {name: np.stack([r[1][name] for r in self.records])
                  for name in ("loss", "penalty", "accuracy", "lr", "epoch_time", "sparsity")}
        losses = np.concatenate([r[2] for r in self.records])  # (steps, K)
        step_mask = np.concatenate([np.repeat(r[0][None], len(r[2]), axis=0)
                                    for r in self.records])
        for k, h in enumerate(self.histories):
            rows = masks[:, k]
            n = int(rows.sum())
            if n == 0:
                continue
            h.batch_loss = np.concatenate([h.batch_loss, losses[step_mask[:, k], k]])
            for name, column in fields.items():
                setattr(h, name, np.concatenate([getattr(h, name), column[rows, k]]))
            extras = [r[3][k] for r in self.records if k in r[3]]
            if self.plan.validation is not None:
                for name in ("val_loss", "val_accuracy"):
                    setattr(h, name, np.concatenate([getattr(h, name),
                                                     [e[name] for e in extras]]))
            if self.plan.record:
                for e in extras:
                    h._append_epoch({}, e["layer_stats"], e["weight_hist"])
            self.models[k]._epochs_trained += n
            self.optimizers[k].epoch += n
        self.records = []

    def _orders(self, live):
        """One shared order (n,) when every live model would draw the same,
        else one per lane (lanes, n); idle lanes repeat the first."""
        n = self.plan.X.shape[0]
        if not self.plan.shuffle:
            return np.arange(n, dtype=np.int64)
        epochs = self.start_epoch[live] + self.done[live]
        seeds = self.seeds_array[live]
        if (seeds == seeds[0]).all() and (epochs == epochs[0]).all():
            return _fit.epoch_order(int(seeds[0]), int(epochs[0]), n, True)
        drawn = {}  # one draw per distinct (seed, epoch)
        out = np.empty((self.engine.lanes, n), dtype=np.int64)
        for k, s, e in zip(live, seeds, epochs):
            key = (int(s), int(e))
            if key not in drawn:
                drawn[key] = _fit.epoch_order(key[0], key[1], n, True)
            out[self.lane_of[k]] = drawn[key]
        idle = np.setdiff1d(np.arange(self.engine.lanes), self.lane_of[live])
        out[idle] = out[self.lane_of[live[0]]]
        return out
