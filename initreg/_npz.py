"""Reading .npz archives without trusting them: the path must be a regular
file, every member an .npy array whose header is read (and checked) before
its data, object arrays are refused (nothing is unpickled), and each array
is read exactly to the size its header announces.

Refusals are :class:`Refused` (a ValueError) saying what is wrong; callers
add the file's name.
"""
from __future__ import annotations

import contextlib
import lzma
import math
import os
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["Refused", "open_archive", "npy_header", "read_small", "header", "read_array"]


class Refused(ValueError):
    """Not a readable archive of the expected kind (the message says why)."""


@contextlib.contextmanager
def open_archive(path, what):
    """Yields ``{name: ZipInfo}`` of the .npy members of the archive at
    ``path`` and the open ZipFile, as ``(members, zipfile)``.  ``what`` names
    the kind of file in errors.  A FIFO or device is refused without being
    opened for a blocking read; errors of the zip layer become ValueError
    naming the file."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise IsADirectoryError(f"{path} is a directory, not {what}") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"no {what} at {path}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(f"{path} is a directory, not {what}")
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file (a FIFO, device or socket); "
                             f"initreg reads {what}s from regular files only")
        try:
            if f.read(4) != b"PK\x03\x04":  # every .npz is a zip archive
                raise Refused(f"not {what} (not an .npz archive)")
            f.seek(0)
            with zipfile.ZipFile(f) as z:
                members = {}
                for m in z.infolist():
                    if not m.filename.endswith(".npy") or m.is_dir():
                        raise Refused(f"not {what} (it holds {m.filename!r})")
                    members[m.filename[:-4]] = m
                yield members, z
        except Refused as exc:
            raise ValueError(f"{path}: {exc}") from None
        # what a damaged archive makes the zip layer raise: bad structures,
        # bad compressed data, "encrypted" flags, impossible seeks
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError,
                EOFError, NotImplementedError, RuntimeError, OSError) as exc:
            raise ValueError(f"{path} is not a readable {what} (truncated or corrupt: "
                             f"{exc})") from None


def npy_header(handle, name):
    try:
        major, _ = np.lib.format.read_magic(handle)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif major in (2, 3):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise Refused(f"array {name!r} has a .npy version {major} initreg does not read")
    except ValueError as exc:
        if isinstance(exc, Refused):
            raise
        raise Refused(f"array {name!r} has a corrupt .npy header ({exc})") from None
    if dtype.hasobject:
        raise Refused(f"array {name!r} holds pickled objects; initreg never unpickles")
    return tuple(shape), fortran, dtype


def read_small(z, info, kinds, limit):
    """A small member of at most ``limit`` bytes, whose dtype kind is one of
    ``kinds``, read whole."""
    name = info.filename[:-4]
    if info.file_size > limit:
        raise Refused(f"its {name!r} entry is {info.file_size} bytes (at most {limit})")
    with z.open(info) as handle:
        shape, fortran, dtype = npy_header(handle, name)
        if dtype.kind not in kinds or math.prod(shape) * dtype.itemsize > limit:
            raise Refused(f"its {name!r} entry is of the wrong kind ({dtype}, shape {shape})")
        return exact(handle, name, shape, fortran, dtype)


def header(z, info, name, shape, dtypes=(np.float32, np.float64)):
    """Check a member's header (dtype among ``dtypes``; ``shape``, unless
    None) before its data is read; returns (shape, dtype, fortran)."""
    with z.open(info) as handle:
        got, fortran, dtype = npy_header(handle, name)
    if not any(dtype.newbyteorder("=") == np.dtype(d) for d in dtypes):
        raise Refused(f"array {name!r} is of {dtype}, not "
                      f"{' or '.join(np.dtype(d).name for d in dtypes)}")
    if shape is not None and got != tuple(shape):
        raise Refused(f"array {name!r} has shape {got}; its configuration needs {tuple(shape)}")
    return got, dtype, fortran


def read_array(z, info, shape, dtype, fortran):
    name = info.filename[:-4]
    with z.open(info) as handle:
        npy_header(handle, name)
        return exact(handle, name, shape, fortran, dtype)


def exact(handle, name, shape, fortran, dtype):
    """Exactly the announced data, and nothing after it (which also makes
    the zip check the member's checksum)."""
    nbytes = math.prod(shape) * dtype.itemsize
    data = handle.read(nbytes)
    if len(data) != nbytes or handle.read(1):
        raise Refused(f"array {name!r} does not hold the {nbytes} bytes its header "
                      "announces (truncated or corrupt)")
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return arr.astype(dtype.newbyteorder("="), copy=True)
