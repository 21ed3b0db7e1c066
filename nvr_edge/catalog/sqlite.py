"""The embedded default catalog: one SQLite file, WAL, fully synchronous commits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nvr_edge.catalog.base import CatalogError, SqlCatalog
from nvr_edge.hookspecs import hookimpl


class SqliteCatalog(SqlCatalog):
    def _connect(self) -> sqlite3.Connection:
        path = Path(self.url.removeprefix("sqlite://"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(f"cannot create {path.parent}: {exc.strerror}") from None
        # The supervisor writes; CLI commands read at the same time: WAL lets both proceed.
        conn = sqlite3.connect(path, timeout=10, check_same_thread=False)  # lock in SqlCatalog
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a catalog row survives a power cut
        return conn


@hookimpl
def nvr_catalog_open(url: str) -> SqliteCatalog | None:
    return SqliteCatalog(url) if url.startswith("sqlite://") else None
