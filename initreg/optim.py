"""Optimizers and learning-rate schedules.

:class:`SGD` applies, in one fused compiled pass over a model's flat
parameter buffer, for the cost J(w) + l1 sum|w| + l2 sum w^2::

    g     = dJ/dw + l1 sign(w) + 2 l2 w          (sign(0) = 0)
    v     = momentum v + g                       (PyTorch's SGD, dampening 0)
    step  = v, or g + momentum v with Nesterov
    w     = w (1 - lr wd) - lr step              (wd = weight_decay: SGDW)

:class:`Adam` and :class:`AdamW` (Kingma & Ba 2015; Loshchilov & Hutter
2019), as ``torch.optim.Adam`` / ``AdamW`` compute them, t the step::

    g     = dJ/dw + l1 sign(w) + 2 l2 w          (the penalties: preconditioned)
    m     = beta1 m + (1 - beta1) g              v = beta2 v + (1 - beta2) g^2
    denom = sqrt(v / (1 - beta2^t)) + eps        (amsgrad: the running max of v)
    w     = w (1 - lr wd) - lr / (1 - beta1^t) m / denom   (the decay is not)

The penalties and the decay apply to the weights only, unless
``regularize_bias``; the decay uses the weights before the step and the
scheduled learning rate.  ``l2`` is a penalty, ``weight_decay`` is decoupled
decay: the same for plain SGD (``weight_decay = 2 l2``), not for Adam (where
the L2 gradient is divided by ``denom`` like the data's).

The L1 term can enter four ways (``l1_mode``, see :data:`L1_MODES`):
``"subgradient"`` is exactly the formulas above (weights oscillate around
zero and never reach it); ``"proximal"`` takes the step first, then
soft-thresholds, ``w = sign(w) max(|w| - lr l1, 0)`` (proximal gradient /
ISTA: exact zeros); ``"proximal_preconditioned"`` (Adam) thresholds each
weight by ``lr l1 / denom``, the proximal step in Adam's metric;
``"cumulative"`` (SGD) is the cumulative L1 penalty of Tsuruoka, Tsujii &
Ananiadou (2009), as scikit-learn's ``SGDClassifier`` applies it: each weight
is clipped at zero against the total penalty it could have received so far,
which keeps exact zeros under noisy minibatch gradients.

An optimizer owns its state -- the velocity, the cumulative-L1 bookkeeping,
the step and epoch counts -- in arrays the compiled engine updates in place.
The state belongs to one model: the first model an optimizer trains binds it,
and using it on another model raises ``ValueError`` (make one optimizer per
model, or call :meth:`Optimizer.reset`).  Hyperparameters may change at any
time (``opt.lr = 0.001`` or :meth:`Optimizer.set`) and the state is kept.
:meth:`Optimizer.state_dict` and :meth:`Optimizer.load_state_dict` move the
state as plain arrays and numbers, and ``MLP.save(path, optimizer=opt)``
stores it beside the model, so that a run resumes exactly.

See :mod:`initreg.regularization` for how ``l1`` and ``l2`` relate to
PyTorch's ``weight_decay``, scikit-learn's ``alpha`` and Keras's regularizers.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import threading

import numpy as np

from initreg import _recipes
from initreg._core import _network
from initreg._validation import check_bool, check_choice, check_float, check_int
from initreg._vocabulary import L1_MODES

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "OPTIMIZERS", "L1_MODES", "StepDecay", "ExponentialDecay",
           "InverseTimeDecay", "SCHEDULES", "from_state_dict", "DEFAULT_LR",
           "DEFAULT_MOMENTUM", "DEFAULT_L1_MODE"]

#: The library's defaults for SGD, shared by :class:`SGD`, ``initreg train``,
#: the experiments and the grid files.  (The scikit-learn estimators follow
#: scikit-learn instead: docs/api.md.)
DEFAULT_LR = 0.01
DEFAULT_MOMENTUM = 0.9
#: Proximal: L1 then gives exact zeros, what a study of L1 looks for; the
#: textbook subgradient update is ``l1_mode="subgradient"``.
DEFAULT_L1_MODE = "proximal"


# ---- learning-rate schedules ---------------------------------------------------

@dataclasses.dataclass(frozen=True)
class StepDecay:
    """lr * gamma ** (epoch // step_size): drop by ``gamma`` every
    ``step_size`` epochs (PyTorch's StepLR)."""

    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        check_int(self.step_size, "step_size", low=1)
        check_float(self.gamma, "gamma", low=0, low_open=True, high=1)

    def __call__(self, epoch):
        return self.gamma ** (epoch // self.step_size)


@dataclasses.dataclass(frozen=True)
class ExponentialDecay:
    """lr * gamma ** epoch (PyTorch's ExponentialLR)."""

    gamma: float = 0.95

    def __post_init__(self):
        check_float(self.gamma, "gamma", low=0, low_open=True, high=1)

    def __call__(self, epoch):
        return self.gamma**epoch


@dataclasses.dataclass(frozen=True)
class InverseTimeDecay:
    """lr / (1 + decay * epoch): the classic Robbins-Monro-style decay."""

    decay: float = 0.1

    def __post_init__(self):
        check_float(self.decay, "decay", low=0)

    def __call__(self, epoch):
        return 1.0 / (1.0 + self.decay * epoch)


#: The schedules a saved optimizer can name (a user callable is saved by its
#: repr only, and must be given again after loading).
SCHEDULES = {cls.__name__: cls for cls in (StepDecay, ExponentialDecay, InverseTimeDecay)}


def _describe_schedule(schedule):
    if schedule is None:
        return None
    name = type(schedule).__name__
    known = SCHEDULES.get(name) is type(schedule)
    return _recipes.describe("schedule", name if known else None,
                             dataclasses.asdict(schedule) if known else {}, schedule)


def _build_schedule(name, params):
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}")
    return SCHEDULES[name](**params)


def _restore_schedule(desc):
    if desc is None:
        return None
    return _recipes.restore(desc, "schedule", _build_schedule, "learning-rate schedule",
                            "set opt.schedule = ... before training on")


def _check_schedule(schedule, name="schedule"):
    if schedule is not None and not callable(schedule):
        raise TypeError(f"{name} must be None or a callable epoch -> factor, got {schedule!r}")
    return schedule


# ---- the optimizers ---------------------------------------------------------------

def _hyperparameter(name, doc):
    def get(self):
        return self._hyper[name]

    def set_(self, value):
        self.set(**{name: value})

    return property(get, set_, doc=doc)


class Optimizer:
    """Base of the optimizers: validated hyperparameters that may change at
    any time, a learning-rate schedule, and the state of the one model the
    optimizer trains (see the module docs).

    Subclasses define ``DEFAULTS`` (every hyperparameter and its default),
    ``BUFFERS`` (the state arrays they may keep), ``_validate(hyper) ->
    hyper`` and ``_configure(state, hyper)``.
    """

    DEFAULTS: dict = {}

    def __init__(self, **hyperparameters):
        unknown = set(hyperparameters) - set(self.DEFAULTS)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(unknown)}; "
                            f"it takes {', '.join(self.DEFAULTS)}")
        self._hyper = self._validate({**self.DEFAULTS, **hyperparameters})
        self._state = None    # the compiled OptimizerState of the bound model
        self._owner = None    # that model's engine token
        self._model_key = None  # (layer_sizes, dtype name) of that model
        self._pending = None  # a loaded state waiting for its model
        self._epoch = 0
        self._lock = threading.Lock()  # binding, resetting, loading: one at a time

    # -- hyperparameters ----------------------------------------------------------

    def set(self, **changes):
        """Change hyperparameters (validated together; the state is kept)."""
        unknown = set(changes) - set(self.DEFAULTS)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no hyperparameters {sorted(unknown)}; "
                            f"it has {', '.join(self.DEFAULTS)}")
        hyper = self._validate({**self._hyper, **changes})
        if self._state is not None:  # RuntimeError, nothing changed, while another
            self._configure(self._state, hyper)  # thread trains with it
        self._hyper = hyper
        return self

    def hyperparameters(self):
        """The hyperparameters as a dict (the schedule as the object it is)."""
        return dict(self._hyper)

    def to_dict(self):
        """The hyperparameters as plain values (a schedule described)."""
        d = dict(self._hyper)
        d["schedule"] = _describe_schedule(d["schedule"])
        if "betas" in d:
            d["betas"] = list(d["betas"])
        return {"optimizer": type(self).__name__, **d}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper.items()
                         if v != self.DEFAULTS[k] or k == "lr")
        return f"{type(self).__name__}({args})"

    @property
    def epoch(self):
        """Epochs this optimizer has trained (:meth:`initreg.MLP.fit` counts
        them); the schedule's argument."""
        return self._epoch

    @epoch.setter
    def epoch(self, value):
        self._epoch = check_int(value, "epoch", low=0)

    @property
    def steps(self):
        """Updates applied so far."""
        if self._state is not None:
            return int(self._state.steps)
        return int(self._pending["steps"]) if self._pending else 0

    def lr_at(self, epoch):
        """The learning rate of epoch ``epoch`` (0-based)."""
        schedule = self._hyper["schedule"]
        if schedule is None:
            return self._hyper["lr"]
        factor = schedule(epoch)
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) \
                or not math.isfinite(factor) or factor <= 0:
            raise ValueError(f"schedule({epoch}) must be a finite number > 0, got {factor!r}")
        return self._hyper["lr"] * float(factor)

    # -- the state ------------------------------------------------------------------

    def _bind(self, model):
        """The compiled state for training ``model``: created (or taken from a
        loaded state) on first use, refused for any other model."""
        engine = model._net
        if self._owner == engine.token:
            return self._state
        with self._lock:
            return self._bind_locked(model, engine)

    def _bind_locked(self, model, engine):
        if self._owner == engine.token:
            return self._state
        self._check_trains(model)
        key = (tuple(model.layer_sizes), model.dtype.name)
        pending = self._pending
        state = _network.OptimizerState(engine.params.size, engine.n_weights,
                                        model.dtype == np.float64)
        self._configure(state, self._hyper)
        if pending is not None:
            self._load_into(state, pending)
        self._state, self._owner, self._model_key, self._pending = state, engine.token, key, None
        return state

    def _check_trains(self, model):
        """ValueError when this optimizer holds the state of another model, or
        a loaded state that does not fit ``model``."""
        if self._owner is not None and self._owner != model._net.token:
            raise ValueError(
                f"this {type(self).__name__} holds the state of another model (layers "
                f"{list(self._model_key[0])}); use one optimizer per model, or call "
                "optimizer.reset() to start it afresh on this one")
        pending = self._pending
        if pending is not None and (tuple(pending["layer_sizes"]), pending["dtype"]) != \
                (tuple(model.layer_sizes), model.dtype.name):
            raise ValueError(
                f"the loaded optimizer state is for a model of layers "
                f"{list(pending['layer_sizes'])}, {pending['dtype']}; this model has "
                f"layers {list(model.layer_sizes)}, {model.dtype.name}")

    def _check_idle(self, what):
        if self._state is not None and self._state.busy:
            raise RuntimeError(f"{what} while a fit trains with this optimizer")

    def reset(self):
        """Forget the state (velocity, L1 bookkeeping, step and epoch counts)
        and the model it belonged to; the hyperparameters stay.  RuntimeError
        while a fit trains with it."""
        with self._lock:
            self._check_idle("cannot reset the optimizer")
            self._state = self._owner = self._model_key = self._pending = None
            self._epoch = 0
        return self

    def state_dict(self):
        """The optimizer as plain values: hyperparameters, counters and the
        state arrays (copies), JSON-able but for the arrays; no pickle.

        RuntimeError while a training call is updating the state."""
        d = {**self.to_dict(), "epoch": self._epoch, "steps": 0, "cum_u": 0.0,
             "layer_sizes": None, "dtype": None, "buffers": {}}
        if self._state is not None:
            state = self._state
            state.acquire()
            try:
                d.update(steps=int(state.steps), cum_u=float(state.cum_u),
                         layer_sizes=list(self._model_key[0]), dtype=self._model_key[1],
                         buffers={k: v.copy() for k, v in state.buffers.items()})
            finally:
                state.release()
        elif self._pending is not None:
            d.update(steps=self._pending["steps"], cum_u=self._pending["cum_u"],
                     layer_sizes=list(self._pending["layer_sizes"]),
                     dtype=self._pending["dtype"],
                     buffers={k: v.copy() for k, v in self._pending["buffers"].items()})
        return d

    def load_state_dict(self, state_dict):
        """Take hyperparameters, counters and state arrays from
        :meth:`state_dict` (of an optimizer of the same class).  The state
        applies to the model it was saved from (same layer sizes and dtype):
        at once if this optimizer already trains such a model, else from the
        first use.  Bad values raise before anything changes; so does a fit
        training with this optimizer (RuntimeError)."""
        with self._lock:
            self._check_idle("cannot load a state")
            return self._load_locked(state_dict)

    def _load_locked(self, state_dict):
        d = self._checked_state_dict(state_dict)
        if self._state is not None and d["layer_sizes"] is not None and \
                (tuple(d["layer_sizes"]), d["dtype"]) != self._model_key:
            raise ValueError(
                f"state_dict is for a model of layers {d['layer_sizes']}, {d['dtype']}; this "
                f"optimizer trains one of layers {list(self._model_key[0])}, "
                f"{self._model_key[1]}")
        self.set(**d["hyperparameters"])
        self._epoch = d["epoch"]
        pending = {k: d[k] for k in ("steps", "cum_u", "layer_sizes", "dtype", "buffers")}
        if self._state is not None:  # a fresh state for the same model, then the values
            old = self._state
            state = _network.OptimizerState(old.n_params, old.n_weights, old.is_f64)
            self._configure(state, self._hyper)
            self._load_into(state, pending)
            self._state = state
        else:
            self._pending = pending if d["layer_sizes"] is not None else None
        return self

    def __getstate__(self):
        # pickle and copy go through the state dict (the compiled state does
        # not pickle); the copy is bound to no model until its first use
        d = self.state_dict()
        d["schedule"] = self._hyper["schedule"]
        return d

    def __setstate__(self, d):
        d = dict(d)
        schedule = d.pop("schedule")
        Optimizer.__init__(self)
        self.load_state_dict({**d, "schedule": None})
        self.set(schedule=schedule)

    @staticmethod
    def _load_into(state, values):
        state.steps, state.cum_u = values["steps"], values["cum_u"]
        for name, array in values["buffers"].items():
            state.load_buffer(name, array)

    def _checked_state_dict(self, d):
        if not isinstance(d, dict):
            raise TypeError(f"state_dict must be a dict from Optimizer.state_dict(), got "
                            f"{type(d).__name__}")
        if d.get("optimizer") != type(self).__name__:
            raise ValueError(f"state_dict is of a {d.get('optimizer')!r} optimizer, not "
                             f"{type(self).__name__}")
        hyper = {k: d[k] for k in self.DEFAULTS if k in d}
        hyper["schedule"] = _restore_schedule(hyper.get("schedule"))
        self._validate({**self.DEFAULTS, **hyper})  # raises before anything changes
        out = {"hyperparameters": hyper,
               "epoch": check_int(d.get("epoch", 0), "state_dict['epoch']", low=0),
               "steps": check_int(d.get("steps", 0), "state_dict['steps']", low=0),
               "cum_u": check_float(d.get("cum_u", 0.0), "state_dict['cum_u']", low=0),
               "layer_sizes": d.get("layer_sizes"), "dtype": d.get("dtype"), "buffers": {}}
        buffers = d.get("buffers") or {}
        if not isinstance(buffers, dict):
            raise TypeError("state_dict['buffers'] must be a dict of arrays")
        if buffers and out["layer_sizes"] is None:
            raise ValueError("state_dict has state arrays but no layer_sizes")
        if out["layer_sizes"] is not None:
            sizes = out["layer_sizes"]
            if not isinstance(sizes, (list, tuple)) or len(sizes) < 2 or not all(
                    isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
                    for s in sizes):
                raise ValueError(f"state_dict['layer_sizes'] must be a list of positive ints, "
                                 f"got {sizes!r}")
            out["layer_sizes"] = [int(s) for s in sizes]
            if out["dtype"] not in ("float32", "float64"):
                raise ValueError(f"state_dict['dtype'] must be 'float32' or 'float64', got "
                                 f"{out['dtype']!r}")
            n = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
            for name, values in buffers.items():
                if name not in self.BUFFERS:
                    raise ValueError(f"state_dict['buffers'] has an unknown array {name!r}; "
                                     f"{type(self).__name__} keeps {', '.join(self.BUFFERS)}")
                arr = np.asarray(values)
                if arr.shape != (n,) or arr.dtype != np.dtype(out["dtype"]):
                    raise ValueError(f"state_dict['buffers'][{name!r}] must be {n} values of "
                                     f"{out['dtype']}, got shape {arr.shape} of {arr.dtype}")
                if not np.isfinite(arr).all():
                    raise ValueError(f"state_dict['buffers'][{name!r}] holds NaN or infinity")
                out["buffers"][name] = arr
        return out


class SGD(Optimizer):
    """Minibatch SGD with momentum and L1 / L2 penalties (see module docs).

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    momentum : float
        In [0, 1); 0 disables the velocity buffer.
    nesterov : bool
        Nesterov momentum (needs momentum > 0).
    l1, l2 : float
        Penalty weights lambda >= 0 of ``l1 * sum|w| + l2 * sum w**2``.
    weight_decay : float
        Decoupled decay >= 0: each step multiplies the weights by
        ``1 - lr * weight_decay`` (SGDW).
    l1_mode : {"proximal", "subgradient", "cumulative"}
        How the L1 term is applied (:data:`initreg.optim.L1_MODES`).
    regularize_bias : bool
        Penalise (and decay) the biases too (default: weights only).
    schedule : callable or None
        ``schedule(epoch) -> factor``; the learning rate of epoch ``e``
        (counted by :attr:`epoch`) is ``lr * schedule(e)``.
        :class:`StepDecay`, :class:`ExponentialDecay`, :class:`InverseTimeDecay`
        or any callable; None keeps ``lr`` constant.
    """

    DEFAULTS = {"lr": DEFAULT_LR, "momentum": DEFAULT_MOMENTUM, "nesterov": False, "l1": 0.0,
                "l2": 0.0, "weight_decay": 0.0, "l1_mode": DEFAULT_L1_MODE,
                "regularize_bias": False, "schedule": None}
    #: The state arrays SGD may keep.
    BUFFERS = ("velocity", "cumulative")
    #: The L1 modes SGD offers (see :data:`initreg.optim.L1_MODES`).
    L1_MODES = tuple(name for name, mode in L1_MODES.items() if "sgd" in mode.optimizers)

    lr = _hyperparameter("lr", "Learning rate (> 0), before the schedule.")
    momentum = _hyperparameter("momentum", "Momentum in [0, 1).")
    nesterov = _hyperparameter("nesterov", "Nesterov momentum.")
    l1 = _hyperparameter("l1", "L1 penalty weight (>= 0).")
    l2 = _hyperparameter("l2", "L2 penalty weight (>= 0); gradient 2 * l2 * w.")
    weight_decay = _hyperparameter("weight_decay", "Decoupled weight decay (>= 0).")
    l1_mode = _hyperparameter("l1_mode", "How the L1 term enters the update.")
    regularize_bias = _hyperparameter("regularize_bias", "Penalise the biases too.")
    schedule = _hyperparameter("schedule", "lr factor per epoch, or None.")

    def __init__(self, *, lr=DEFAULT_LR, momentum=DEFAULT_MOMENTUM, nesterov=False, l1=0.0,
                 l2=0.0, weight_decay=0.0, l1_mode=DEFAULT_L1_MODE, regularize_bias=False,
                 schedule=None):
        super().__init__(lr=lr, momentum=momentum, nesterov=nesterov, l1=l1, l2=l2,
                         weight_decay=weight_decay, l1_mode=l1_mode,
                         regularize_bias=regularize_bias, schedule=schedule)

    def _validate(self, h):
        _check_common(h, self.L1_MODES)
        h["momentum"] = check_float(h["momentum"], "momentum", low=0, high=1, high_open=True)
        h["nesterov"] = check_bool(h["nesterov"], "nesterov")
        if h["nesterov"] and h["momentum"] == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        _check_decay(h)
        return h

    def _configure(self, state, h):
        state.configure(h["lr"], h["momentum"], h["nesterov"], h["l1"], h["l2"],
                        h["weight_decay"], L1_MODES[h["l1_mode"]].code, h["regularize_bias"])


def _check_common(h, l1_modes):
    """The hyperparameters every optimizer has, checked in place."""
    h["lr"] = check_float(h["lr"], "lr", low=0, low_open=True)
    for name in ("l1", "l2", "weight_decay"):
        h[name] = check_float(h[name], name, low=0)
    check_choice(h["l1_mode"], "l1_mode", l1_modes)
    h["regularize_bias"] = check_bool(h["regularize_bias"], "regularize_bias")
    _check_schedule(h["schedule"])


def _check_decay(h):
    """After every argument alone passed: the decay factor must stay > 0."""
    if h["weight_decay"] * h["lr"] >= 1:
        raise ValueError(f"lr * weight_decay must be < 1 (the decay multiplies the weights by "
                         f"1 - lr * weight_decay), got {h['lr']} * {h['weight_decay']}")


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with L1 / L2 penalties and decoupled weight
    decay (see module docs), step by step as ``torch.optim.Adam`` and
    ``AdamW`` compute it.

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    betas : (float, float)
        Decay rates of the first and second moments, each in [0, 1).
    eps : float
        Added to the denominator, >= 0.
    l1, l2 : float
        Penalty weights lambda >= 0 of ``l1 * sum|w| + l2 * sum w**2``; their
        gradients are preconditioned like the data's.  PyTorch's
        ``Adam(weight_decay=wd)`` is ``l2 = wd / 2`` here.
    weight_decay : float
        Decoupled decay >= 0: each step multiplies the weights by
        ``1 - lr * weight_decay`` first, as ``torch.optim.AdamW`` does.
    l1_mode : {"proximal", "subgradient", "proximal_preconditioned"}
        How the L1 term is applied (:data:`initreg.optim.L1_MODES`).
    amsgrad : bool
        Divide by the running maximum of the second moment (Reddi et al. 2018).
    regularize_bias : bool
        Penalise (and decay) the biases too (default: weights only).
    schedule : callable or None
        As :class:`SGD`'s.
    """

    DEFAULTS = {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "l1": 0.0, "l2": 0.0,
                "weight_decay": 0.0, "l1_mode": DEFAULT_L1_MODE, "amsgrad": False,
                "regularize_bias": False, "schedule": None}
    BUFFERS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    L1_MODES = tuple(name for name, mode in L1_MODES.items() if "adam" in mode.optimizers)

    lr = _hyperparameter("lr", "Learning rate (> 0), before the schedule.")
    betas = _hyperparameter("betas", "Decay rates of the two moments.")
    eps = _hyperparameter("eps", "Added to the denominator.")
    l1 = _hyperparameter("l1", "L1 penalty weight (>= 0).")
    l2 = _hyperparameter("l2", "L2 penalty weight (>= 0); gradient 2 * l2 * w.")
    weight_decay = _hyperparameter("weight_decay", "Decoupled weight decay (>= 0).")
    l1_mode = _hyperparameter("l1_mode", "How the L1 term enters the update.")
    amsgrad = _hyperparameter("amsgrad", "Use the running maximum of the second moment.")
    regularize_bias = _hyperparameter("regularize_bias", "Penalise the biases too.")
    schedule = _hyperparameter("schedule", "lr factor per epoch, or None.")

    def __init__(self, *, lr=0.001, betas=(0.9, 0.999), eps=1e-8, l1=0.0, l2=0.0,
                 weight_decay=0.0, l1_mode=DEFAULT_L1_MODE, amsgrad=False,
                 regularize_bias=False, schedule=None):
        super().__init__(lr=lr, betas=betas, eps=eps, l1=l1, l2=l2, weight_decay=weight_decay,
                         l1_mode=l1_mode, amsgrad=amsgrad, regularize_bias=regularize_bias,
                         schedule=schedule)

    def _validate(self, h):
        _check_common(h, self.L1_MODES)
        betas = h["betas"]
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        h["betas"] = tuple(check_float(b, f"betas[{i}]", low=0, high=1, high_open=True)
                           for i, b in enumerate(betas))
        h["eps"] = check_float(h["eps"], "eps", low=0)
        h["amsgrad"] = check_bool(h["amsgrad"], "amsgrad")
        _check_decay(h)
        return h

    def _configure(self, state, h):
        state.configure_adam(h["lr"], h["betas"][0], h["betas"][1], h["eps"], h["l1"],
                             h["l2"], h["weight_decay"], L1_MODES[h["l1_mode"]].code,
                             h["amsgrad"], h["regularize_bias"])


class AdamW(Adam):
    """:class:`Adam` with decoupled weight decay by default
    (``weight_decay=0.01``, as ``torch.optim.AdamW``)."""

    DEFAULTS = {**Adam.DEFAULTS, "weight_decay": 0.01}

    def __init__(self, *, lr=0.001, betas=(0.9, 0.999), eps=1e-8, l1=0.0, l2=0.0,
                 weight_decay=0.01, l1_mode=DEFAULT_L1_MODE, amsgrad=False,
                 regularize_bias=False, schedule=None):
        super().__init__(lr=lr, betas=betas, eps=eps, l1=l1, l2=l2, weight_decay=weight_decay,
                         l1_mode=l1_mode, amsgrad=amsgrad, regularize_bias=regularize_bias,
                         schedule=schedule)


#: The optimizers by the names the command line, grid files and the
#: scikit-learn estimators' ``solver`` use.
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}


def from_state_dict(state_dict):
    """A new optimizer of the class ``state_dict`` names, holding its state."""
    if not isinstance(state_dict, dict):
        raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
    name = state_dict.get("optimizer")
    classes = {cls.__name__: cls for cls in OPTIMIZERS.values()}
    if name not in classes:
        raise ValueError(f"state_dict names an unknown optimizer {name!r}; known: "
                         f"{', '.join(classes)}")
    return classes[name]().load_state_dict(state_dict)

