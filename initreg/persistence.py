"""Saving and loading models: one .npz file, never pickled objects.

The file holds ``format`` ("initreg.MLP"), ``format_version``, ``config`` (JSON
text: architecture, initializer description, dtype, seed) and ``parameters``
(the flat buffer).  Writing is atomic: a temporary file in the target's
directory, flushed to disk, then renamed over the target.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "initreg.MLP"
FORMAT_VERSION = 1

__all__ = ["save_model", "load_model", "FORMAT", "FORMAT_VERSION"]


def save_model(model, path):
    """Write ``model`` to ``path`` atomically (the name is used as given)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; give a file name to save to")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(
                f, format=np.array(FORMAT), format_version=np.array(FORMAT_VERSION),
                config=np.array(json.dumps(model._config())),
                parameters=model.parameters)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_model(path):
    """Read a model written by :func:`save_model`."""
    from initreg.model import MLP

    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a saved initreg model")
    if not path.exists():
        raise FileNotFoundError(f"no saved model at {path}")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # every .npz is a zip archive
            raise ValueError(f"{path} is not an initreg model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as f:
            files = set(f.files)
            needed = {"format", "format_version", "config", "parameters"}
            if not needed <= files:
                raise ValueError(f"{path} is not an initreg model file (it holds "
                                 f"{sorted(files)})")
            if str(f["format"]) != FORMAT:
                raise ValueError(f"{path} holds {str(f['format'])!r}, not an {FORMAT} model")
            version = int(f["format_version"])
            if version > FORMAT_VERSION:
                raise ValueError(f"{path} was written by a newer initreg (format version "
                                 f"{version}; this one reads up to {FORMAT_VERSION})")
            config = json.loads(str(f["config"]))
            parameters = np.array(f["parameters"])
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        if isinstance(exc, (IsADirectoryError, FileNotFoundError, PermissionError)):
            raise
        raise ValueError(f"{path} is not a readable initreg model file "
                         f"(truncated or corrupt: {exc})") from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"{path} has a corrupt configuration: {exc}") from None
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ValueError(f"{path} holds pickled objects; initreg never unpickles") from None
        if str(path) in str(exc):
            raise
        raise ValueError(f"{path} is not a readable initreg model file ({exc})") from None
    try:
        return MLP._from_config(config, parameters)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} describes a model initreg cannot build: {exc}") from None
