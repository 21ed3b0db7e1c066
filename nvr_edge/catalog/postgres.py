"""The PostgreSQL catalog (psycopg 3), for operators who keep their index off the box.

One database may serve a whole fleet: every row carries the box's device id and the box's
role sees only its own rows (schema version 4, `pg_shared.py`; docs/FLEET-CATALOG.md).
"""

from __future__ import annotations

from typing import Any

from nvr_edge.catalog.base import CatalogError, SqlCatalog
from nvr_edge.catalog.migrations import MIGRATIONS
from nvr_edge.catalog.pg_shared import DAY_MS, SHARED_CATALOG
from nvr_edge.hookspecs import hookimpl
from nvr_edge.models import now_ms

# partitions made ready when a box opens the catalog: yesterday (a segment that began
# before midnight) to a few days ahead, so that a day's first insert never waits for DDL
DAYS_AHEAD = 3


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class PostgresCatalog(SqlCatalog):
    placeholder = "%s"
    primary_key = "BIGSERIAL PRIMARY KEY"
    migrations = MIGRATIONS + SHARED_CATALOG
    conflict_key = "device, path, start_ms"

    def __init__(self, url: str, device: str) -> None:
        self.device = device
        super().__init__(url)
        with self.lock:
            if self.schema_version() < SHARED_CATALOG[0][0]:
                return  # held at an older schema (a test of the upgrade)
            self._check_identity()
            self.add_days(now_ms() - DAY_MS, now_ms() + DAYS_AHEAD * DAY_MS)

    def _connect(self) -> Any:
        import psycopg  # imported here: SQLite-only boxes never load libpq

        return psycopg.connect(self.url, connect_timeout=5)

    def _broken(self, conn: Any) -> bool:
        return bool(conn.closed or conn.broken)

    def _migration_args(self) -> dict[str, str]:
        schema = self._execute("SELECT quote_ident(current_schema())")[0][0]
        return {"pk": self.primary_key, "device": quote_literal(str(self.device)),
                "schema": schema}

    def _migrate(self) -> None:
        # A box's own role may not create tables: once the owner has migrated the
        # catalog there is nothing to do, and nothing is attempted.
        exists = self._execute("SELECT to_regclass('schema_version') IS NOT NULL")[0][0]
        if exists and self.schema_version() >= self.migrations[-1][0]:
            return
        try:
            super()._migrate()
        except CatalogError as exc:
            if "permission denied" in str(exc):
                raise CatalogError(
                    f"{exc} (schema version {self.migrations[-1][0]} must be applied by the "
                    "catalog's owner: open it once with the owner's URL)") from None
            raise

    def _check_identity(self) -> None:
        """Refuse a role that writes as another device, or that no device is given to."""
        role, device, owner = self._execute(
            "SELECT current_user, catalog_device(), pg_has_role(current_user, "
            "(SELECT relowner FROM pg_class WHERE oid = 'segments'::regclass), 'MEMBER')")[0]
        if device is None and not owner:
            raise CatalogError(f"catalog {self.display_url}: role {role} is given no device "
                               "(the owner runs `nvr-edge fleet catalog add-box`)")
        if device is not None and device != self.device:
            raise CatalogError(f"catalog {self.display_url}: role {role} writes as device "
                               f"{device}, but this box is {self.device}")

    def add_days(self, from_ms: int, to_ms: int) -> int:
        """Make the day partitions from `from_ms` to `to_ms` exist; how many were made."""
        return int(self._execute("SELECT catalog_add_days(?, ?)", (from_ms, to_ms))[0][0])

    def add_segment(self, segment: Any) -> int:
        try:
            return super().add_segment(segment)
        except CatalogError as exc:
            if "no partition of relation" not in str(exc):
                raise
        # a day not made ahead (an old file indexed again, a clock far off): make it, retry
        self.add_days(segment.start_ms, segment.start_ms + 1)
        return super().add_segment(segment)


@hookimpl
def nvr_catalog_open(url: str, device: str) -> PostgresCatalog | None:
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresCatalog(url, device)
    return None
