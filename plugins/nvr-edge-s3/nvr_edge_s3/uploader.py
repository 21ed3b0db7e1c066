"""The background thread that drains the upload queue, oldest first.

An entry leaves the queue only after its copy was verified and the catalog records it;
until then it is retried with exponential backoff. While the store is down or refuses
the credentials, recording is untouched and entries pile up on disk in order, up to
`queue_max` (then the oldest leave it, with an alert). Outside the upload window the
thread waits. At start it queues what closed while nothing listened (a crash between
close and queue, the plugin off) from the catalog."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nvr_edge import (
    Alert,
    Catalog,
    CatalogError,
    RateLimiter,
    SegmentQuery,
    SegmentRecord,
    SegmentStatus,
    file_crc32,
    iso_utc,
    now_ms,
)

from .keys import object_key
from .queue import Upload, UploadQueue
from .settings import S3Settings
from .store import Bucket, StoreError

log = logging.getLogger("nvr_edge_s3")

ALERT_CREDENTIALS = "s3_credentials"
ALERT_UNREACHABLE = "s3_unreachable"
ALERT_BACKLOG = "s3_backlog_dropped"
WINDOW_POLL_S = 60.0  # outside the window: how often the clock is looked at again
ALERT_AFTER_FAILURES = 3  # a blip is logged; an outage that outlasts this many tries alerts


@dataclass
class UploadWork:
    """What the uploads cost and how fresh the copies are (the figures in docs/STORAGE.md
    come from here, through the status)."""

    bytes: int = 0
    wall_s: float = 0.0  # reading, sending and verifying
    cpu_s: float = 0.0  # of the upload thread alone
    delays_s: deque[float] = field(default_factory=lambda: deque(maxlen=500))

    def add(self, size: int, wall_s: float, cpu_s: float) -> None:
        self.bytes += size
        self.wall_s += wall_s
        self.cpu_s += cpu_s

    def figures(self) -> dict[str, Any]:
        delays = sorted(self.delays_s)
        return {"bytes": self.bytes, "upload_s": round(self.wall_s, 3),
                "cpu_s": round(self.cpu_s, 3),
                "close_to_verified_s": round(self.delays_s[-1], 3) if delays else None,
                "close_to_verified_p50_s": round(delays[len(delays) // 2], 3) if delays else None,
                "close_to_verified_max_s": round(delays[-1], 3) if delays else None}


class Uploader:
    def __init__(self, settings: S3Settings, queue: UploadQueue, catalog: Catalog,
                 alert: Callable[[Alert], None], device_id: str,
                 bucket: Bucket | None = None) -> None:
        self.settings, self.queue, self.catalog, self.alert = settings, queue, catalog, alert
        self.device_id = device_id
        self.bucket = bucket or Bucket(settings)
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.failures = 0
        self.alerted: str | None = None  # the alert code raised for the current outage
        self.uploaded = 0
        self.scanned = False  # the start-up scan of the catalog is done
        self.queued = len(queue)  # kept here: the status asks every 2 s
        self.dropped = 0
        self.backlog_alerted = False
        self.state = "starting"
        self.last_error: str | None = None
        self.last_verified_ms: int | None = None
        self.work = UploadWork()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="s3-upload", daemon=True)
        self.thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout_s)

    def enqueue(self, uploads: list[Upload]) -> None:
        self.queue.put_many(uploads)
        self._bound()
        self.wake.set()

    def _bound(self) -> None:
        """Keep at most `queue_max` entries: the oldest leave (they stay on the box, under
        its own retention; with delete_policy "archived" cleanup never deletes them)."""
        dropped = self.queue.drop_oldest(self.settings.queue_max)
        self.queued = len(self.queue)
        if dropped:
            self.dropped += len(dropped)
            log.warning("s3: upload queue full (%d): %d oldest segment(s) from %s left it",
                        self.settings.queue_max, len(dropped), iso_utc(dropped[0].start_ms))
            if not self.backlog_alerted:
                self.backlog_alerted = True
                self.alert(Alert(ALERT_BACKLOG, "warning", (
                    f"the upload queue is full ({self.settings.queue_max} segments): the "
                    f"oldest, from {iso_utc(dropped[0].start_ms)} on, are kept on this box "
                    "only")))
        elif self.queued < self.settings.queue_max * 0.9:
            self.backlog_alerted = False

    def status(self) -> dict[str, Any]:
        """For the appliance status (from memory: asked every 2 s)."""
        return {"store": self.bucket.where, "state": self.state, "queued": self.queued,
                "uploaded": self.uploaded, "dropped": self.dropped,
                "last_verified": iso_utc(self.last_verified_ms) if self.last_verified_ms
                else None,
                "last_error": self.last_error,
                "window": str(self.settings.window) if self.settings.window else None,
                **self.work.figures()}

    def _run(self) -> None:
        while not self.stop_event.is_set():
            upload = None
            try:
                if not self.scanned:
                    self._scan()
                upload = self.queue.first()
                if upload is None:
                    self.state = "idle"
                    self.wake.wait(5.0)
                    self.wake.clear()
                    continue
                wait_s = self._until_window()
                if wait_s > 0:
                    self.state = f"waiting for the window {self.settings.window}"
                    self.stop_event.wait(min(wait_s, WINDOW_POLL_S))
                    continue
                self.state = "retrying" if self.failures else "uploading"
                self.step(upload)
            except (StoreError, CatalogError) as exc:
                if self.stop_event.is_set():
                    break  # an upload cut short by stop stays queued for the next start
                self._failed(upload, exc)
                self.stop_event.wait(self._backoff_s())
            except Exception:  # a bug or a full disk must not end the thread
                log.exception("s3: unexpected error on %s", upload.key if upload else "queue")
                self.failures += 1
                self.stop_event.wait(self._backoff_s())

    def _until_window(self) -> float:
        window = self.settings.window
        return window.seconds_until_open(datetime.now()) if window else 0.0  # local time

    def _scan(self) -> None:
        """Queue the segments that closed while nothing queued them: since the queue was
        created (or ever, with backfill), never copied, and not dropped for space."""
        created = self.queue.meta("created_ms", now_ms())
        since = max(0 if self.settings.backfill else created,
                    self.queue.meta("dropped_until_ms", 0))
        try:
            rows = self.catalog.segments(SegmentQuery(status=SegmentStatus.OK, copied=False,
                                                      since_ms=since))
        except CatalogError as exc:
            log.warning("s3: cannot look for unqueued segments yet: %s", exc)
            return  # tried again on the next turn; uploads go on meanwhile
        queued = self.queue.segment_ids()
        missing = [self.upload_for(row) for row in rows
                   if row.start_ms >= since and row.id not in queued
                   and self.settings.archives(row.camera)]
        self.scanned = True
        if missing:
            self.enqueue(missing)
            log.info("s3: queued %d segment(s) closed while no upload was queued for them",
                     len(missing))

    def upload_for(self, segment: SegmentRecord, closed_ms: int = 0) -> Upload:
        return Upload(source=segment.path, camera=segment.camera, segment_id=segment.id,
                      key=object_key(self.settings.prefix, self.device_id, segment),
                      start_ms=segment.start_ms, closed_ms=closed_ms or segment.end_ms)

    def _backoff_s(self) -> float:
        s = self.settings
        return min(s.retry_max_s, s.retry_min_s * 2 ** max(0, self.failures - 1))

    def step(self, upload: Upload) -> None:
        """Copy, verify and record one entry, then take it off the queue."""
        segment = self._segment(upload)
        path = Path(segment.path) if segment is not None else Path(upload.source)
        if not path.exists():
            # deleted by retention before its turn came: nothing left to copy
            log.warning("s3: %s is gone before its upload to %s; dropped from the queue",
                        path, upload.key)
            self.queue.done(upload)
            self.queued = len(self.queue)
            return
        cpu, wall = time.thread_time(), time.monotonic()
        crc = file_crc32(path)
        # a limiter per upload: one kept across idle hours would let the next burst through
        limiter = RateLimiter(self.settings.rate_mb_s * 1e6)
        self.bucket.upload(path, upload.key, crc, limiter, self.stop_event)
        self.work.add(path.stat().st_size, time.monotonic() - wall, time.thread_time() - cpu)
        # Looked up again: the tier mover may have moved the file during the upload. By
        # path: a spooled catalog applies it after the segment's own spooled row.
        moved = self._segment(upload) if segment is not None else None
        self.catalog.set_object_copy(moved.path if moved else str(path), upload.key, now_ms())
        self.queue.done(upload)
        self.queued = len(self.queue)
        self.uploaded += 1
        self.last_verified_ms = now_ms()
        if upload.closed_ms:
            self.work.delays_s.append((self.last_verified_ms - upload.closed_ms) / 1000)
        self._recovered()
        log.info("s3: %s verified at %s", path.name, upload.key)

    def _segment(self, upload: Upload) -> SegmentRecord | None:
        """The segment's row now (the tier mover may have moved its file since)."""
        if upload.segment_id is not None:
            row = self.catalog.segment_by_id(upload.segment_id)
            if row is not None:
                return row
        return self.catalog.segment_by_path(upload.source)

    def _failed(self, upload: Upload | None, exc: Exception) -> None:
        self.failures += 1
        self.state, self.last_error = "retrying", str(exc)
        credentials = isinstance(exc, StoreError) and exc.credentials
        code = ALERT_CREDENTIALS if credentials else ALERT_UNREACHABLE
        log.warning("s3: %s (try %d; %d queued)", exc, self.failures, len(self.queue))
        if self.alerted != code and (credentials or self.failures >= ALERT_AFTER_FAILURES):
            self.alerted = code
            self.alert(Alert(code, "warning", f"object store: {exc}; {len(self.queue)} "
                                             "segment(s) wait on disk, recording goes on"))

    def _recovered(self) -> None:
        if self.failures:
            log.info("s3: %s takes uploads again after %d failed tries",
                     self.bucket.where, self.failures)
        self.failures, self.alerted, self.last_error = 0, None, None
