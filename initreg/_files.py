"""Files written so that a crash never leaves half of one, and output
directories that are not clobbered by accident.

:func:`atomic_write` is how initreg writes every file it creates (saved
models, reports, sweep results): the content goes to a temporary file in the
target's directory, which is flushed to disk, renamed over the target, and
the directory is flushed too, so the rename survives a power cut.  A process
killed while writing leaves only its temporary file, named
``.<target>.<pid>.<random>.initreg-tmp``; the next write to the same
directory removes such files of processes that no longer run.

The new file gets the mode of the file it replaces, or ``0666`` less the
umask for a new file.  A symbolic link is followed: the file it points to is
replaced and the link stays.  A path that is a device, FIFO or socket is
refused, never replaced.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from pathlib import Path

__all__ = ["OutputExists", "prepare_output", "atomic_write", "TMP_SUFFIX"]

TMP_SUFFIX = ".initreg-tmp"
_TMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}"
                       + re.escape(TMP_SUFFIX) + "$")


class OutputExists(FileExistsError):
    """The output directory holds files and ``force`` was not given."""


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def remove_stale_temporaries(directory):
    """Delete the temporary files of atomic writes whose process is gone;
    returns their names."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            m = _TMP_NAME.match(entry.name)
            if m and entry.is_file(follow_symlinks=False) and not _alive(int(m["pid"])):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # not every platform can open a directory
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # file systems without it
            raise
    finally:
        os.close(fd)


def atomic_write(path, write, *, binary=True):
    """Write a file atomically: ``write(f)`` fills an open temporary file,
    which then replaces ``path`` (see the module docs for what that
    guarantees).  Returns the path written (a link's target for a link).
    OSError (a full disk, say) leaves no temporary file behind."""
    path = Path(path)
    if not str(path) or path.name in ("", ".", ".."):
        raise ValueError(f"{str(path)!r} is not a file name to write to")
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; give a file name to write to")
    if path.exists() and not path.is_file():
        raise ValueError(f"{path} exists and is not a regular file (a device, FIFO or "
                         "socket); initreg replaces regular files only")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"directory {directory} does not exist")
    remove_stale_temporaries(directory)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") if binary else \
                os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)
    return path


def prepare_output(out, force, outputs):
    """Create ``out``, or accept an empty one.  A non-empty one is refused
    unless ``force``; then only the entries matching ``outputs`` (names or
    glob patterns, relative to ``out``: what the command writes) are
    removed, nothing else."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputExists(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise OutputExists(f"{out} already exists and is not empty; use --force to "
                               "overwrite, or choose another --out")
        for pattern in outputs:
            for target in out.glob(pattern):
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out
