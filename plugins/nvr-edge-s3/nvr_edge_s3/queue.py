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

    def put(self, upload: Upload) -> bool:
        """Queue `upload` durably; False if its segment is queued already."""
        item = json.dumps({k: v for k, v in asdict(upload).items() if k != "seq"})
        with self.lock:
            cur = self.db.execute("INSERT OR IGNORE INTO uploads (source, item) VALUES (?, ?)",
                                  (upload.source, item))
            return cur.rowcount == 1

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

    def __len__(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT COUNT(*) FROM uploads").fetchone()[0])

    def close(self) -> None:
        with self.lock:
            self.db.close()
