"""The validation boundary: every user value passes through here once.

The compiled core trusts its inputs (no bounds checks), so these functions
are what stands between a user's mistake and a crash.  Each either returns a
value the core can use as is -- a C-contiguous float32/float64 array, an int64
label vector, a checked number -- or raises ``TypeError`` / ``ValueError``
naming the argument and what was expected.  Conversions are documented and
done at most once; user arrays are never modified.
"""
from __future__ import annotations

import math
import numbers
import operator
import os

import numpy as np

from initreg._core import _kernels

FLOAT_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}
# Index sizes BLAS (32-bit int) can take.
MAX_DIM = 2**31 - 1


def _meminfo_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**46


def _address_space_left():
    """What RLIMIT_AS still allows this process to map, or None."""
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        mapped = 0
    return max(soft - mapped, 0)


def _cgroup_left():
    """What the process's cgroup (v2) memory limit still allows, or None."""
    try:
        with open("/proc/self/cgroup") as f:
            path = next((line.strip().split(":", 2)[2] for line in f
                         if line.startswith("0::")), None)
        if path is None:
            return None
        base = os.path.join("/sys/fs/cgroup", path.lstrip("/"))
        with open(os.path.join(base, "memory.max")) as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open(os.path.join(base, "memory.current")) as f:
            return max(int(limit) - int(f.read().strip()), 0)
    except (OSError, ValueError, IndexError):
        return None


def memory_limit():
    """Bytes of memory this process can still use: Linux's MemAvailable (else
    the physical memory), lowered by an address-space limit (RLIMIT_AS) and a
    cgroup memory limit when they are set."""
    limits = [_meminfo_available(), _address_space_left(), _cgroup_left()]
    return min(v for v in limits if v is not None)


def check_memory(nbytes, what):
    """Refuse, with a ValueError, work whose arrays would not fit in memory
    (instead of a MemoryError, or the kernel killing the process)."""
    available = memory_limit()
    if nbytes > available:
        raise ValueError(f"{what} would need {_size(nbytes)}; more than the "
                         f"{_size(available)} of memory available")


def _size(nbytes):
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def check_dtype(dtype, name="dtype"):
    """np.float32 or np.float64 from a name, a type or a dtype."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be 'float32' or 'float64', got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{name} must be 'float32' or 'float64', got {dtype!r}")
    return dt


def check_int(value, name, *, low=None, high=None):
    """An int (not a bool, not a float) within [low, high]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = operator.index(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_float(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """A finite real number within the given bounds, as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def check_bool(value, name):
    """True or False (a NumPy bool too), nothing else."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value, name, choices):
    """One of the given strings."""
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def _numeric_array(x, name):
    """np.asarray(x) that refuses what cannot be a real number."""
    if x is None:
        raise TypeError(f"{name} must be an array, got None")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists, say
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "b":
        raise TypeError(f"{name} must hold numbers, got a boolean array")
    if kind == "c":
        raise TypeError(f"{name} must be real, got a complex array")
    if kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def _finite_float(arr, name, dtype):
    """arr as a C-contiguous array of ``dtype`` without NaN or infinity.

    An array that already has that dtype and layout is returned as it is (the
    common case, kept cheap for per-batch calls); otherwise a converted copy,
    in which an overflow shows as inf.  Finiteness is one compiled pass, with
    no temporary boolean array."""
    if arr.dtype != dtype or not arr.flags.c_contiguous:
        with np.errstate(over="ignore"):
            arr = np.ascontiguousarray(arr, dtype=dtype)
    if not _kernels.all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinity (after conversion to {dtype})")
    return arr


def as_float_array(x, name, dtype, *, ndim=2, n_cols=None, n_rows=None):
    """A C-contiguous, finite array of ``dtype`` with the given rank.

    Integer and other float dtypes are converted (a copy); so are
    non-contiguous or Fortran-ordered arrays.  Read-only arrays are returned as
    they are when no conversion is needed: the core only reads them.
    """
    arr = _numeric_array(x, name)
    if arr.ndim != ndim:
        shape = "(n_samples, n_features)" if ndim == 2 else "(n_samples,)"
        raise ValueError(f"{name} must be {ndim}-D {shape}, got shape {arr.shape}")
    if arr.size == 0 or arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows, expected {n_rows}")
    if n_cols is not None and ndim == 2 and arr.shape[1] != n_cols:
        raise ValueError(f"{name} has {arr.shape[1]} columns, expected {n_cols}")
    return _finite_float(arr, name, dtype)


def as_labels(y, name, n_rows, n_classes):
    """Integer class labels in [0, n_classes) as a new contiguous int64
    vector.  Accepts any integer dtype, and floats that hold whole numbers."""
    arr = _numeric_array(y, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,) class labels, got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} labels for {n_rows} samples")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinity")
        if not np.array_equal(arr, np.round(arr)):
            raise ValueError(f"{name} must hold integer class labels, got fractional values")
    # always a copy: the compiled core indexes with these values, and the
    # caller's array could change while it runs
    labels = arr.astype(np.int64)  # a 1-D copy is C-contiguous
    if labels.size:
        lo, hi = _kernels.label_range(labels)
        if lo < 0 or hi >= n_classes:
            raise ValueError(
                f"{name} must hold labels in [0, {n_classes}) for {n_classes} outputs; "
                f"got values in [{lo}, {hi}]")
    return labels


def as_targets(y, name, n_rows, n_out, dtype, *, unit_interval):
    """Real-valued targets (n_rows, n_out); a 1-D y is taken as one column.

    With ``unit_interval`` (binary cross-entropy) values must lie in [0, 1].
    """
    arr = _numeric_array(y, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != n_out:
        raise ValueError(f"{name} must have shape ({n_rows}, {n_out})"
                         + (f" or ({n_rows},)" if n_out == 1 else "")
                         + f", got {np.shape(y)}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows for {n_rows} samples")
    targets = _finite_float(arr, name, dtype)
    if unit_interval and (targets.min() < 0 or targets.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1] for a sigmoid output")
    return targets
