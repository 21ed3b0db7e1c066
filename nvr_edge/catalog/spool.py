"""Catalog writes that could not be applied, kept on disk and replayed in order.

While the catalog is unreachable (PostgreSQL stopped, SQLite's disk full) recording goes
on: each write is appended to a JSON-lines file and fsynced. Once anything is spooled,
later writes queue behind it so the order is kept. `drain()` replays them oldest first and
takes each one off the spool as soon as it is applied, so a crash replays at most the one
entry in flight, and each write alone is idempotent (rows are keyed by path). Replaying
more would not be: an old "add" replayed after its own "move" would bring back a row for
the path the segment left.
"""

from __future__ import annotations

import json
import logging
import os
import threading
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
from nvr_edge.fsutil import fsync_dir
from nvr_edge.models import SegmentRecord

log = logging.getLogger(__name__)


class Spool:
    """An append-only, fsynced JSON-lines file of pending catalog operations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, op: dict[str, Any]) -> None:
        new = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(op, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if new:
            fsync_dir(self.path.parent)

    def pending(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        ops = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                ops.append(json.loads(line))
            except json.JSONDecodeError:
                # a torn last line from a crash mid-append: that write never completed
                log.warning("%s:%d: unreadable spool entry skipped", self.path, number)
        return ops

    def keep(self, remaining: list[dict[str, Any]]) -> None:
        """Replace the spool with `remaining` atomically (empty: remove it)."""
        if not remaining:
            self.path.unlink(missing_ok=True)
            fsync_dir(self.path.parent)
            return
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(op, separators=(",", ":")) + "\n" for op in remaining)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)


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
            ops = self.spool.pending()
            done = 0
            try:
                for op in ops:
                    self._apply(op)
                    done += 1
                    self.spool.keep(ops[done:])
            except CatalogError as exc:
                log.debug("catalog still unavailable: %s", exc)
            if done:
                log.info("catalog back: replayed %d spooled write(s), %d left", done,
                         len(ops) - done)
            self.spooled = len(ops) - done
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
