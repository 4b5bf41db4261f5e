"""Every name a user can type for an activation, an output or an L1 mode,
defined once.

The model, the optimizers, the command line's ``choices``, the experiments
and the plots read these tables; nothing else lists the names.  (The
initializer names are the table of :mod:`initreg.init`, the optimizer names
that of :mod:`initreg.optim`, the dataset names that of
:mod:`initreg.datasets`.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from initreg._core import _kernels, _network

__all__ = ["Activation", "ACTIVATIONS", "ACTIVATION_ALIASES", "activation", "OUTPUTS",
           "L1Mode", "L1_MODES", "LEAKY_SLOPE"]


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


#: The default negative-side slope of "leaky_relu".
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """A hidden-layer activation: its code in the compiled core, the range of
    its values (lo, hi; None where unbounded), whether it is positively
    homogeneous (phi(a x) = a phi(x) for a > 0: then mean-field quantities do
    not depend on the scale of the signal), the initializer it is usually
    paired with (He for the ReLU family, Glorot otherwise), the gain PyTorch's
    ``calculate_gain`` recommends, and NumPy float64 forms of phi, phi' and
    phi'' for the experiments' mean-field theory."""

    name: str
    code: int
    range: tuple
    homogeneous: bool
    init: str
    gain: Callable[[float], float]
    phi: Callable
    dphi: Callable
    d2phi: Callable


ACTIVATIONS = {
    "identity": Activation(
        "identity", _kernels.IDENTITY, (None, None), True, "glorot", lambda slope: 1.0,
        lambda x, slope=LEAKY_SLOPE: np.asarray(x, dtype=np.float64),
        lambda x, slope=LEAKY_SLOPE: np.ones_like(x, dtype=np.float64),
        lambda x, slope=LEAKY_SLOPE: np.zeros_like(x, dtype=np.float64)),
    "tanh": Activation(
        "tanh", _kernels.TANH, (-1.0, 1.0), False, "glorot", lambda slope: 5.0 / 3.0,
        lambda x, slope=LEAKY_SLOPE: np.tanh(x),
        lambda x, slope=LEAKY_SLOPE: 1.0 - np.tanh(x) ** 2,
        lambda x, slope=LEAKY_SLOPE: -2.0 * np.tanh(x) * (1.0 - np.tanh(x) ** 2)),
    "sigmoid": Activation(
        "sigmoid", _kernels.SIGMOID, (0.0, 1.0), False, "glorot", lambda slope: 1.0,
        lambda x, slope=LEAKY_SLOPE: _sigmoid(x),
        lambda x, slope=LEAKY_SLOPE: _sigmoid(x) * (1.0 - _sigmoid(x)),
        lambda x, slope=LEAKY_SLOPE: _sigmoid(x) * (1.0 - _sigmoid(x)) * (1.0 - 2.0 * _sigmoid(x))),
    "relu": Activation(
        "relu", _kernels.RELU, (0.0, None), True, "he", lambda slope: math.sqrt(2.0),
        lambda x, slope=LEAKY_SLOPE: np.maximum(x, 0.0),
        lambda x, slope=LEAKY_SLOPE: (np.asarray(x) > 0).astype(np.float64),
        lambda x, slope=LEAKY_SLOPE: np.zeros_like(x, dtype=np.float64)),
    "leaky_relu": Activation(
        "leaky_relu", _kernels.LEAKY_RELU, (None, None), True, "he",
        lambda slope: math.sqrt(2.0 / (1.0 + slope**2)),
        lambda x, slope=LEAKY_SLOPE: np.where(np.asarray(x) < 0, slope * np.asarray(x), x),
        lambda x, slope=LEAKY_SLOPE: np.where(np.asarray(x) > 0, 1.0, slope),
        lambda x, slope=LEAKY_SLOPE: np.zeros_like(x, dtype=np.float64)),
}
#: Other names accepted for the same activations.
ACTIVATION_ALIASES = {"linear": "identity", "logistic": "sigmoid"}


def activation(name, argument="activation"):
    """The :class:`Activation` of a name or alias; ValueError naming
    ``argument`` otherwise."""
    if isinstance(name, str):
        name = ACTIVATION_ALIASES.get(name, name)
        if name in ACTIVATIONS:
            return ACTIVATIONS[name]
    known = ", ".join(repr(n) for n in (*ACTIVATIONS, *ACTIVATION_ALIASES))
    raise ValueError(f"{argument} must be one of {known}; got {name!r}")


#: Output layers, each fused with its loss in the compiled core: softmax with
#: cross-entropy on integer labels, sigmoid with binary cross-entropy on 0/1
#: targets, identity with mean squared error.
OUTPUTS = {"softmax": _network.SOFTMAX_XENT, "sigmoid": _network.SIGMOID_BCE,
           "linear": _network.MSE}

@dataclass(frozen=True)
class L1Mode:
    """How an L1 penalty enters the update (described in :mod:`initreg.optim`):
    its code in the compiled core and the optimizers that offer it."""

    code: int
    optimizers: tuple


#: The L1 modes, by the name ``l1_mode=`` takes.
L1_MODES = {
    "subgradient": L1Mode(_kernels.L1_SUBGRADIENT, ("sgd", "adam", "adamw")),
    "proximal": L1Mode(_kernels.L1_PROXIMAL, ("sgd", "adam", "adamw")),
    "cumulative": L1Mode(_kernels.L1_CUMULATIVE, ("sgd",)),
    "proximal_preconditioned": L1Mode(_kernels.L1_PROXIMAL_PRECONDITIONED, ("adam", "adamw")),
}
