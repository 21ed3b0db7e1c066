"""Catalog writes that could not be applied, kept on disk and replayed in order.

While the catalog is unreachable (PostgreSQL stopped, SQLite's disk full) recording goes
on: each write is appended to a JSON-lines file and fsynced. Once anything is spooled,
later writes queue behind it so the order is kept. `drain()` replays them oldest first and
takes each one off the spool as soon as it is applied, so a crash replays at most the one
entry in flight, and each write alone is idempotent (rows are keyed by path). Replaying
more would not be: an old "add" replayed after its own "move" would bring back a row for
the path the segment left.

"Taken off" means a fixed-width byte offset in a marker file beside the spool, overwritten
in place and fsynced after each entry: constant work per entry. (Rewriting the rest of the
spool after each entry made a day-long outage's drain quadratic: ~15,000 entries.) The
spool and its marker go when the last entry is applied; a new spool starts without one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nvr_edge.catalog.base import (
    ALL_SEGMENTS,
    Catalog,
    CatalogError,
    ObjectCopy,
    SegmentQuery,
    TierUsage,
)
from nvr_edge.fsutil import append_line, fsync_dir
from nvr_edge.models import SegmentRecord

log = logging.getLogger(__name__)

MARKER_WIDTH = 21  # 20 digits and a newline


class Spool:
    """An append-only, fsynced JSON-lines file of pending catalog operations, and the
    offset of the first one not yet applied."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.marker = path.with_name(path.name + ".done")
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, op: dict[str, Any]) -> None:
        if not self.path.exists():
            # a marker left by a crash between removing a drained spool and its marker
            # would skip the new spool's first entries
            self.marker.unlink(missing_ok=True)
        append_line(self.path, json.dumps(op, separators=(",", ":")).encode() + b"\n")

    def entries(self) -> Iterator[tuple[dict[str, Any], int]]:
        """Pending operations, each with the offset just past it."""
        if not self.path.exists():
            return
        offset = self.applied_offset()
        with open(self.path, "rb") as f:
            f.seek(offset)
            for line in f:
                offset += len(line)
                try:
                    yield json.loads(line), offset
                except (json.JSONDecodeError, UnicodeDecodeError):
                    # a torn line from a crash mid-append: that write never completed
                    log.warning("%s at byte %d: unreadable spool entry skipped", self.path,
                                offset - len(line))

    def pending(self) -> list[dict[str, Any]]:
        return [op for op, _ in self.entries()]

    def applied_offset(self) -> int:
        try:
            text = self.marker.read_bytes()
        except FileNotFoundError:
            return 0
        if len(text) != MARKER_WIDTH or not text[:-1].isdigit():
            # never written torn (one in-place write within a sector), so this is damage:
            # replaying from the start is the only choice that loses nothing
            log.error("%s is unreadable: replaying the whole spool", self.marker)
            return 0
        return int(text)

    def mark_applied(self, offset: int) -> None:
        """Record that everything before `offset` is applied (in place: no rename, no
        truncation, so there is no moment without a valid marker)."""
        fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, b"%0*d\n" % (MARKER_WIDTH - 1, offset), 0)
            os.fsync(fd)
        finally:
            os.close(fd)

    def clear(self) -> None:
        """Everything is applied: the spool first, then its marker (see `append`)."""
        self.path.unlink(missing_ok=True)
        fsync_dir(self.path.parent)
        self.marker.unlink(missing_ok=True)


class SpooledCatalog(Catalog):
    """A catalog whose writes never fail: what the backend refuses is spooled."""

    def __init__(self, backend: Catalog, spool: Spool) -> None:
        self.backend, self.spool = backend, spool
        self.url = backend.url
        self.lock = threading.RLock()
        self.spooled = len(spool.pending())

    @property
    def healthy(self) -> bool:
        return self.spooled == 0

    def _write(self, op: dict[str, Any]) -> Any:
        with self.lock:
            if self.spooled == 0:
                try:
                    return self._apply(op)
                except CatalogError as exc:
                    log.error("catalog unavailable (%s); spooling writes to %s", exc,
                              self.spool.path)
            self.spool.append(op)
            self.spooled += 1
            return None

    def _apply(self, op: dict[str, Any]) -> Any:
        kind = op["op"]
        if kind == "add":
            return self.backend.add_segment(SegmentRecord.from_dict(op["record"]))
        if kind == "move":
            return self.backend.move_segment(op["old"], op["new"], op["tier"],
                                             op.get("checksum"))
        if kind == "status":
            return self.backend.set_status_by_path(op["path"], op["status"])
        if kind == "delete":
            return self.backend.delete_by_path(op["path"])
        if kind == "object":
            return self.backend.set_object_copy(op["path"], op["key"], op["at"])
        raise ValueError(f"unknown spool operation {kind!r}")

    def heal_storage(self) -> str | None:
        return self.backend.heal_storage()

    def drain(self) -> int:
        """Replay spooled writes in order; returns how many were applied."""
        with self.lock:
            if self.spooled == 0:
                return 0
            done = 0
            try:
                for op, end in self.spool.entries():
                    self._apply(op)
                    done += 1
                    self.spool.mark_applied(end)
                self.spool.clear()
                self.spooled = 0
            except CatalogError as exc:
                log.debug("catalog still unavailable: %s", exc)
                self.spooled = len(self.spool.pending())
            except OSError as exc:
                # applied but not marked: replayed once more next time, which is harmless
                log.error("cannot mark spooled catalog writes as applied in %s: %s",
                          self.spool.marker, exc)
                self.spooled = len(self.spool.pending())
            if done:
                log.info("catalog back: replayed %d spooled write(s), %d left", done,
                         self.spooled)
            return done

    # writes: never raise for an unreachable catalog
    def add_segment(self, segment: SegmentRecord) -> int:  # type: ignore[override]
        return self._write({"op": "add", "record": segment.to_dict()})

    def move_segment(self, old_path: str, new_path: str, tier: str,
                     checksum: str | None = None) -> None:
        self._write({"op": "move", "old": old_path, "new": new_path, "tier": tier,
                     "checksum": checksum})

    def set_status_by_path(self, path: str, status: str) -> None:
        self._write({"op": "status", "path": path, "status": status})

    def delete_by_path(self, path: str) -> None:
        self._write({"op": "delete", "path": path})

    def set_object_copy(self, path: str, object_key: str, archived_ms: int) -> None:
        self._write({"op": "object", "path": path, "key": object_key, "at": archived_ms})

    # reads: straight to the backend (they may raise CatalogError)
    def segments(self, query: SegmentQuery = ALL_SEGMENTS) -> list[SegmentRecord]:
        return self.backend.segments(query)

    def segment_by_path(self, path: str) -> SegmentRecord | None:
        return self.backend.segment_by_path(path)

    def segment_by_id(self, segment_id: int) -> SegmentRecord | None:
        return self.backend.segment_by_id(segment_id)

    def object_copies(self, camera: str | None = None) -> list[ObjectCopy]:
        return self.backend.object_copies(camera)

    def object_copy(self, path: str) -> ObjectCopy | None:
        return self.backend.object_copy(path)

    def usage(self, tier: str) -> TierUsage:
        return self.backend.usage(tier)

    def schema_version(self) -> int:
        return self.backend.schema_version()

    def close(self) -> None:
        self.backend.close()
