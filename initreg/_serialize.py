"""Plain-JSON conversion of results (dataclasses of NumPy arrays), and the
base class that gives results their to_dict / to_json / from_dict.

Arrays become nested lists, NumPy scalars Python numbers; NaN and infinities,
which strict JSON cannot hold, become ``null``.  ``from_jsonable`` turns lists
of numbers back into arrays (``null`` back into NaN).
"""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np


def to_jsonable(obj):
    """A structure of dicts, lists, str, int, float, bool and None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            return to_jsonable(obj.astype(np.float64).tolist())
        return obj.tolist()
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        obj = float(obj)
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (int, str)):
        return obj
    return repr(obj)


def dumps(obj, indent=None):
    """Strict JSON text of ``obj``."""
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)


def as_array(value, dtype=None):
    """A list from JSON back to an array: ``None`` entries become NaN; the
    dtype is inferred (bool, int64 or float64) unless given."""
    if value is None:
        return None
    if dtype is None:
        leaves = list(_leaves(value))
        if leaves and all(isinstance(v, bool) for v in leaves):
            dtype = np.bool_
        elif leaves and all(isinstance(v, int) and not isinstance(v, bool) for v in leaves):
            dtype = np.int64
        else:
            dtype = np.float64
    return np.asarray(_none_to_nan(value), dtype=dtype)


def _leaves(value):
    if isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _none_to_nan(value):
    if isinstance(value, list):
        return [_none_to_nan(v) for v in value]
    return math.nan if value is None else value


def restore(value):
    """JSON values back to Python: lists of numbers (nested) become arrays,
    dicts are restored entry by entry, everything else stays."""
    if isinstance(value, dict):
        return {k: restore(v) for k, v in value.items()}
    if isinstance(value, list) and (not value or _numeric(value)):
        return as_array(value) if value else np.zeros(0)
    return value


def _numeric(value):
    if isinstance(value, list):
        return len(value) > 0 and all(_numeric(v) for v in value)
    return value is None or isinstance(value, (int, float))


class Serializable:
    """Mixin for result dataclasses: strict-JSON round trips."""

    def to_dict(self):
        """Plain Python values (lists, floats, None for NaN), JSON-ready."""
        return to_jsonable(self)

    def to_json(self, path=None, indent=None):
        """JSON text of :meth:`to_dict`; also written to ``path`` if given
        (atomically: :func:`initreg._files.atomic_write`)."""
        text = dumps(self, indent=indent)
        if path is not None:
            from initreg._files import atomic_write
            atomic_write(path, lambda f: f.write(text), binary=False)
        return text

    @classmethod
    def from_dict(cls, d):
        """The inverse of :meth:`to_dict`: numeric lists become arrays."""
        return cls(**{f.name: restore(d.get(f.name)) for f in dataclasses.fields(cls)})

    @classmethod
    def from_json(cls, text):
        """The inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))
