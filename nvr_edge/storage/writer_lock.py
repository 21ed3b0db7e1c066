"""Who may write a camera's files: the one process holding its writer lock.

Recovery cuts a `.part` file back to its last complete fragment, which destroys a segment
that is still being written. Age and "is a worker running" were guesses that failed (the
catalog down at boot, or a worker of a killed appliance that outlives it by seconds), so
each worker holds an exclusive `flock` on `<state>/writers/<camera>.lock` for its whole
life and recovery leaves alone every `.part` of a camera whose lock is held. The kernel
drops the lock when the process dies, however it dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

from nvr_edge.fsutil import flock_held

log = logging.getLogger(__name__)

POLL_S = 0.2


def lock_path(state_dir: Path, camera: str) -> Path:
    return state_dir / "writers" / f"{camera}.lock"


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def is_held(state_dir: Path, camera: str) -> bool:
    """True while a live process writes `camera`'s files."""
    return flock_held(lock_path(state_dir, camera))


class WriterLock:
    """Held by a camera worker from before it opens a file until it exits."""

    def __init__(self, state_dir: Path, camera: str) -> None:
        self.camera = camera
        self.path = lock_path(state_dir, camera)
        self.fd: int | None = None

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until no other process writes this camera's files (the worker of a killed
        appliance finishing its segment); False when `stop` is set first."""
        fd = _open(self.path)
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.warning("%s: another process still writes this camera's files; "
                                "waiting for it to exit", self.camera)
                    waited = True
                if stop.wait(POLL_S):
                    os.close(fd)
                    return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        if waited:
            log.info("%s: the previous writer is gone", self.camera)
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
