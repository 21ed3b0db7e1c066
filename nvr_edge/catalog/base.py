"""The catalog interface and the SQL shared by its backends."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from nvr_edge.catalog.migrations import MIGRATIONS
from nvr_edge.logs import redact
from nvr_edge.models import SegmentRecord, now_ms

log = logging.getLogger(__name__)

COLUMNS = ("camera", "stream", "start_ms", "end_ms", "duration_ms", "bytes", "path", "tier",
           "video_codec", "width", "height", "has_audio", "status", "checksum", "indexed_ms")
_SELECT = ("SELECT id, camera, stream, start_ms, end_ms, bytes, path, tier, video_codec, width, "
           "height, has_audio, status, checksum FROM segments")
_SELECT_COPIES = _SELECT.replace(" FROM segments", ", object_key, archived_ms FROM segments")


# The advisory lock migrators of one PostgreSQL database share (any fixed number).
SCHEMA_LOCK_KEY = 0x6E7672

class CatalogError(RuntimeError):
    """The catalog cannot be reached or used; the message never holds a password."""


@dataclass(frozen=True)
class SegmentQuery:
    camera: str | None = None
    stream: str | None = None
    since_ms: int | None = None  # segments that end after this
    until_ms: int | None = None  # segments that start before this
    status: str | tuple[str, ...] | None = None  # one status or any of several
    tier: str | None = None
    limit: int | None = None     # oldest first
    # True: only segments with a verified object-storage copy; False: only those without
    copied: bool | None = None


ALL_SEGMENTS = SegmentQuery()


@dataclass(frozen=True)
class ObjectCopy:
    """A segment with a verified copy in object storage (`Catalog.set_object_copy`)."""

    segment: SegmentRecord
    object_key: str
    archived_ms: int


@dataclass(frozen=True)
class TierUsage:
    segments: int
    bytes: int


class Catalog(ABC):
    """Index of segment files. Rows are keyed by path: adding the same path twice updates it,
    so replaying a spooled row or re-indexing a file never duplicates. Every write is
    idempotent, which is what lets the spool replay after a crash."""

    url: str

    @property
    def display_url(self) -> str:
        return redact(self.url)

    def heal_storage(self) -> str | None:
        """Check the catalog's own storage cheaply; if it was lost or damaged (a file deleted,
        replaced or overwritten), start an empty catalog and say what happened: the caller
        then indexes the segment files again. None: nothing wrong (or nothing this backend
        can tell, as for a server database)."""
        return None

    @abstractmethod
    def add_segment(self, segment: SegmentRecord) -> int: ...

    @abstractmethod
    def move_segment(self, old_path: str, new_path: str, tier: str,
                     checksum: str | None = None) -> None:
        """The file at `old_path` now lives at `new_path` on `tier` (no-op if already so)."""

    @abstractmethod
    def set_status_by_path(self, path: str, status: str) -> None: ...

    @abstractmethod
    def delete_by_path(self, path: str) -> None: ...

    @abstractmethod
    def segments(self, query: SegmentQuery = ALL_SEGMENTS) -> list[SegmentRecord]: ...

    @abstractmethod
    def segment_by_path(self, path: str) -> SegmentRecord | None: ...

    def segment_by_id(self, segment_id: int) -> SegmentRecord | None:
        """The row with this id (how the HTTP API names a segment). Not abstract: a
        third-party backend written before 0.3 keeps loading."""
        raise CatalogError(f"{type(self).__name__} cannot look a segment up by its id")

    def set_object_copy(self, path: str, object_key: str, archived_ms: int) -> None:
        """The segment at `path` has a verified copy at `object_key` since `archived_ms`.
        Not abstract: a third-party backend written before 0.3 keeps loading."""
        raise CatalogError(f"{type(self).__name__} cannot record object copies")

    def object_copies(self, camera: str | None = None) -> list[ObjectCopy]:
        """Segments with an object copy, oldest first."""
        raise CatalogError(f"{type(self).__name__} cannot record object copies")

    def object_copy(self, path: str) -> ObjectCopy | None:
        """The object copy of the segment at `path`, if it has one."""
        raise CatalogError(f"{type(self).__name__} cannot record object copies")

    @abstractmethod
    def usage(self, tier: str) -> TierUsage: ...

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def close(self) -> None: ...


class SqlCatalog(Catalog):
    """A catalog over a DB-API connection; subclasses give the dialect's few differences.

    One connection, shared by the supervisor loop and the tier mover thread under a lock.
    A failed statement drops the connection; the next call reconnects, so a restarted
    PostgreSQL is picked up without restarting the appliance.
    """

    placeholder = "?"
    primary_key = "INTEGER PRIMARY KEY"
    migrations = MIGRATIONS
    # A catalog shared by many boxes keeps the device id on every row and scopes every
    # statement to it (PostgreSQL); None: the catalog is this box's alone (SQLite).
    device: str | None = None
    conflict_key = "path"  # what makes a row the same row again (add_segment updates it)

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.RLock()
        self.conn: Any = None
        with self.lock:
            self._connection()
            self._migrate()

    @abstractmethod
    def _connect(self) -> Any: ...

    def _connection(self) -> Any:
        if self.conn is None:
            try:
                self.conn = self._connect()
            except CatalogError:
                raise
            except Exception as exc:
                raise CatalogError(f"cannot open catalog {self.display_url}: "
                                   f"{redact(str(exc)).strip()}") from None
        return self.conn

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self.lock:
            conn = self._connection()
            try:
                cur = conn.cursor()
                try:
                    yield cur
                    conn.commit()
                finally:
                    cur.close()
            except CatalogError:
                raise
            except Exception as exc:
                self._drop(conn)
                raise CatalogError(f"catalog {self.display_url}: "
                                   f"{redact(str(exc)).strip()}") from exc

    def _drop(self, conn: Any) -> None:
        try:
            conn.rollback()
            if self._broken(conn):
                conn.close()
                self.conn = None
        except Exception:
            self.conn = None

    def _broken(self, conn: Any) -> bool:
        return False

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._tx() as cur:
            cur.execute(self._sql(sql), tuple(params))
            return list(cur.fetchall()) if cur.description else []

    def _migration_args(self) -> dict[str, str]:
        """What `{name}` in a migration statement stands for."""
        return {"pk": self.primary_key}

    def _own(self, condition: str, params: Sequence[Any] = ()) -> tuple[str, list[Any]]:
        """`condition` limited to this box's rows when the catalog is shared."""
        if self.device is None:
            return condition, list(params)
        return (f"device = ? AND {condition}" if condition else "device = ?",
                [self.device, *params])

    def _migrate(self) -> None:
        with self._tx() as cur:
            self._lock_schema(cur)  # PostgreSQL's IF NOT EXISTS is no guard against a race
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version "
                        "(version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)")
        args = self._migration_args()
        for version, statements in self.migrations:
            if version <= self.schema_version():
                continue
            with self._tx() as cur:
                # Another process (a CLI command beside the starting appliance) may be
                # migrating the same catalog: take the schema for ourselves, then look again.
                self._lock_schema(cur)
                cur.execute("SELECT MAX(version) FROM schema_version")
                if int(cur.fetchone()[0] or 0) >= version:
                    continue
                for statement in statements:
                    cur.execute(statement.format(**args))
                cur.execute(self._sql("INSERT INTO schema_version VALUES (?, ?)"),
                            (version, now_ms()))
            log.info("catalog %s: migrated to schema version %d", self.display_url, version)

    def _lock_schema(self, cur: Any) -> None:
        """Hold off other migrators until this transaction ends (PostgreSQL: an advisory
        lock, which needs no table to exist yet)."""
        cur.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})")

    def schema_version(self) -> int:
        rows = self._execute("SELECT MAX(version) FROM schema_version")
        return int(rows[0][0] or 0)

    def add_segment(self, segment: SegmentRecord) -> int:
        values = [segment.camera, segment.stream, segment.start_ms, segment.end_ms,
                  segment.duration_ms, segment.bytes, segment.path, segment.tier,
                  segment.video_codec, segment.width, segment.height, int(segment.has_audio),
                  segment.status, segment.checksum, now_ms()]
        columns = list(COLUMNS)
        if self.device is not None:
            columns.append("device")
            values.append(self.device)
        key = {c.strip() for c in self.conflict_key.split(",")}
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        sql = (f"INSERT INTO segments ({', '.join(columns)}) "
               f"VALUES ({', '.join('?' * len(columns))}) "
               f"ON CONFLICT ({self.conflict_key}) DO UPDATE SET {updates} RETURNING id")
        return int(self._execute(sql, values)[0][0])

    def move_segment(self, old_path: str, new_path: str, tier: str,
                     checksum: str | None = None) -> None:
        where, params = self._own("path = ?", (old_path,))
        self._execute("UPDATE segments SET path = ?, tier = ?, checksum = COALESCE(?, checksum) "
                      f"WHERE {where}", (new_path, tier, checksum, *params))

    def set_status_by_path(self, path: str, status: str) -> None:
        where, params = self._own("path = ?", (path,))
        self._execute(f"UPDATE segments SET status = ? WHERE {where}", (status, *params))

    def delete_by_path(self, path: str) -> None:
        where, params = self._own("path = ?", (path,))
        self._execute(f"DELETE FROM segments WHERE {where}", params)

    def segments(self, query: SegmentQuery = ALL_SEGMENTS) -> list[SegmentRecord]:
        own, params = self._own("")
        where = [own] if own else []
        for column, value in (("camera", query.camera), ("stream", query.stream),
                              ("tier", query.tier)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.status is not None:
            statuses = (query.status,) if isinstance(query.status, str) else query.status
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if query.since_ms is not None:
            where.append("end_ms > ?")
            params.append(query.since_ms)
        if query.until_ms is not None:
            where.append("start_ms < ?")
            params.append(query.until_ms)
        if query.copied is not None:
            where.append(f"object_key IS {'NOT ' if query.copied else ''}NULL")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        limit = f" LIMIT {int(query.limit)}" if query.limit is not None else ""
        rows = self._execute(f"{_SELECT}{clause} ORDER BY start_ms, camera, id{limit}", params)
        return [_record(row) for row in rows]

    def segment_by_path(self, path: str) -> SegmentRecord | None:
        where, params = self._own("path = ?", (path,))
        rows = self._execute(f"{_SELECT} WHERE {where}", params)
        return _record(rows[0]) if rows else None

    def segment_by_id(self, segment_id: int) -> SegmentRecord | None:
        where, params = self._own("id = ?", (segment_id,))
        rows = self._execute(f"{_SELECT} WHERE {where}", params)
        return _record(rows[0]) if rows else None

    def set_object_copy(self, path: str, object_key: str, archived_ms: int) -> None:
        where, params = self._own("path = ?", (path,))
        self._execute(f"UPDATE segments SET object_key = ?, archived_ms = ? WHERE {where}",
                      (object_key, archived_ms, *params))

    def object_copies(self, camera: str | None = None) -> list[ObjectCopy]:
        where, params = self._own("object_key IS NOT NULL")
        if camera is not None:
            where += " AND camera = ?"
            params.append(camera)
        rows = self._execute(f"{_SELECT_COPIES} WHERE {where} ORDER BY start_ms, camera, id",
                             params)
        return [_copy(row) for row in rows]

    def object_copy(self, path: str) -> ObjectCopy | None:
        where, params = self._own("object_key IS NOT NULL AND path = ?", (path,))
        rows = self._execute(f"{_SELECT_COPIES} WHERE {where}", params)
        return _copy(rows[0]) if rows else None

    def usage(self, tier: str) -> TierUsage:
        where, params = self._own("tier = ? AND status = 'ok'", (tier,))
        rows = self._execute(f"SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM segments "
                             f"WHERE {where}", params)
        return TierUsage(int(rows[0][0]), int(rows[0][1]))

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None


def _copy(row: Sequence[Any]) -> ObjectCopy:
    return ObjectCopy(_record(row[:-2]), row[-2], int(row[-1]))


def _record(row: Sequence[Any]) -> SegmentRecord:
    (seg_id, camera, stream, start_ms, end_ms, size, path, tier, codec, width, height,
     has_audio, status, checksum) = row
    return SegmentRecord(camera=camera, stream=stream, start_ms=int(start_ms),
                         end_ms=int(end_ms), bytes=int(size), path=path, tier=tier,
                         video_codec=codec, width=int(width), height=int(height),
                         has_audio=bool(has_audio), id=int(seg_id), status=status,
                         checksum=checksum)
