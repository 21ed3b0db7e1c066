"""Room set aside in the state folder for the catalog spool.

The spool is for when the catalog refuses writes, and with SQLite (its file lives in the
state folder too) that is exactly when the state folder is full: the spooled row was then
lost with only a traceback. So the room is set aside beforehand, as a file of zeros. An
append that fails for space gives the reserve back and tries again, with a critical alert;
with no reserve left it fails loudly. The supervisor puts the reserve back once the
folder has room again.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
from pathlib import Path
from typing import Any

from nvr_edge.catalog.spool import Spool
from nvr_edge.fsutil import fsync_dir
from nvr_edge.models import Alert, AlertLevel

log = logging.getLogger(__name__)

# ~8,000 spooled rows (about 500 bytes each): a day of 10 s segments for one camera.
# A constant until there is a config key for it (storage.spool_reserve_mb).
RESERVE_BYTES = 4 * 1024 * 1024
RESERVE_FILE = "spool-reserve"
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class SpoolFull(OSError):
    """A catalog write that could be neither applied nor spooled."""


class SpaceReserve:
    """A file of `size` zero bytes that can be given back to the file system at once."""

    def __init__(self, path: Path, size: int = RESERVE_BYTES) -> None:
        self.path, self.size = path, size

    @property
    def held(self) -> bool:
        try:
            return self.path.stat().st_size >= self.size
        except OSError:
            return False

    def ensure(self) -> bool:
        """Hold the reserve if the folder can spare it twice over; True when held."""
        if self.held:
            return True
        tmp = self.path.with_suffix(".tmp")
        try:
            st = os.statvfs(self.path.parent)
            if st.f_bavail * st.f_frsize < 2 * self.size:
                return False
            with open(tmp, "wb") as f:  # real zeros: fallocate is not everywhere
                f.write(bytes(self.size))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            fsync_dir(self.path.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.warning("cannot set aside %d bytes for the catalog spool in %s: %s",
                        self.size, self.path.parent, exc)
            return False
        return True

    def release(self) -> bool:
        """Give the room back; True when there was a reserve to give."""
        held = self.held
        self.path.unlink(missing_ok=True)
        return held


class ReservedSpool(Spool):
    """A spool that spends its reserve rather than lose a write, and says so. Alerts are
    queued (appends happen on the mover's thread too); the supervisor sends them."""

    def __init__(self, path: Path, reserve: SpaceReserve) -> None:
        super().__init__(path)
        self.reserve = reserve
        self.alerts: queue.SimpleQueue[Alert] = queue.SimpleQueue()

    def append(self, op: dict[str, Any]) -> None:
        size = self._size()
        try:
            super().append(op)
            return
        except OSError as exc:
            if exc.errno not in NO_SPACE_ERRNOS:
                raise
            self._cut(size)  # a torn half line would swallow the entry written after it
            if not self.reserve.release():
                self._lost(op, exc)
            self.alerts.put(Alert("state_folder_full", AlertLevel.CRITICAL,
                                  f"the state folder ({self.path.parent}) is full: the "
                                  "catalog spool is using its reserve; free space there"))
            log.critical("state folder %s full: spool reserve released", self.path.parent)
        try:
            super().append(op)
        except OSError as exc:
            self._cut(size)
            self._lost(op, exc)

    def _lost(self, op: dict[str, Any], exc: OSError) -> None:
        message = (f"catalog write {op.get('op')!r} could not be spooled: the state folder "
                   f"({self.path.parent}) is full and its reserve is spent")
        log.critical("%s (%s)", message, exc)
        self.alerts.put(Alert("catalog_spool_full", AlertLevel.CRITICAL, message))
        raise SpoolFull(exc.errno, message) from exc

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _cut(self, size: int) -> None:
        try:
            os.truncate(self.path, size)
        except OSError as exc:
            log.error("cannot cut the torn end off %s: %s", self.path, exc)
