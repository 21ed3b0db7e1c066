"""File-system steps whose order is the crash-safety contract (see docs/STORAGE.md)."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
from pathlib import Path

_FALLOC_FL_KEEP_SIZE = 0x01
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)


def preallocate(fd: int, length: int) -> bool:
    """Reserve `length` bytes of blocks without changing the file's size.

    KEEP_SIZE (rather than posix_fallocate) means a crash leaves a file whose size is what
    was written, not a tail of zeros. False where the file system cannot (tmpfs, some FUSE).
    """
    if length <= 0:
        return False
    if _libc.fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, length) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err))


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durable(path: Path) -> None:
    """mkdir -p, fsyncing each parent that gained an entry (so the new folder survives)."""
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        fsync_dir(folder.parent)


def finish_file(fd: int, length: int, part: Path, final: Path) -> None:
    """Truncate away unused pre-allocation (or a crash's unplayable tail), fsync, rename
    `.part` to its final name, fsync the directory."""
    os.ftruncate(fd, length)
    os.fsync(fd)
    os.rename(part, final)
    fsync_dir(final.parent)


def finish_path(part: Path, length: int, final: Path) -> None:
    """`finish_file` for a file that is not open."""
    fd = os.open(part, os.O_RDWR)
    try:
        finish_file(fd, length, part, final)
    finally:
        os.close(fd)


def flock_held(path: Path) -> bool:
    """True while another open file of `path` holds an exclusive `flock` on it (this
    process's own count too: flock is per open file). Creates nothing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock this probe may have taken


def append_line(path: Path, line: bytes) -> int:
    """Append one newline-ended record and fsync it (and the folder, for a new file). A torn
    last line left by a crash mid-append is ended first, so it cannot swallow this record.
    Returns the file's size after."""
    new = not path.exists()
    with open(path, "a+b") as f:
        end = f.seek(0, os.SEEK_END)
        if end:
            f.seek(end - 1)
            if f.read(1) != b"\n":
                line = b"\n" + line
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
        size = f.tell()
    if new:
        fsync_dir(path.parent)
    return size
