"""The background thread that drains the upload queue, oldest first.

An entry leaves the queue only after its copy was verified and the catalog records it;
until then it is retried with exponential backoff. While the store is down or refuses
the credentials, recording is untouched and entries pile up on disk in order."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from nvr_edge import Alert, Catalog, CatalogError, RateLimiter, SegmentRecord, file_crc32, now_ms

from .queue import Upload, UploadQueue
from .settings import S3Settings
from .store import Bucket, StoreError

log = logging.getLogger("nvr_edge_s3")

ALERT_CREDENTIALS = "s3_credentials"
ALERT_UNREACHABLE = "s3_unreachable"
ALERT_AFTER_FAILURES = 3  # a blip is logged; an outage that outlasts this many tries alerts


class Uploader:
    def __init__(self, settings: S3Settings, queue: UploadQueue, catalog: Catalog,
                 alert: Callable[[Alert], None], bucket: Bucket | None = None) -> None:
        self.settings, self.queue, self.catalog, self.alert = settings, queue, catalog, alert
        self.bucket = bucket or Bucket(settings)
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.failures = 0
        self.alerted: str | None = None  # the alert code raised for the current outage
        self.uploaded = 0

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="s3-upload", daemon=True)
        self.thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout_s)

    def enqueue(self, upload: Upload) -> None:
        self.queue.put(upload)
        self.wake.set()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            upload = None
            try:
                upload = self.queue.first()
                if upload is None:
                    self.wake.wait(5.0)
                    self.wake.clear()
                    continue
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
            return
        crc = file_crc32(path)
        # a limiter per upload: one kept across idle hours would let the next burst through
        limiter = RateLimiter(self.settings.rate_mb_s * 1e6)
        self.bucket.upload(path, upload.key, crc, limiter, self.stop_event)
        # Looked up again: the tier mover may have moved the file during the upload. By
        # path: a spooled catalog applies it after the segment's own spooled row.
        moved = self._segment(upload) if segment is not None else None
        self.catalog.set_object_copy(moved.path if moved else str(path), upload.key, now_ms())
        self.queue.done(upload)
        self.uploaded += 1
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
        self.failures, self.alerted = 0, None
