"""The embedded default catalog: one SQLite file, WAL, fully synchronous commits.

The file can be lost under a running appliance (deleted, replaced, overwritten) or found
damaged at start. Segment files are the truth and every row can be rebuilt from them, so a
damaged catalog is set aside (kept for inspection, never deleted) and an empty one takes
its place; the appliance then indexes the files again (see `heal_storage`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from nvr_edge.catalog.base import CatalogError, SqlCatalog
from nvr_edge.hookspecs import hookimpl
from nvr_edge.models import now_ms

log = logging.getLogger(__name__)

HEADER = b"SQLite format 3\x00"
# Closing any descriptor of the file drops every POSIX lock this process holds on it,
# SQLite's included: the header is read through one descriptor kept open beside the
# connection and closed only with it.
DAMAGED = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
SIDE_FILES = ("-wal", "-shm")  # they belong to the file they were made with
OPEN_TIMEOUT_S = 10.0  # another process's write lock (or WAL switch) is waited for this long


class SqliteCatalog(SqlCatalog):
    def __init__(self, url: str, create: bool = True) -> None:
        self.path = Path(url.removeprefix("sqlite://"))
        self.create = create
        self.identity: tuple[int, int] | None = None
        self.probe_fd: int | None = None
        self.set_aside: str | None = None  # damage found at open, reported once
        super().__init__(url)

    def _connect(self) -> sqlite3.Connection:
        if not self.create and not self.path.exists():
            raise CatalogError(f"catalog {self.path} does not exist")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(f"cannot create {self.path.parent}: {exc.strerror}") from None
        # The supervisor writes; CLI commands read at the same time: WAL lets both proceed.
        try:
            conn = self._open_wal()
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in DAMAGED:
                raise  # locked, no permission...: not a reason to set the file aside
            damage = f"not a SQLite file (overwritten or damaged: {exc})"
            if not self.create:
                raise CatalogError(f"catalog {self.path}: {damage}") from None
            self.set_aside = f"{damage}; set aside as {self._set_aside().name}"
            conn = self._open_wal()
        if self.probe_fd is None:
            self.probe_fd = os.open(self.path, os.O_RDONLY)
        stat = os.fstat(self.probe_fd)
        self.identity = (stat.st_dev, stat.st_ino)
        return conn

    def _open_wal(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=OPEN_TIMEOUT_S,  # lock: base
                               check_same_thread=False)
        try:
            self._enter_wal(conn)
            conn.execute("PRAGMA synchronous=FULL")  # a catalog row survives a power cut
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    @staticmethod
    def _enter_wal(conn: sqlite3.Connection) -> None:
        """WAL mode, waiting for other openers: the switch can answer "database is locked"
        at once, without SQLite's busy wait, while another process makes the same switch
        (three workers opening a new catalog together failed so on a loaded machine)."""
        deadline = time.monotonic() + OPEN_TIMEOUT_S
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _migrate(self) -> None:
        if self.create:  # `check` and other readers never change the catalog
            super()._migrate()

    def _lock_schema(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")  # the write lock now, waited for up to `timeout`

    def _damage(self) -> str | None:
        """What is wrong with the file at our path, from its identity and header."""
        if self.probe_fd is None:
            return None  # not open: the next open finds what is wrong
        try:
            stat = self.path.stat()
            header = os.pread(self.probe_fd, len(HEADER), 0)
        except FileNotFoundError:
            return "the file was deleted" if self.identity else None
        except OSError as exc:
            return f"cannot read it ({exc.strerror})"
        if self.identity and (stat.st_dev, stat.st_ino) != self.identity:
            return "the file was replaced"
        if (header and header != HEADER) or (not header and stat.st_size):
            return "not a SQLite file (overwritten or damaged)"
        return None

    def _set_aside(self) -> Path:
        aside = self.path.with_name(f"{self.path.name}.damaged-{now_ms()}")
        self.path.rename(aside)
        for suffix in SIDE_FILES:
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(aside.with_name(aside.name + suffix))
        return aside

    def _close_files(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            if self.probe_fd is not None:  # after the connection: see HEADER
                os.close(self.probe_fd)
                self.probe_fd = None

    def close(self) -> None:
        self._close_files()

    def heal_storage(self) -> str | None:
        with self.lock:
            if self.set_aside:
                found, self.set_aside = self.set_aside, None
                return found
            damage = self._damage()
            if damage is None or not self.create:
                return None
            self._close_files()
            if self.path.exists():
                damage = f"{damage}; set aside as {self._set_aside().name}"
            else:  # deleted: its -wal and -shm must not be replayed into the new file
                for suffix in SIDE_FILES:
                    self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            self.identity = None
            self._connection()
            self.set_aside = None
            super()._migrate()
            log.error("catalog %s: %s; started an empty one", self.path, damage)
            return damage


@hookimpl
def nvr_catalog_open(url: str, create: bool) -> SqliteCatalog | None:
    return SqliteCatalog(url, create) if url.startswith("sqlite://") else None
