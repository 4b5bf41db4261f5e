"""Saved models: one .npz file of a JSON configuration and named arrays,
never pickled objects.

The file (a zip archive of .npy members) holds ``format`` ("initreg.MLP"),
``format_version``, ``config`` (JSON text: ``{"model": ..., "optimizer":
...}``) and the arrays: ``parameters`` (the model's flat buffer) and, when
an optimizer was saved with it, ``optimizer.<name>`` for each of its state
arrays.  Format version 1 (initreg 0.1) held the model's configuration
alone and is still read.

:func:`write` is atomic (:func:`initreg._files.atomic_write`).  :func:`read`
refuses a file before it allocates anything for it: it reads the member
list, the format, the version and the configuration (at most
:data:`MAX_CONFIG_BYTES`, nested at most :data:`MAX_JSON_DEPTH` deep) first,
then every array's .npy header, and checks dtype, shape and size against what
the configuration says the file must hold and against the memory available;
only then are the arrays read, each exactly to its announced size
(:mod:`initreg._npz`).  Every refusal is a ValueError naming the file and
what is wrong.
"""
from __future__ import annotations

import io
import json
import math

import numpy as np

from initreg import _npz
from initreg._files import atomic_write
from initreg._npz import Refused
from initreg._validation import check_memory

__all__ = ["FORMAT", "FORMAT_VERSION", "READABLE_VERSIONS", "MAX_CONFIG_BYTES",
           "MAX_JSON_DEPTH", "write", "dumps", "read"]

FORMAT = "initreg.MLP"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MAX_CONFIG_BYTES = 1 << 20
MAX_JSON_DEPTH = 32
# the three small members: each at most this many bytes of .npy
_SMALL_MEMBER_BYTES = 4 * MAX_CONFIG_BYTES + 4096


def _fill(f, config, arrays):
    text = json.dumps(config, allow_nan=False)
    np.savez_compressed(f, format=np.array(FORMAT), format_version=np.array(FORMAT_VERSION),
                        config=np.array(text), **arrays)


def write(path, config, arrays):
    """Write ``config`` (JSON-able) and ``arrays`` (name -> ndarray) to
    ``path`` atomically."""
    atomic_write(path, lambda f: _fill(f, config, arrays))


def dumps(config, arrays):
    """The bytes :func:`write` would put in a file."""
    buffer = io.BytesIO()
    _fill(buffer, config, arrays)
    return buffer.getvalue()


def read(path, expect):
    """Read a file written by :func:`write`.

    ``expect(config) -> {name: shape}`` says which arrays the (version-2
    shaped) configuration requires; it raises ValueError for a configuration
    it cannot accept.  Returns ``(config, arrays)``, arrays of float32 or
    float64 as stored."""
    with _npz.open_archive(path, "saved initreg model") as (members, z):
        return _read_model(members, z, expect)


def _read_model(members, z, expect):
    needed = {"format", "format_version", "config"}
    if not needed <= set(members) or "parameters" not in members:
        raise Refused(f"not an initreg model file (it holds {sorted(members)[:10]})")
    fmt = _npz.read_small(z, members["format"], "U", _SMALL_MEMBER_BYTES)
    if fmt.shape != () or str(fmt) != FORMAT:
        raise Refused(f"holds {str(fmt)[:80]!r}, not an {FORMAT} model")
    version = _npz.read_small(z, members["format_version"], "iu", _SMALL_MEMBER_BYTES)
    if version.shape != () or int(version) not in READABLE_VERSIONS:
        newer = version.shape == () and int(version) > FORMAT_VERSION
        raise Refused(f"format version {version.tolist()!r} "
                      + (f"is newer than this initreg reads (up to {FORMAT_VERSION}); "
                         "upgrade initreg" if newer
                         else "was never written by initreg (it writes "
                              f"{', '.join(map(str, READABLE_VERSIONS))})"))
    text = _npz.read_small(z, members["config"], "U", _SMALL_MEMBER_BYTES)
    if text.shape != ():
        raise Refused("its configuration is not one text")
    config = _parse_config(str(text))
    if int(version) == 1:
        config = {"model": config, "optimizer": None}
    if not isinstance(config, dict) or set(config) != {"model", "optimizer"}:
        raise Refused("its configuration is not {model, optimizer}")
    try:
        shapes = expect(config)
    except (ValueError, TypeError, KeyError) as exc:
        raise Refused(f"describes a model initreg cannot build: {exc}") from None
    extra = set(members) - needed - set(shapes)
    missing = set(shapes) - set(members)
    if extra or missing:
        raise Refused(f"its arrays {sorted(set(members) - needed)} are not those its "
                      f"configuration needs ({sorted(shapes)})")
    headers = {name: _npz.header(z, members[name], name, shape)
               for name, shape in shapes.items()}
    total = sum(math.prod(shape) * dtype.itemsize for shape, dtype, _ in headers.values())
    check_memory(2 * total, "its arrays")
    return config, {name: _npz.read_array(z, members[name], *headers[name]) for name in shapes}


def _parse_config(text):
    if len(text) > MAX_CONFIG_BYTES:
        raise Refused(f"its configuration is {len(text)} characters long (at most "
                       f"{MAX_CONFIG_BYTES})")
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:  # nesting depth before json's recursion can meet it
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    if deepest > MAX_JSON_DEPTH:
        raise Refused(f"its configuration is nested {deepest} deep (at most {MAX_JSON_DEPTH})")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise Refused(f"has a corrupt configuration: {exc}") from None


def _no_constant(name):
    raise Refused(f"its configuration holds {name}, which is not JSON")
