"""The catalog interface and the SQL shared by its backends."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..models import SegmentRecord, now_ms
from ..redact import redact
from .migrations import MIGRATIONS

log = logging.getLogger(__name__)

COLUMNS = ("camera", "stream", "start_ms", "end_ms", "duration_ms", "bytes", "path", "tier",
           "video_codec", "width", "height", "has_audio", "status", "indexed_ms")
_SELECT = ("SELECT id, camera, stream, start_ms, end_ms, bytes, path, tier, video_codec, width, "
           "height, has_audio, status FROM segments")


class CatalogError(RuntimeError):
    """The catalog cannot be reached or used; the message never holds a password."""


@dataclass(frozen=True)
class SegmentQuery:
    camera: str | None = None
    stream: str | None = None
    since_ms: int | None = None  # segments that end after this
    until_ms: int | None = None  # segments that start before this
    status: str | None = None


class Catalog(ABC):
    """Index of segment files. Rows are keyed by path: adding the same path twice updates it,
    so replaying a spooled row or re-indexing a file never duplicates."""

    url: str

    @property
    def display_url(self) -> str:
        return redact(self.url)

    @abstractmethod
    def add_segment(self, segment: SegmentRecord) -> int: ...

    @abstractmethod
    def segments(self, query: SegmentQuery = SegmentQuery()) -> list[SegmentRecord]: ...

    @abstractmethod
    def segment_by_path(self, path: str) -> SegmentRecord | None: ...

    @abstractmethod
    def set_status(self, segment_id: int, status: str) -> None: ...

    @abstractmethod
    def delete_segment(self, segment_id: int) -> None: ...

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def close(self) -> None: ...


class SqlCatalog(Catalog):
    """A catalog over a DB-API connection; subclasses give the dialect's few differences."""

    placeholder = "?"
    primary_key = "INTEGER PRIMARY KEY"

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.conn = self._connect()
            self._migrate()
        except CatalogError:
            raise
        except Exception as exc:
            raise CatalogError(f"cannot open catalog {self.display_url}: {redact(str(exc))}") \
                from None

    @abstractmethod
    def _connect(self) -> Any: ...

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        cur = self.conn.cursor()
        try:
            yield cur
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        finally:
            cur.close()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._tx() as cur:
            cur.execute(self._sql(sql), tuple(params))
            return list(cur.fetchall()) if cur.description else []

    def _migrate(self) -> None:
        with self._tx() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version "
                        "(version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)")
        current = self.schema_version()
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            with self._tx() as cur:
                for statement in statements:
                    cur.execute(statement.format(pk=self.primary_key))
                cur.execute(self._sql("INSERT INTO schema_version VALUES (?, ?)"),
                            (version, now_ms()))
            log.info("catalog %s: migrated to schema version %d", self.display_url, version)

    def schema_version(self) -> int:
        rows = self._execute("SELECT MAX(version) FROM schema_version")
        return int(rows[0][0] or 0)

    def add_segment(self, segment: SegmentRecord) -> int:
        values = (segment.camera, segment.stream, segment.start_ms, segment.end_ms,
                  segment.duration_ms, segment.bytes, segment.path, segment.tier,
                  segment.video_codec, segment.width, segment.height, int(segment.has_audio),
                  segment.status, now_ms())
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "path")
        sql = (f"INSERT INTO segments ({', '.join(COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(COLUMNS))}) "
               f"ON CONFLICT (path) DO UPDATE SET {updates} RETURNING id")
        return int(self._execute(sql, values)[0][0])

    def segments(self, query: SegmentQuery = SegmentQuery()) -> list[SegmentRecord]:
        where, params = [], []
        for column, value in (("camera", query.camera), ("stream", query.stream),
                              ("status", query.status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.since_ms is not None:
            where.append("end_ms > ?")
            params.append(query.since_ms)
        if query.until_ms is not None:
            where.append("start_ms < ?")
            params.append(query.until_ms)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._execute(f"{_SELECT}{clause} ORDER BY start_ms, camera, id", params)
        return [_record(row) for row in rows]

    def segment_by_path(self, path: str) -> SegmentRecord | None:
        rows = self._execute(f"{_SELECT} WHERE path = ?", (path,))
        return _record(rows[0]) if rows else None

    def set_status(self, segment_id: int, status: str) -> None:
        self._execute("UPDATE segments SET status = ? WHERE id = ?", (status, segment_id))

    def delete_segment(self, segment_id: int) -> None:
        self._execute("DELETE FROM segments WHERE id = ?", (segment_id,))

    def close(self) -> None:
        self.conn.close()


def _record(row: Sequence[Any]) -> SegmentRecord:
    (seg_id, camera, stream, start_ms, end_ms, size, path, tier, codec, width, height,
     has_audio, status) = row
    return SegmentRecord(camera=camera, stream=stream, start_ms=int(start_ms),
                         end_ms=int(end_ms), bytes=int(size), path=path, tier=tier,
                         video_codec=codec, width=int(width), height=int(height),
                         has_audio=bool(has_audio), id=int(seg_id), status=status)
