"""The upload queue: a SQLite file in the state folder, fully synchronous.

A segment is queued when it closes and leaves the queue only once its copy was verified
and the catalog says so; a crash or power cut at any moment keeps every entry not yet
completed, in order. Queuing the same segment twice keeps one entry (the first place)."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Upload:
    """One queued copy. `source` names the segment as it closed (its path then); the
    uploader finds where the file is now through the catalog (`segment_id`)."""

    source: str
    key: str
    camera: str
    segment_id: int | None = None
    start_ms: int = 0  # the segment's start (entries queued by 0.3.0 lack it)
    closed_ms: int = 0  # when it was queued, i.e. closed: "close to verified" is measured
    seq: int = 0  # the queue's order, set by the queue


class UploadQueue:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # an acknowledged entry survives a power cut
        self.db.execute("CREATE TABLE IF NOT EXISTS uploads (seq INTEGER PRIMARY KEY "
                        "AUTOINCREMENT, source TEXT NOT NULL UNIQUE, item TEXT NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, "
                        "value INTEGER NOT NULL)")

    def meta(self, name: str, default: int) -> int:
        """A number kept with the queue (`created_ms`, `dropped_until_ms`); the first
        reading stores `default`."""
        with self.lock:
            self.db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (name, default))
            row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    def put(self, upload: Upload) -> bool:
        """Queue `upload` durably; False if its segment is queued already."""
        return self.put_many([upload]) == 1

    def put_many(self, uploads: list[Upload]) -> int:
        """Queue `uploads` in their order, in one transaction (one fsync, not one each);
        returns how many were new."""
        rows = [(u.source, json.dumps({k: v for k, v in asdict(u).items() if k != "seq"}))
                for u in uploads]
        with self.lock, self.db:
            self.db.execute("BEGIN")
            before = self.db.total_changes
            self.db.executemany("INSERT OR IGNORE INTO uploads (source, item) VALUES (?, ?)",
                                rows)
            return self.db.total_changes - before

    def pending(self, limit: int | None = None) -> list[Upload]:
        """Queued uploads, oldest first."""
        sql = "SELECT seq, item FROM uploads ORDER BY seq"
        with self.lock:
            rows = self.db.execute(sql + (f" LIMIT {int(limit)}" if limit else "")).fetchall()
        return [Upload(**json.loads(item), seq=seq) for seq, item in rows]

    def first(self) -> Upload | None:
        found = self.pending(1)
        return found[0] if found else None

    def done(self, upload: Upload) -> None:
        with self.lock:
            self.db.execute("DELETE FROM uploads WHERE seq = ?", (upload.seq,))

    def drop_oldest(self, keep: int) -> list[Upload]:
        """Take the oldest entries off until `keep` remain; returns them. The start-up scan
        then starts after the newest dropped segment (`dropped_until_ms`)."""
        dropped = self.pending(max(0, len(self) - keep)) if len(self) > keep else []
        if dropped:
            with self.lock, self.db:
                self.db.execute("BEGIN")
                self.db.executemany("DELETE FROM uploads WHERE seq = ?",
                                    [(u.seq,) for u in dropped])
                # the start-up scan must not queue them again
                self.db.execute(
                    "INSERT INTO meta VALUES ('dropped_until_ms', ?) ON CONFLICT(name) DO "
                    "UPDATE SET value = MAX(value, excluded.value)",
                    (max(u.start_ms for u in dropped) + 1,))
        return dropped

    def segment_ids(self) -> set[int]:
        return {u.segment_id for u in self.pending() if u.segment_id is not None}

    def __len__(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT COUNT(*) FROM uploads").fetchone()[0])

    def close(self) -> None:
        with self.lock:
            self.db.close()
