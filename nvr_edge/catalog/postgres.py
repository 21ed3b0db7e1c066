"""The PostgreSQL catalog (psycopg 3), for operators who keep their index off the box."""

from __future__ import annotations

from typing import Any

from nvr_edge.catalog.base import SqlCatalog
from nvr_edge.hookspecs import hookimpl


class PostgresCatalog(SqlCatalog):
    placeholder = "%s"
    primary_key = "BIGSERIAL PRIMARY KEY"

    def _connect(self) -> Any:
        import psycopg  # imported here: SQLite-only boxes never load libpq

        return psycopg.connect(self.url, connect_timeout=5)

    def _broken(self, conn: Any) -> bool:
        return bool(conn.closed or conn.broken)


@hookimpl
def nvr_catalog_open(url: str) -> PostgresCatalog | None:
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresCatalog(url)
    return None
