"""What the page may ask for: the configuration of a session, checked field by
field like any other input (unknown fields, wrong types, NaN, sizes beyond
the limits), and what it builds -- data, models, optimizers.

A configuration is a JSON object of four parts::

    {"data": {...}, "network": {...}, "training": {...}, "compare": {...}}

each of which may be partial: missing fields keep their current values
(:func:`merge`).  :data:`DEFAULTS` is the whole of it.
"""
from __future__ import annotations

import copy
import ipaddress
import math
import numbers

import numpy as np

from initreg import init as _init
from initreg._vocabulary import ACTIVATIONS, L1_MODES
from initreg.datasets import PLANES
from initreg.optim import SGD, Adam, AdamW

__all__ = ["DEFAULTS", "LIMITS", "ConfigError", "merge", "make_data", "make_model",
           "make_optimizer", "varied"]

#: What one tab may ask for: networks, data and comparisons that train
#: thousands of steps a second and fit in a few MB.
LIMITS = {"max_width": 64, "max_hidden_layers": 6, "max_samples": 2000, "min_samples": 20,
          "max_batch": 512, "max_compare": 8, "max_seed": 2**31 - 1, "max_noise": 2.0}

OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}

#: The fields the comparison may vary, one value per compared model.
COMPARABLE = ("init", "init_param", "l1", "l2", "lr", "weight_decay", "optimizer",
              "momentum", "l1_mode")
NETWORK_FIELDS = ("init", "init_param")

DEFAULTS = {
    "data": {"name": "spirals", "noise": 0.2, "n_samples": 400, "test_fraction": 0.3,
             "seed": 0},
    "network": {"hidden": [8, 8], "activation": "tanh", "init": "xavier", "init_param": 1.0,
                "bias_init": 0.0, "seed": 0},
    "training": {"optimizer": "sgd", "lr": 0.03, "momentum": 0.9, "batch_size": 10,
                 "l1": 0.0, "l1_mode": "proximal", "l2": 0.0, "weight_decay": 0.0},
    "compare": {"vary": None, "values": []},
}


class ConfigError(ValueError):
    """A configuration the page sent that cannot be used; ``field`` names it
    ("training.lr")."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field


def is_loopback(host):
    """Whether ``host`` (a name or an address, without a port) is this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _number(value, field, low, high, *, integer=False, low_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(field, f"must be a number, got {type(value).__name__}")
    if isinstance(value, int) and abs(value) > 2 ** 53:  # JSON integers have no bound
        raise ConfigError(field, f"must be in [{low}, {high}], got a {len(str(value))}-digit "
                                 "number")
    if integer and not float(value).is_integer():
        raise ConfigError(field, f"must be a whole number, got {value}")
    value = int(value) if integer else float(value)
    if not math.isfinite(value):
        raise ConfigError(field, "must be finite")
    if value < low or (low_open and value == low) or value > high:
        raise ConfigError(field, f"must be in {'(' if low_open else '['}{low}, {high}], "
                                 f"got {value}")
    return value


def _choice(value, field, choices):
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(field, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _check_data(d):
    return {"name": _choice(d["name"], "data.name", PLANES),
            "noise": _number(d["noise"], "data.noise", 0.0, LIMITS["max_noise"]),
            "n_samples": _number(d["n_samples"], "data.n_samples", LIMITS["min_samples"],
                                 LIMITS["max_samples"], integer=True),
            "test_fraction": _number(d["test_fraction"], "data.test_fraction", 0.1, 0.9),
            "seed": _number(d["seed"], "data.seed", 0, LIMITS["max_seed"], integer=True)}


def _check_network(n):
    hidden = n["hidden"]
    if not isinstance(hidden, list) or len(hidden) > LIMITS["max_hidden_layers"]:
        raise ConfigError("network.hidden", f"must be a list of at most "
                                            f"{LIMITS['max_hidden_layers']} widths")
    hidden = [_number(w, f"network.hidden[{i}]", 1, LIMITS["max_width"], integer=True)
              for i, w in enumerate(hidden)]
    out = {"hidden": hidden,
           "activation": _choice(n["activation"], "network.activation", tuple(ACTIVATIONS)),
           "init": _choice(n["init"], "network.init", _init.names()),
           "init_param": _number(n["init_param"], "network.init_param", -10.0, 10.0),
           "bias_init": _number(n["bias_init"], "network.bias_init", -1.0, 1.0),
           "seed": _number(n["seed"], "network.seed", 0, LIMITS["max_seed"], integer=True)}
    try:
        _init.with_parameter(out["init"], init_value(out))
    except (TypeError, ValueError) as exc:
        raise ConfigError("network.init_param", str(exc)) from None
    return out


def l1_modes(kind):
    """The L1 modes of the optimizer ``kind``."""
    return tuple(m for m, v in L1_MODES.items() if kind in v.optimizers)


def _check_training(t):
    kind = _choice(t["optimizer"], "training.optimizer", tuple(OPTIMIZERS))
    modes = l1_modes(kind)
    out = {"optimizer": kind,
           "lr": _number(t["lr"], "training.lr", 0.0, 10.0, low_open=True),
           "momentum": _number(t["momentum"], "training.momentum", 0.0, 0.999),
           "batch_size": _number(t["batch_size"], "training.batch_size", 1,
                                 LIMITS["max_batch"], integer=True),
           "l1": _number(t["l1"], "training.l1", 0.0, 1.0),
           "l1_mode": _choice(t["l1_mode"], "training.l1_mode", modes),
           "l2": _number(t["l2"], "training.l2", 0.0, 1.0),
           "weight_decay": _number(t["weight_decay"], "training.weight_decay", 0.0, 100.0)}
    if out["lr"] * out["weight_decay"] >= 1:
        raise ConfigError("training.weight_decay", "lr x weight_decay must be below 1")
    return out


def _check_compare(c, config):
    vary, values = c["vary"], c["values"]
    if vary is None:
        return {"vary": None, "values": []}
    vary = _choice(vary, "compare.vary", COMPARABLE)
    if not isinstance(values, list) or not 2 <= len(values) <= LIMITS["max_compare"]:
        raise ConfigError("compare.values", f"must list 2 to {LIMITS['max_compare']} values")
    # a comparison whose models would all be the same one is refused
    if vary == "momentum" and config["training"]["optimizer"] != "sgd":
        raise ConfigError("compare.vary", "momentum is SGD's; the optimizer is "
                                          f"{config['training']['optimizer']}")
    if vary == "init_param" and config["network"]["init"] not in _init.PARAMETER:
        raise ConfigError("compare.vary", f"initializer {config['network']['init']!r} has no "
                                          "parameter")
    for i, v in enumerate(values):  # each value must make a valid configuration
        part = "network" if vary in NETWORK_FIELDS else "training"
        trial = copy.deepcopy(config)
        trial[part][vary] = v
        if vary == "optimizer":  # the L1 mode follows, as when the page switches
            _fit_l1_mode(trial["training"])
        try:
            (_check_network if part == "network" else _check_training)(trial[part])
        except ConfigError as exc:
            raise ConfigError(f"compare.values[{i}]", str(exc)) from None
    return {"vary": vary, "values": list(values)}


def _fit_l1_mode(training):
    """An L1 mode the optimizer does not have becomes "proximal" (both have
    it): switching between SGD and Adam keeps a valid configuration."""
    mode = L1_MODES.get(training.get("l1_mode"))
    if mode is not None and training.get("optimizer") in OPTIMIZERS and \
            training["optimizer"] not in mode.optimizers:
        training["l1_mode"] = "proximal"


def merge(current, update):
    """``current`` with the parts and fields of ``update`` in place of its
    own, checked whole: a ConfigError names the first field at fault, and
    nothing changes.  Unknown parts or fields are refused."""
    if not isinstance(update, dict):
        raise ConfigError("config", f"must be an object, got {type(update).__name__}")
    merged = copy.deepcopy(current)
    for part, fields in update.items():
        if part not in DEFAULTS:
            raise ConfigError(part, f"unknown part; known: {', '.join(DEFAULTS)}")
        if not isinstance(fields, dict):
            raise ConfigError(part, f"must be an object, got {type(fields).__name__}")
        for name, value in fields.items():
            if name not in DEFAULTS[part]:
                raise ConfigError(f"{part}.{name}", f"unknown field; known: "
                                                    f"{', '.join(DEFAULTS[part])}")
            merged[part][name] = value
    if "l1_mode" not in update.get("training", {}):  # asked for: checked, never replaced
        _fit_l1_mode(merged["training"])
    checked = {"data": _check_data(merged["data"]),
               "network": _check_network(merged["network"]),
               "training": _check_training(merged["training"])}
    checked["compare"] = _check_compare(merged["compare"], checked)
    return checked


# ---- what a configuration builds ---------------------------------------------

def make_data(d):
    """The data of the data part: an :class:`initreg.experiments.Data`
    (standardized), exactly what ``initreg train`` loads with the same
    settings."""
    from initreg.experiments import load_dataset
    data = load_dataset(d["name"], seed=d["seed"], test_size=d["test_fraction"],
                        n_samples=d["n_samples"], noise=d["noise"])
    if len(np.unique(data.y_train)) < data.n_classes or \
            len(np.unique(data.y_test)) < data.n_classes:
        raise ConfigError("data.n_samples", f"{d['n_samples']} points split "
                                            f"{1 - d['test_fraction']:.2f} : "
                                            f"{d['test_fraction']:.2f} leave a class out of "
                                            "one part; draw more points")
    return data


def init_value(network):
    """The initializer's one number, or None for one that has none."""
    return network["init_param"] if network["init"] in _init.PARAMETER else None


def make_model(network, n_classes):
    from initreg.model import MLP
    return MLP([2, *network["hidden"], n_classes], activation=network["activation"],
               init=_init.with_parameter(network["init"], init_value(network)),
               bias_init=network["bias_init"], seed=network["seed"])


def optimizer_settings(t):
    """The keyword arguments of the training part's optimizer."""
    kw = {"lr": t["lr"], "l1": t["l1"], "l1_mode": t["l1_mode"], "l2": t["l2"],
          "weight_decay": t["weight_decay"]}
    if t["optimizer"] == "sgd":
        kw["momentum"] = t["momentum"]
    return kw


def make_optimizer(t):
    return OPTIMIZERS[t["optimizer"]](**optimizer_settings(t))


def varied(config):
    """The configurations of a comparison: one per value, the varied field
    set to it ([config] when nothing is compared)."""
    c = config["compare"]
    if c["vary"] is None:
        return [config]
    out = []
    for v in c["values"]:
        one = copy.deepcopy(config)
        one["network" if c["vary"] in NETWORK_FIELDS else "training"][c["vary"]] = v
        if c["vary"] == "optimizer":
            _fit_l1_mode(one["training"])
        out.append(one)
    return out


def choices():
    """What the page's lists offer: field -> the values it accepts (the L1
    modes per optimizer), and the name of each initializer's one number."""
    return {"data.name": list(PLANES), "network.activation": list(ACTIVATIONS),
            "network.init": list(_init.names()), "training.optimizer": list(OPTIMIZERS),
            "training.l1_mode": {kind: list(l1_modes(kind)) for kind in OPTIMIZERS},
            "compare.vary": list(COMPARABLE), "init_parameter": dict(_init.PARAMETER)}
