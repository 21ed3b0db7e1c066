"""The fleet operator's side of a shared PostgreSQL catalog: roles, retention, lookups.

These run with the catalog owner's URL (add a box, drop days) or an operator's (find a
segment); a box never calls them. See docs/FLEET-CATALOG.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nvr_edge.catalog.base import CatalogError
from nvr_edge.catalog.pg_shared import DAY_MS
from nvr_edge.logs import redact
from nvr_edge.models import now_ms

ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
DEVICE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # config.py's device id
# an empty day is dropped once this many days past: a box back from an outage (its spool
# draining) may still index into yesterday, and would only make the day again
EMPTY_GRACE_DAYS = 1


def connect(url: str) -> Any:
    import psycopg

    if not url.startswith(("postgresql://", "postgres://")):
        raise CatalogError(f"not a PostgreSQL catalog URL: {redact(url)}")
    try:
        return psycopg.connect(url, connect_timeout=5, autocommit=True)
    except psycopg.Error as exc:
        raise CatalogError(f"cannot open catalog {redact(url)}: "
                           f"{redact(str(exc)).strip()}") from None


def _role(role: str) -> Any:
    from psycopg import sql

    if not ROLE.fullmatch(role):
        raise CatalogError(f"role {role!r}: 1-63 of a-z 0-9 _, not starting with a digit")
    return sql.Identifier(role)


def single_box_rows(conn: Any) -> int:
    """Rows of a catalog not yet shared (schema before 4), which migrating gives a device."""
    shared = conn.execute("SELECT to_regclass('catalog_roles') IS NOT NULL").fetchone()[0]
    if shared or conn.execute("SELECT to_regclass('segments') IS NULL").fetchone()[0]:
        return 0
    return int(conn.execute("SELECT count(*) FROM segments").fetchone()[0])


def add_box(conn: Any, device: str, role: str, password: str | None = None) -> None:
    """Let `role` (created if missing, LOGIN) write the rows of `device`, and only those."""
    from psycopg import sql

    if not DEVICE.fullmatch(device):
        raise CatalogError(f"device id {device!r}: 1-64 of A-Z a-z 0-9 - _")
    ident = _role(role)
    with conn.transaction():
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT").format(ident))
        if password is not None:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(password)))
        for grant in ("GRANT USAGE ON SCHEMA {schema} TO {role}",
                      "GRANT SELECT, INSERT, UPDATE, DELETE ON segments TO {role}",
                      "GRANT USAGE ON SEQUENCE segments_id_seq TO {role}",
                      "GRANT SELECT ON schema_version, catalog_roles TO {role}",
                      "GRANT EXECUTE ON FUNCTION catalog_add_days(BIGINT, BIGINT) TO {role}"):
            conn.execute(sql.SQL(grant).format(role=ident, schema=_schema(conn)))
        conn.execute("INSERT INTO catalog_roles (role, device) VALUES (%s, %s) "
                     "ON CONFLICT (role) DO UPDATE SET device = excluded.device", (role, device))


def add_operator(conn: Any, role: str) -> None:
    """Let `role` (an existing role) read every box's rows; it changes none."""
    from psycopg import sql

    ident = _role(role)
    with conn.transaction():
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(_schema(conn), ident))
        conn.execute(sql.SQL("GRANT SELECT ON segments, schema_version, catalog_roles TO {}")
                     .format(ident))
        conn.execute("INSERT INTO catalog_roles (role, device) VALUES (%s, NULL) "
                     "ON CONFLICT (role) DO UPDATE SET device = NULL", (role,))


def _schema(conn: Any) -> Any:
    from psycopg import sql

    return sql.Identifier(conn.execute("SELECT current_schema()").fetchone()[0])


@dataclass(frozen=True)
class Day:
    name: str
    from_ms: int
    to_ms: int


def days(conn: Any) -> list[Day]:
    """The day partitions, oldest first."""
    rows = conn.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'segments'::regclass"
    ).fetchall()
    found = []
    for name, bound in rows:  # FOR VALUES FROM ('1700000000000') TO ('1700086400000')
        low, high = (int(n) for n in re.findall(r"-?\d+", bound)[:2])
        found.append(Day(name, low, high))
    return sorted(found, key=lambda d: d.from_ms)


def drop_days(conn: Any, keep_days: float, now: int | None = None) -> list[str]:
    """Drop whole day partitions: those wholly older than `keep_days` (the fleet's longest
    retention: rows a box never deleted, a box gone for good) and past days every box has
    emptied (from the day before yesterday back). Rows of days still in use are deleted by
    their boxes, one by one, as each box's own retention removes its files. Run by the
    owner (daily, e.g. from cron)."""
    from psycopg import sql

    now = now_ms() if now is None else now
    settled = now - now % DAY_MS - EMPTY_GRACE_DAYS * DAY_MS
    dropped = []
    for day in days(conn):
        if day.to_ms > settled:
            continue
        expired = day.to_ms <= now - keep_days * DAY_MS
        empty = expired or conn.execute(
            sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(day.name))
        ).fetchone()[0]
        if expired or empty:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(day.name)))
            dropped.append(day.name)
    return dropped


def add_days_ahead(conn: Any, ahead: int, now: int | None = None) -> int:
    """Make today to `ahead` days on, so that no box's insert waits for a new day's DDL
    (which locks the parent table for a moment); how many days were made."""
    from psycopg import errors

    now = now_ms() if now is None else now
    try:
        return int(conn.execute("SELECT catalog_add_days(%s, %s)",
                                (now, now + (ahead + 1) * DAY_MS)).fetchone()[0])
    except errors.RaiseException as exc:
        raise CatalogError(str(exc).splitlines()[0]) from None
