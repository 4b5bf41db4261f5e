"""Stochastic gradient descent with L1 / L2 penalties, and learning-rate schedules.

The update, applied by the compiled core in one fused pass over the model's
flat parameter buffer, for the cost J(w) + l1 sum|w| + l2 sum w^2::

    g     = dJ/dw + l1 sign(w) + 2 l2 w          (sign(0) = 0)
    v     = momentum v + g                       (PyTorch's SGD, dampening 0)
    step  = v, or g + momentum v with Nesterov
    w     = w - lr step

The penalties apply to the weights only, unless ``regularize_bias``.  The
L1 term can enter three ways (``l1_mode``):

``"subgradient"``
    exactly the formula above: weights oscillate around zero, never reach it.
``"proximal"``
    the gradient and L2 step first, then soft-thresholding
    ``w = sign(w) max(|w| - lr l1, 0)`` (proximal gradient / ISTA): exact zeros.
``"cumulative"``
    the cumulative L1 penalty of Tsuruoka, Tsujii & Ananiadou (2009), as
    scikit-learn's ``SGDClassifier`` applies it: each weight is clipped at zero
    against the total penalty it could have received so far, which keeps
    exact zeros under noisy minibatch gradients.

See :mod:`initreg.regularization` for how ``l1`` and ``l2`` relate to
PyTorch's ``weight_decay``, scikit-learn's ``alpha`` and Keras's regularizers.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

from initreg._core import _kernels
from initreg._validation import check_choice, check_float, check_int

__all__ = ["SGD", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "L1_MODES"]

#: The L1 modes and their codes in the compiled core.
L1_MODES = {"subgradient": _kernels.L1_SUBGRADIENT, "proximal": _kernels.L1_PROXIMAL,
            "cumulative": _kernels.L1_CUMULATIVE}


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class ExponentialDecay:
    """lr * gamma ** epoch (PyTorch's ExponentialLR)."""

    gamma: float = 0.95

    def __post_init__(self):
        check_float(self.gamma, "gamma", low=0, low_open=True, high=1)

    def __call__(self, epoch):
        return self.gamma**epoch


@dataclass(frozen=True)
class InverseTimeDecay:
    """lr / (1 + decay * epoch): the classic Robbins-Monro-style decay."""

    decay: float = 0.1

    def __post_init__(self):
        check_float(self.decay, "decay", low=0)

    def __call__(self, epoch):
        return 1.0 / (1.0 + self.decay * epoch)


@dataclass(frozen=True)
class SGD:
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
    l1_mode : {"subgradient", "proximal", "cumulative"}
        How the L1 term is applied.
    regularize_bias : bool
        Penalise the biases too (default: weights only).
    schedule : callable or None
        ``schedule(epoch) -> factor``; the learning rate of epoch ``e``
        (counted from 0 by :meth:`initreg.MLP.fit`) is ``lr * schedule(e)``.
        :class:`StepDecay`, :class:`ExponentialDecay`, :class:`InverseTimeDecay`
        or any callable; None keeps ``lr`` constant.

    The optimiser is an immutable description; its state (the velocity, the
    cumulative penalty) lives in the model it trains and is reset when the
    model meets a different optimiser object.  ``dataclasses.replace(opt,
    lr=...)`` makes a modified copy.
    """

    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    l1: float = 0.0
    l2: float = 0.0
    l1_mode: str = "subgradient"
    regularize_bias: bool = False
    schedule: object = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "lr", check_float(self.lr, "lr", low=0, low_open=True))
        set_(self, "momentum", check_float(self.momentum, "momentum", low=0, high=1,
                                           high_open=True))
        set_(self, "l1", check_float(self.l1, "l1", low=0))
        set_(self, "l2", check_float(self.l2, "l2", low=0))
        check_choice(self.l1_mode, "l1_mode", tuple(L1_MODES))
        for flag in ("nesterov", "regularize_bias"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        if self.schedule is not None and not callable(self.schedule):
            raise TypeError("schedule must be None or a callable epoch -> factor, "
                            f"got {self.schedule!r}")

    def lr_at(self, epoch):
        """The learning rate of epoch ``epoch`` (0-based)."""
        if self.schedule is None:
            return self.lr
        factor = self.schedule(epoch)
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) \
                or not math.isfinite(factor) or factor <= 0:
            raise ValueError(f"schedule({epoch}) must be a finite number > 0, got {factor!r}")
        return self.lr * float(factor)

    def engine_args(self, lr=None):
        """Keyword arguments of the compiled step / epoch calls."""
        return {"lr": self.lr if lr is None else lr, "momentum": self.momentum,
                "nesterov": self.nesterov, "l1": self.l1, "l2": self.l2,
                "l1_mode": L1_MODES[self.l1_mode],
                "regularize_bias": self.regularize_bias}

    def to_dict(self):
        """The hyperparameters as plain values (the schedule by its repr)."""
        d = dataclasses.asdict(self)
        d["schedule"] = None if self.schedule is None else repr(self.schedule)
        return d
