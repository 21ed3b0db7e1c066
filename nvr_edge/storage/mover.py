"""Moving closed segments from the SSD cache to the HDD archive, one at a time.

A move is: copy to `<archive>/<same relative path>.moving` (rate-limited, checksummed),
fsync, read the copy back and compare, rename into place, fsync the folder, point the
catalog row at the new path, and only after a grace period (readers that just looked the
old path up) delete the cache copy. After a crash at any step there is exactly one copy
the catalog points to, plus at most a leftover that start-up recovery removes: a
`.moving` file, or the twin the catalog does not point to.

An archive short of room is cleaned before the move (storage/space_policy.py: the mover
and the cleanup share one threshold). If the archive is missing, read-only, or full with
nothing left that may be deleted, the mover reports it degraded, recording goes on into
the cache, and the archive is retried every `archive_retry_s`.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nvr_edge.catalog import CatalogError, SegmentQuery
from nvr_edge.catalog.spool import SpooledCatalog
from nvr_edge.config import Config
from nvr_edge.fsutil import fsync_dir, make_dirs_durable
from nvr_edge.models import SegmentRecord, SegmentStatus, Tier
from nvr_edge.storage.layout import moving_of
from nvr_edge.storage.space import SpaceManager
from nvr_edge.transfer import CHUNK, RateLimiter, crc32_text, file_crc32

log = logging.getLogger(__name__)


class MoveError(RuntimeError):
    pass


class MoverEventKind(enum.StrEnum):
    MOVED = "moved"
    DEGRADED = "degraded"    # the archive cannot take segments
    RECOVERED = "recovered"  # it can again


@dataclass(frozen=True)
class MoverEvent:
    kind: MoverEventKind
    detail: str
    segment: SegmentRecord | None = None


def archive_problem(config: Config, space: SpaceManager, needed_bytes: int,
                    spare: str | None = None) -> str | None:
    """Why the archive cannot take a segment now, or None. Short of room, it is cleaned
    first (the same policy as the floors): "full" means nothing more may be deleted."""
    root = config.storage.archive_dir
    if not root.is_dir():
        return f"{root} is missing"
    probe = root / ".nvr-edge-write-test"
    try:
        with open(probe, "wb") as f:
            f.write(b"ok")
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as exc:
        return f"{root} is not writable ({exc.strerror})"
    after = space.make_room(Tier.ARCHIVE, needed_bytes, spare)
    if after is not None and not space.policy.can_take(after, needed_bytes):
        return (f"{root} is full ({after.free_bytes / 1e9:.2f} GB free, floor "
                f"{after.floor_bytes / 1e9:.2f} GB)")
    return None


class TierMover:
    """The long-running task that drains the cache into the archive (a thread of the
    supervisor's, started and stopped by it)."""

    def __init__(self, config: Config, catalog: SpooledCatalog,
                 report: Callable[[MoverEvent], None], space: SpaceManager) -> None:
        self.config, self.catalog, self.report, self.space = config, catalog, report, space
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tier-mover", daemon=True)
        self.degraded: str | None = None
        self.pending_unlinks: list[tuple[float, Path]] = []
        # Held for a whole move and the cleanup before it: recovery that compares both tiers
        # must not run in the middle of either.
        self.busy = threading.Lock()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.ident is not None:  # it was started
            self.thread.join(timeout=30)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                moved = self.step()
            except Exception:  # the mover must outlive any one bad segment
                log.exception("tier mover: unexpected error")
                moved = False
            self._unlink_due(force=False)
            if not moved:
                self.stop_event.wait(self.config.storage.archive_retry_s if self.degraded
                                     else 1.0)
        self._unlink_due(force=True)

    def step(self) -> bool:
        """Move the oldest cache segment; False when there was nothing (or no way) to move."""
        if not self.catalog.healthy:
            return False  # a move must land in the catalog in the same step
        try:
            rows = self.catalog.segments(SegmentQuery(tier=Tier.CACHE, status=SegmentStatus.OK,
                                                      limit=1))
        except CatalogError:
            return False
        if not rows:
            return False
        with self.busy:
            problem = archive_problem(self.config, self.space, rows[0].bytes, rows[0].path)
            if problem != self.degraded:
                self.degraded = problem
                self.report(MoverEvent(MoverEventKind.DEGRADED, problem) if problem
                            else MoverEvent(MoverEventKind.RECOVERED, "archive writable again"))
            if problem:
                return False
            try:
                self.move(rows[0])
            except (OSError, MoveError) as exc:
                log.error("moving %s failed: %s", rows[0].path, exc)
                return False
        return True

    def move(self, row: SegmentRecord,
             checkpoint: Callable[[str], None] = lambda step: None) -> Path:
        st = self.config.storage
        src = Path(row.path)
        dst = st.archive_dir / src.relative_to(st.cache_dir)
        tmp = moving_of(dst)
        make_dirs_durable(dst.parent)
        checksum = self._copy(src, tmp)
        checkpoint("copied")
        if row.checksum and row.checksum != checksum:
            log.warning("%s changed since it was written (%s != %s)", src, checksum,
                        row.checksum)
        if tmp.stat().st_size != src.stat().st_size or file_crc32(tmp) != checksum:
            tmp.unlink(missing_ok=True)
            raise MoveError(f"the archive copy of {src} does not match it")
        checkpoint("verified")
        os.rename(tmp, dst)
        fsync_dir(dst.parent)
        checkpoint("renamed")
        self.catalog.move_segment(str(src), str(dst), Tier.ARCHIVE, checksum)
        checkpoint("cataloged")
        self.pending_unlinks.append((time.monotonic() + st.move_grace_s, src))
        self.report(MoverEvent(MoverEventKind.MOVED, str(dst), row))
        return dst

    def _copy(self, src: Path, tmp: Path) -> str:
        limiter = RateLimiter(self.config.storage.move_rate_mb_s * 1e6)
        crc = 0
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while block := fin.read(CHUNK):
                crc = zlib.crc32(block, crc)
                fout.write(block)
                limiter.pace(len(block), self.stop_event)
                if self.stop_event.is_set():
                    break
            fout.flush()
            os.fsync(fout.fileno())
        if self.stop_event.is_set():
            tmp.unlink(missing_ok=True)
            raise MoveError("stopping")
        return crc32_text(crc)

    def _unlink_due(self, force: bool) -> None:
        now = time.monotonic()
        keep = []
        for due, path in self.pending_unlinks:
            if force or now >= due:
                path.unlink(missing_ok=True)
                fsync_dir(path.parent)
            else:
                keep.append((due, path))
        self.pending_unlinks = keep
