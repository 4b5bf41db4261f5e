"""The version of this copy of initreg.

The number is written once, as ``version`` in ``pyproject.toml``.  An
installed copy reads it from its package metadata.  A source tree (built in
place with ``python setup.py build_ext --inplace``, or installed in editable
mode) reads the ``pyproject.toml`` it sits in: metadata found on the path
may have been written for another copy or an older state of the tree.  A
copy with neither says ``0+unknown`` rather than a number that could be
wrong.
"""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

__all__ = ["UNKNOWN", "version_of"]

UNKNOWN = "0+unknown"

_PROJECT_TABLE = re.compile(r"^\[project\]\s*$(?P<body>.*?)(?=^\[|\Z)", re.M | re.S)
_FIELD = re.compile(r"""^(?P<key>name|version)\s*=\s*["'](?P<value>[^"']+)["']""", re.M)


def version_of(package_dir: str | Path) -> str:
    """The version of the initreg package whose directory is ``package_dir``.

    Parameters
    ----------
    package_dir : str or path
        The directory of the package (the one holding ``__init__.py``).

    Returns
    -------
    str
        The version in the ``pyproject.toml`` of the source tree around the
        package; else the version in the package metadata installed with this
        very directory; else ``"0+unknown"``.
    """
    package_dir = Path(package_dir).resolve()
    found = _from_pyproject(package_dir.parent / "pyproject.toml")
    if found is not None:
        return found
    for dist in metadata.distributions(name="initreg"):
        if Path(str(dist.locate_file("initreg"))).resolve() == package_dir:
            return dist.version
    return UNKNOWN


def _from_pyproject(path: Path) -> str | None:
    """``[project] version`` of ``path`` when it is initreg's pyproject.toml."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    table = _PROJECT_TABLE.search(text)
    if table is None:
        return None
    fields = {m["key"]: m["value"] for m in _FIELD.finditer(table["body"])}
    if fields.get("name") != "initreg":
        return None
    return fields.get("version")
