"""Store-and-forward for events: every event is written here first and removed only when
the broker has acknowledged it (QoS 1), so a broker outage or a crash loses none.

SQLite (fsynced per event; events are a few per minute) with a size bound: past it the
oldest events go, and the count of dropped events is reported with the next one. Sequence
numbers only grow, across restarts too, so a consumer can drop a duplicate redelivery
(QoS 1 is at least once)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    body TEXT NOT NULL
)"""


class EventSpool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.dropped = 0  # since start, by the size bound
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(SCHEMA)
        self._bytes = self._db.execute(
            "SELECT COALESCE(SUM(LENGTH(topic) + LENGTH(body)), 0) FROM events").fetchone()[0]

    def append(self, topic: str, body: str) -> int:
        """Store an event (a JSON object's text, without its `seq`); returns its seq."""
        size = len(topic) + len(body)
        with self._lock:
            seq = self._db.execute("INSERT INTO events (topic, body) VALUES (?, ?)",
                                   (topic, body)).lastrowid
            self._bytes += size
            while self._bytes > self.max_bytes:
                oldest = self._db.execute(
                    "SELECT seq, LENGTH(topic) + LENGTH(body) FROM events ORDER BY seq "
                    "LIMIT 1").fetchone()
                if oldest is None or oldest[0] == seq:
                    break  # never drop the event just stored
                self._db.execute("DELETE FROM events WHERE seq = ?", (oldest[0],))
                self._bytes -= oldest[1]
                self.dropped += 1
            assert seq is not None
            return seq

    def after(self, seq: int, limit: int) -> list[tuple[int, str, str]]:
        """Up to `limit` events with a larger seq, oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT seq, topic, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit)).fetchall()

    def remove(self, seq: int) -> None:
        with self._lock:
            row = self._db.execute("DELETE FROM events WHERE seq = ? "
                                   "RETURNING LENGTH(topic) + LENGTH(body)", (seq,)).fetchone()
            if row is not None:
                self._bytes -= row[0]

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    @property
    def bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        with self._lock:
            self._db.close()


def with_seq(seq: int, body: str) -> bytes:
    """The event as published: its body with `seq` first."""
    inner = body.strip()[1:].strip()
    return (f'{{"seq": {seq}' + (", " + inner if inner != "}" else "}")).encode()
