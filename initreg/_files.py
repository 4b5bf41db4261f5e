"""Files written so that a crash never leaves half of one, and output
directories that are not clobbered by accident.

:func:`atomic_write` is how initreg writes every file it writes whole
(saved models, reports and their figures, sweep tables and figures, results
saved by ``to_json``): the content goes to a temporary file in the target's
directory, which is flushed to disk, renamed over the target, and the
directory is flushed too, so the rename survives a power cut.  (A sweep's
``records.jsonl`` is appended line by line instead; a resumed sweep drops a
line cut short.)  A process killed while writing leaves only its temporary
file, named ``.<target>.<host>.<pid>.<random>.initreg-tmp``; the next write
to the same directory from the same host removes those of processes that no
longer run there, and any such file a day old.

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
import time
from pathlib import Path

__all__ = ["OutputExists", "prepare_output", "atomic_write", "TMP_SUFFIX"]

TMP_SUFFIX = ".initreg-tmp"
_TMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<host>[0-9a-f]{8})\.(?P<pid>\d+)\.[0-9a-f]{8}"
                       + re.escape(TMP_SUFFIX) + "$")
# a temporary file this old is abandoned, whoever wrote it
_ABANDONED_SECONDS = 24 * 3600


def _host():
    """This host, as temporary names carry it: a pid means something only
    on the host (and pid namespace) that wrote it."""
    import hashlib
    import socket
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


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
    """Delete the temporary files of atomic writes whose process (on this
    host) is gone, or that are a day old; returns their names."""
    removed, host, now = [], _host(), time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            m = _TMP_NAME.match(entry.name)
            if not m or not entry.is_file(follow_symlinks=False):
                continue
            with contextlib.suppress(FileNotFoundError):
                dead = m["host"] == host and not _alive(int(m["pid"]))
                if dead or now - entry.stat(follow_symlinks=False).st_mtime > _ABANDONED_SECONDS:
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def _umask():
    """The process's umask, read without changing it where Linux shows it
    (os.umask would change it for every thread for a moment)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("Umask:")).split()[1], 8)
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
    tmp = directory / f".{path.name}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}"
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
