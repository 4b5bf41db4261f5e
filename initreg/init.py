"""Weight initializers.

Every initializer has one calling convention,
``f(shape=None, *, rng=None, dtype=np.float32, **params)``: with
``shape = (fan_in, fan_out)``, the shape of a layer's weight matrix
(``Z = X @ W + b``), it returns an array drawn with ``rng`` (a
:class:`numpy.random.Generator` or an int seed; the same seed gives the same
array); without a shape it returns an :class:`Initializer`, the same
initializer with its parameters bound, to hand to :class:`initreg.MLP`::

    ir.init.he_normal((784, 256), rng=0)                   # an array
    ir.MLP([784, 256, 10], init=ir.init.normal(std=0.1))   # a recipe
    ir.init.normal(std=0.1)((784, 256), rng=0)             # the recipe's array

The variances, with n_in = fan_in and n_out = fan_out:

==================  ==============================  ===========================
initreg             distribution                    reference
==================  ==============================  ===========================
xavier_normal       N(0, 1/n_in)                    deeplearning.ai notes
xavier_uniform      U(+-sqrt(3/n_in)), var 1/n_in   same variance, uniform
glorot_normal       N(0, 2/(n_in+n_out))            Glorot & Bengio (2010)
glorot_uniform      U(+-sqrt(6/(n_in+n_out)))       their "normalized" init
he_normal           N(0, 2/n_in)                    He et al. (2015)
he_uniform          U(+-sqrt(6/n_in))               same variance, uniform
lecun_normal        truncated N, var 1/n_in         LeCun et al. (1998)
lecun_uniform       U(+-sqrt(3/n_in))               same variance, uniform
orthogonal          QR of a Gaussian, times gain    Saxe et al. (2014)
variance_scaling    var = scale/n, n by ``mode``    the general form
==================  ==============================  ===========================

The names of other libraries disagree with each other; see docs/api.md for
the table of PyTorch / Keras / JAX equivalents.  In short: PyTorch's
``xavier_normal_`` is our ``glorot_normal`` (not our ``xavier_normal``), and
Keras's ``HeNormal`` and ``LecunNormal`` draw from a truncated normal.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from initreg import _recipes
from initreg._validation import (check_choice, check_dtype, check_float, check_int,
                                 check_memory)
from initreg._vocabulary import LEAKY_SLOPE, activation as _activation

__all__ = [
    "Initializer", "zeros", "constant", "normal", "uniform",
    "xavier_normal", "xavier_uniform", "glorot_normal", "glorot_uniform",
    "he_normal", "he_uniform", "lecun_normal", "lecun_uniform",
    "orthogonal", "variance_scaling", "gain", "get", "names", "INITIALIZERS", "as_rng",
    "SMALL_STD", "LARGE_STD", "lsuv", "describe", "restore", "PARAMETER", "with_parameter",
]

#: Standard deviation of the "small" initialization of the experiments:
#: N(0, 0.01^2), which makes tanh activations vanish layer after layer.
SMALL_STD = 0.01
#: Standard deviation of the "large" initialization: N(0, 1), which saturates
#: tanh units (and blows up ReLU activations) in wide layers.
LARGE_STD = 1.0

# Standard deviation of a standard normal truncated to [-2, 2]: dividing by
# it restores the intended variance after truncation (Keras, JAX, TF).
_TRUNCATED_STD = 0.87962566103423978


def as_rng(rng):
    """A numpy Generator from None (fresh entropy), an int seed, a
    SeedSequence or a Generator (returned as is)."""
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng seed must be non-negative, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {rng!r}")


def _fans(shape):
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be (fan_in, fan_out), got {shape!r}")
    fan_in, fan_out = shape
    for v, what in ((fan_in, "fan_in"), (fan_out, "fan_out")):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{what} must be a positive integer, got {v!r}")
    check_memory(int(fan_in) * int(fan_out) * 8 * 2, f"a weight matrix of shape {tuple(shape)}")
    return int(fan_in), int(fan_out)


class Initializer:
    """An initializer with its parameters bound: ``init(shape, *, rng=None,
    dtype=np.float32)`` returns an array.

    Returned by every initializer called without a shape.
    """

    def __init__(self, func, **params):
        self.func = func
        self.params = params
        self.name = func.__name__

    def __call__(self, shape=None, *, rng=None, dtype=np.float32):
        if shape is None:  # the convention of every initializer: itself, bound
            return self
        return self.func(shape, rng=rng, dtype=dtype, **self.params)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({args})"

    def __eq__(self, other):
        return (isinstance(other, Initializer) and self.func is other.func
                and self.params == other.params)

    __hash__ = None  # type: ignore[assignment]  # unhashable, as __eq__ compares values


def _finish(w, dtype):
    return np.ascontiguousarray(w, dtype=check_dtype(dtype))


def _normal(shape, std, rng, dtype):
    return _finish(as_rng(rng).normal(0.0, std, size=_fans(shape)), dtype)


def _uniform(shape, limit, rng, dtype):
    return _finish(as_rng(rng).uniform(-limit, limit, size=_fans(shape)), dtype)


def _truncated_normal(shape, std, rng, dtype):
    """N(0, std^2) truncated to +-2 std, by redrawing what falls outside."""
    gen = as_rng(rng)
    z = gen.standard_normal(_fans(shape))
    outside = np.abs(z) > 2
    while outside.any():
        z[outside] = gen.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2
    return _finish(std * z, dtype)


def zeros(shape=None, *, rng=None, dtype=np.float32):
    """All zeros: every unit of a layer computes the same thing and gets the
    same gradient, so the symmetry is never broken."""
    if shape is None:
        return Initializer(zeros)
    return np.zeros(_fans(shape), dtype=check_dtype(dtype))


def constant(shape=None, *, value=0.0, rng=None, dtype=np.float32):
    """Every weight equal to ``value`` (symmetric, like zeros)."""
    value = check_float(value, "value")
    if shape is None:
        return Initializer(constant, value=value)
    return np.full(_fans(shape), value, dtype=check_dtype(dtype))


def normal(shape=None, *, std=1.0, rng=None, dtype=np.float32):
    """N(0, std^2), i.i.d."""
    std = check_float(std, "std", low=0)
    if shape is None:
        return Initializer(normal, std=std)
    return _normal(shape, std, rng, dtype)


def uniform(shape=None, *, limit=1.0, rng=None, dtype=np.float32):
    """U(-limit, limit), i.i.d. (variance limit^2 / 3)."""
    limit = check_float(limit, "limit", low=0)
    if shape is None:
        return Initializer(uniform, limit=limit)
    return _uniform(shape, limit, rng, dtype)


def xavier_normal(shape=None, *, rng=None, dtype=np.float32):
    """N(0, 1/fan_in): the derivation of the deeplearning.ai notes (after
    Glorot & Bengio 2010) that keeps Var(a) equal across layers for tanh near
    0 (zero-mean i.i.d. weights and inputs, zero biases)."""
    if shape is None:
        return Initializer(xavier_normal)
    fan_in, _ = _fans(shape)
    return _normal(shape, math.sqrt(1.0 / fan_in), rng, dtype)


def xavier_uniform(shape=None, *, rng=None, dtype=np.float32):
    """U(+-sqrt(3/fan_in)): the same variance 1/fan_in as xavier_normal.
    Keras and JAX call this ``lecun_uniform`` (also available by that name)."""
    if shape is None:
        return Initializer(xavier_uniform)
    fan_in, _ = _fans(shape)
    return _uniform(shape, math.sqrt(3.0 / fan_in), rng, dtype)


def glorot_normal(shape=None, *, rng=None, dtype=np.float32):
    """N(0, 2/(fan_in + fan_out)), Glorot & Bengio (2010): a compromise
    between keeping forward (1/fan_in) and backward (1/fan_out) variances.
    PyTorch calls this ``xavier_normal_``."""
    if shape is None:
        return Initializer(glorot_normal)
    fan_in, fan_out = _fans(shape)
    return _normal(shape, math.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def glorot_uniform(shape=None, *, rng=None, dtype=np.float32):
    """U(+-sqrt(6/(fan_in + fan_out))), Glorot & Bengio's (2010) "normalized
    initialization", eq. 16 (Keras's default; PyTorch's ``xavier_uniform_``)."""
    if shape is None:
        return Initializer(glorot_uniform)
    fan_in, fan_out = _fans(shape)
    return _uniform(shape, math.sqrt(6.0 / (fan_in + fan_out)), rng, dtype)


def he_normal(shape=None, *, rng=None, dtype=np.float32):
    """N(0, 2/fan_in), He et al. (2015): ReLU zeroes half of its inputs, so
    the weights need twice the variance (PyTorch's ``kaiming_normal_``)."""
    if shape is None:
        return Initializer(he_normal)
    fan_in, _ = _fans(shape)
    return _normal(shape, math.sqrt(2.0 / fan_in), rng, dtype)


def he_uniform(shape=None, *, rng=None, dtype=np.float32):
    """U(+-sqrt(6/fan_in)): variance 2/fan_in."""
    if shape is None:
        return Initializer(he_uniform)
    fan_in, _ = _fans(shape)
    return _uniform(shape, math.sqrt(6.0 / fan_in), rng, dtype)


def lecun_normal(shape=None, *, rng=None, dtype=np.float32):
    """Truncated normal with variance 1/fan_in (LeCun et al. 1998; the
    Keras/JAX ``lecun_normal``, used with SELU)."""
    if shape is None:
        return Initializer(lecun_normal)
    fan_in, _ = _fans(shape)
    return _truncated_normal(shape, math.sqrt(1.0 / fan_in) / _TRUNCATED_STD, rng, dtype)


#: U(+-sqrt(3/fan_in)), variance 1/fan_in: the same distribution as
#: :func:`xavier_uniform`, under the name Keras and JAX give it.
lecun_uniform = xavier_uniform


def orthogonal(shape=None, *, gain=1.0, rng=None, dtype=np.float32):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014): the QR
    decomposition of a Gaussian matrix, signs fixed so the result is
    uniformly (Haar) distributed.  Rows are orthonormal when fan_in <= fan_out,
    columns otherwise."""
    gain = check_float(gain, "gain", low=0)
    if shape is None:
        return Initializer(orthogonal, gain=gain)
    fan_in, fan_out = _fans(shape)
    a = as_rng(rng).standard_normal((max(fan_in, fan_out), min(fan_in, fan_out)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the factorisation unique: Haar measure
    if fan_in < fan_out:
        q = q.T
    return _finish(gain * q, dtype)


def variance_scaling(shape=None, *, scale=1.0, mode="fan_in",
                     distribution="truncated_normal", rng=None, dtype=np.float32):
    """Variance ``scale / n`` with n = fan_in, fan_out or their mean
    (``mode`` = "fan_in", "fan_out", "fan_avg"), drawn from a normal, a
    normal truncated at +-2 std (its std corrected for the truncation by
    dividing by 0.8796..., so the variance is exact) or a uniform."""
    scale = check_float(scale, "scale", low=0, low_open=True)
    check_choice(mode, "mode", ("fan_in", "fan_out", "fan_avg"))
    check_choice(distribution, "distribution", ("normal", "truncated_normal", "uniform"))
    if shape is None:
        return Initializer(variance_scaling, scale=scale, mode=mode,
                           distribution=distribution)
    fan_in, fan_out = _fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    var = scale / n
    if distribution == "normal":
        return _normal(shape, math.sqrt(var), rng, dtype)
    if distribution == "uniform":
        return _uniform(shape, math.sqrt(3.0 * var), rng, dtype)
    return _truncated_normal(shape, math.sqrt(var) / _TRUNCATED_STD, rng, dtype)


def gain(activation, param=None):
    """PyTorch's recommended gain for an activation (``calculate_gain``):
    identity/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu
    sqrt(2 / (1 + slope^2)) with slope ``param`` (default 0.01, as
    :class:`initreg.MLP`'s ``leaky_slope``)."""
    slope = LEAKY_SLOPE if param is None else check_float(param, "param")
    return _activation(activation).gain(slope)


#: The names ``MLP(init=...)`` and :func:`get` accept.  "xavier" is
#: xavier_normal (the fan-in derivation), "glorot" glorot_uniform (the
#: paper's normalized init), "he" he_normal, "lecun" lecun_normal, "small"
#: N(0, 0.01^2), "large" N(0, 1), "normal" N(0, 1), "uniform" U(-1, 1),
#: "constant" 0.5 everywhere.
INITIALIZERS = {
    "zeros": zeros(),
    "constant": constant(value=0.5),
    "normal": normal(std=1.0),
    "uniform": uniform(limit=1.0),
    "small": normal(std=SMALL_STD),
    "large": normal(std=LARGE_STD),
    "xavier": xavier_normal(),
    "xavier_normal": xavier_normal(),
    "xavier_uniform": xavier_uniform(),
    "glorot": glorot_uniform(),
    "glorot_normal": glorot_normal(),
    "glorot_uniform": glorot_uniform(),
    "he": he_normal(),
    "he_normal": he_normal(),
    "he_uniform": he_uniform(),
    "lecun": lecun_normal(),
    "lecun_normal": lecun_normal(),
    "lecun_uniform": lecun_uniform(),
    "orthogonal": orthogonal(gain=1.0),
}


#: The initializers of :data:`INITIALIZERS` that take one number, and its
#: keyword: what :func:`with_parameter` sets (``initreg train --init-param``,
#: the playground's "gain" field).
PARAMETER = {"orthogonal": "gain", "normal": "std", "uniform": "limit", "constant": "value"}


def with_parameter(name, value=None):
    """The initializer called ``name`` with its one number (see
    :data:`PARAMETER`) set to ``value``; the name itself when ``value`` is
    None.  ``with_parameter("orthogonal", 2 ** 0.5)`` is
    ``orthogonal(gain=2 ** 0.5)``."""
    get(name)
    if value is None:
        return name
    if name not in PARAMETER:
        raise ValueError(f"initializer {name!r} has no parameter; those with one: "
                         f"{', '.join(f'{k} ({v})' for k, v in PARAMETER.items())}")
    value = check_float(value, PARAMETER[name], low=None if name == "constant" else 0)
    return globals()[name](**{PARAMETER[name]: value})


def names():
    """The names :func:`get` (and ``MLP(init=...)``) understand."""
    return tuple(INITIALIZERS)


def get(init):
    """Resolve an initializer name (see :data:`INITIALIZERS`) or pass a
    callable ``f(shape, *, rng, dtype)`` through."""
    if callable(init):
        return init
    if isinstance(init, str) and init in INITIALIZERS:
        return INITIALIZERS[init]
    raise ValueError(f"unknown initializer {init!r}; known: {', '.join(names())} "
                     "(or pass a callable f(shape, *, rng, dtype))")


_PUBLIC = ("zeros", "constant", "normal", "uniform", "xavier_normal", "xavier_uniform",
           "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal",
           "lecun_uniform", "orthogonal", "variance_scaling")


def describe(init):
    """A JSON-able description of an ``init`` argument of :class:`initreg.MLP`
    (a name, an initializer of this module with or without parameters, or a
    list of them); :func:`restore` is its inverse.  Other callables cannot be
    stored: they are described by their repr."""
    if isinstance(init, (list, tuple)):
        return [describe(i) for i in init]
    if isinstance(init, str):
        return init
    if isinstance(init, Initializer) and init.name in _PUBLIC:
        return _recipes.describe("initializer", init.name, init.params, init)
    if getattr(init, "__module__", None) == __name__ and getattr(init, "__name__", "") in _PUBLIC:
        return _recipes.describe("initializer", init.__name__, {}, init)
    return _recipes.describe("initializer", None, {}, init)


def _build(name, params):
    if name not in _PUBLIC:
        raise ValueError(f"unknown initializer {name!r}")
    return globals()[name](**params)


def restore(desc):
    """The ``init`` argument described by :func:`describe`."""
    if isinstance(desc, list):
        return [restore(d) for d in desc]
    if isinstance(desc, str):
        return desc
    if isinstance(desc, dict) and "function" in desc:  # format version 1
        desc = {"initializer": desc["function"], "params": {}}
    return _recipes.restore(desc, "initializer", _build, "initializer",
                            "build a new MLP with init=... to draw fresh weights")


def lsuv(model, X, *, tol=0.05, max_iter=10, rng=None):
    """Layer-sequential unit-variance initialization (Mishkin & Matas 2015).

    Re-initializes ``model`` (an :class:`initreg.MLP`): every weight matrix
    becomes orthogonal (:func:`orthogonal`), biases zero; then, layer by
    layer from the input, the weights are rescaled until the variance of that
    layer's pre-activations on the batch ``X`` is within ``tol`` of 1 (at most
    ``max_iter`` rescalings per layer).  The work runs on a copy, and the
    model's parameters are replaced in one piece at the end (RuntimeError,
    model untouched, while another thread trains it).  Returns the final
    variance of each layer.  Data-dependent, so it runs on a model, not on a
    shape.
    """
    if not callable(getattr(model, "_scratch_copy", None)):
        raise TypeError(f"lsuv needs an initreg.MLP, got {type(model).__name__}")
    tol = check_float(tol, "tol", low=0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", low=1)
    gen = as_rng(rng)
    scratch = model._scratch_copy()
    for w in scratch.weights:
        w[...] = orthogonal(w.shape, rng=gen, dtype=w.dtype)
    variances = []
    for layer, w in enumerate(scratch.weights):
        for _ in range(max_iter):
            var = float(scratch.trace(X).pre_activations[layer].var())
            if not np.isfinite(var) or var == 0.0 or abs(var - 1.0) < tol:
                break
            w /= np.sqrt(var).astype(w.dtype)
        variances.append(float(scratch.trace(X).pre_activations[layer].var()))
    model._assign_parameters(scratch.parameters, reinitialized=True)
    return variances
