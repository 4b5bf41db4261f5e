"""Output directories that are not clobbered by accident."""
from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["OutputExists", "prepare_output"]


class OutputExists(FileExistsError):
    """The output directory holds files and ``force`` was not given."""


def prepare_output(out, force, outputs):
    """Create ``out``, or accept an empty one.  A non-empty one is refused
    unless ``force``; then only the entries matching ``outputs`` (names or
    glob patterns: what the command writes) are removed, nothing else."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputExists(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise OutputExists(f"{out} already exists and is not empty; use --force to "
                               "overwrite, or choose another --out")
        for pattern in outputs:
            for target in out.glob(pattern):
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out
