"""Disk space: emergency cleanup when a tier runs short (space_policy.py says when and
how far), and retention.

Deleting a segment is three steps so that no crash resurrects or orphans it: mark the row
`deleting`, unlink the file, delete the row. Recovery finishes a half-done deletion.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from nvr_edge.catalog import Catalog, CatalogError, SegmentQuery
from nvr_edge.config import CameraConfig, Config
from nvr_edge.models import Alert, AlertLevel, SegmentStatus, Tier
from nvr_edge.storage.layout import oldest_first
from nvr_edge.storage.space_policy import SpacePolicy, TierSpace

__all__ = ["SpaceManager", "TierSpace", "delete_segment", "free_until", "offload_segment",
           "tier_spaces"]

log = logging.getLogger(__name__)


def tier_spaces(config: Config) -> list[TierSpace]:
    """Both tiers' free space and floors (a tier whose folder is missing is left out)."""
    return SpacePolicy(config.storage).tiers()


def delete_segment(catalog: Catalog, path: str) -> int:
    """Remove one segment, catalog first; returns the bytes freed."""
    catalog.set_status_by_path(path, SegmentStatus.DELETING)
    size = _unlink(path)
    catalog.delete_by_path(path)
    return size


def offload_segment(catalog: Catalog, path: str) -> int:
    """Remove the file of a segment verified in object storage; its row stays, status
    `remote`, so the timeline keeps it and playback reads the copy. Row first: a crash
    before the unlink leaves a `remote` row with a file, which recovery removes."""
    catalog.set_status_by_path(path, SegmentStatus.REMOTE)
    return _unlink(path)


def _unlink(path: str) -> int:
    """Remove the file; the bytes it held (0 when it was gone already)."""
    try:
        size = os.stat(path).st_size
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return size


def free_until(target: int, free_now: Callable[[], int | None], candidates: Iterable[str],
               delete: Callable[[str], int]) -> tuple[int, int]:
    """Delete `candidates` in their order until `free_now()` reaches `target`; returns
    (segments deleted, bytes freed). Free space is measured, not summed: a file's blocks
    are what it frees, not its size."""
    deleted = freed = 0
    for path in candidates:
        now = free_now()
        if now is not None and now >= target:
            break
        freed += delete(path)
        deleted += 1
    return deleted, freed


class SpaceManager:
    def __init__(self, config: Config, catalog: Catalog,
                 alert: Callable[[Alert], None]) -> None:
        self.config, self.catalog, self.alert = config, catalog, alert
        # tiers where cleanup could not make room, with the bytes it was asked for
        self.critical: dict[str, int] = {}
        # The supervisor's floors and the tier mover's make_room run on two threads.
        self.lock = threading.Lock()
        # Where a plugin copies segments off the box (hook nvr_object_store), if anywhere:
        # then "archived" means verified there, not moved to the HDD.
        self.object_store: str | None = None

    @property
    def policy(self) -> SpacePolicy:
        return SpacePolicy(self.config.storage)  # the config can be replaced at run time

    def tiers(self) -> list[TierSpace]:
        return self.policy.tiers()

    def enforce_floors(self) -> None:
        for space in self.tiers():
            if space.below_floor:
                with self.lock:
                    self._cleanup(space, 0)
            elif space.tier in self.critical \
                    and self.policy.can_take(space, self.critical[space.tier]):
                del self.critical[space.tier]
                log.info("%s tier: there is room above its floor again", space.tier)

    def make_room(self, tier: str, incoming: int, spare: str | None = None) -> TierSpace | None:
        """Clean `tier` until `incoming` more bytes fit above its floor (the mover asks before
        each move, so a full archive is cleaned, not given up on). `spare`: a segment that
        must not go (the one about to be moved). Returns the space afterwards."""
        policy = self.policy
        space = policy.measure(tier)
        if space is None or policy.can_take(space, incoming):
            return space
        with self.lock:
            self._cleanup(space, incoming, spare)
        return policy.measure(tier)

    def _cleanup(self, space: TierSpace, incoming: int, spare: str | None = None) -> None:
        policy = self.policy
        target = policy.cleanup_target(space, incoming)
        log.warning("%s tier: %.2f GB free, floor %.2f GB, %.2f GB wanted: deleting the oldest "
                    "%s segments until %.2f GB are free", space.tier, space.free_bytes / 1e9,
                    space.floor_bytes / 1e9, incoming / 1e9, self._policy_word(space.tier),
                    target / 1e9)

        def free_now() -> int | None:
            now = policy.measure(space.tier)
            return None if now is None else now.free_bytes

        candidates = (p for p in self._candidates(space.tier) if p != spare)
        # verified copies leave only the box: their rows stay for playback from the store
        remove = offload_segment if self._only_verified() else delete_segment
        deleted, freed = free_until(target, free_now,
                                    candidates, lambda p: remove(self.catalog, p))
        after = policy.measure(space.tier)
        if deleted:
            self.alert(Alert("disk_space_cleanup", AlertLevel.WARNING,
                             f"{space.tier} tier ({space.path}) ran short of space: deleted "
                             f"the {deleted} oldest segment(s), {freed / 1e9:.2f} GB"))
        if after is not None and not policy.can_take(after, incoming) \
                and space.tier not in self.critical:
            self.critical[space.tier] = incoming
            self.alert(Alert("disk_space_critical", AlertLevel.CRITICAL,
                             f"{space.tier} tier ({space.path}): "
                             f"{after.free_bytes / 1e9:.2f} GB free, floor "
                             f"{space.floor_bytes / 1e9:.2f} GB"
                             f"{f' plus {incoming / 1e6:.1f} MB' if incoming else ''} "
                             "cannot be restored "
                             f"(delete_policy = {self.config.storage.delete_policy!r}"
                             f"{f', copies in {self.object_store}' if self.object_store else ''})"))

    def _policy_word(self, tier: str) -> str:
        if self.config.storage.delete_policy != "archived":
            return "any"
        return f"verified in {self.object_store}" if self.object_store else "archived"

    def _only_verified(self) -> bool:
        return self.config.storage.delete_policy == "archived" and bool(self.object_store)

    def _candidates(self, full_tier: str) -> Iterator[str]:
        """Oldest first, from every tier that lives on the full file system (on a one-disk
        box cache and archive share it). With delete_policy "archived", only segments on
        the archive tier may go: a cache segment is the only copy until it is moved. With an
        object store as well, only segments verified there may go, from either tier."""
        roots = {t.tier: Path(t.path) for t in self.tiers()}
        device = _device(roots[full_tier])
        # archived segments go first, even where the policy lets cache segments go too
        tiers = sorted((t for t, root in roots.items() if _device(root) == device),
                       key=lambda t: t != Tier.ARCHIVE)
        copied = True if self._only_verified() else None
        if self.config.storage.delete_policy == "archived" and not copied:
            tiers = [t for t in tiers if t == Tier.ARCHIVE]
        seen: set[str] = set()
        for tier in tiers:
            try:
                yield from self._oldest_rows(tier, seen, copied)
            except CatalogError:
                if copied:
                    return  # only the catalog knows what is verified: nothing may go
                # the catalog is down: the files themselves say what is oldest
                yield from (str(p) for p in oldest_first(roots[tier]) if str(p) not in seen)

    def _oldest_rows(self, tier: str, seen: set[str],
                     copied: bool | None = None) -> Iterator[str]:
        """Page through the oldest rows. A yielded row may still read "ok" afterwards (its
        deletion spooled while the catalog is down), so pages skip what was seen and the
        walk ends when a page brings nothing new."""
        while True:
            rows = self.catalog.segments(SegmentQuery(tier=tier, status=SegmentStatus.OK,
                                                      limit=len(seen) + 20, copied=copied))
            fresh = [r.path for r in rows if r.path not in seen]
            if not fresh:
                return
            for path in fresh:
                seen.add(path)
                yield path

    def apply_retention(self, cameras: tuple[CameraConfig, ...]) -> int:
        deleted = 0
        now_ms = time.time() * 1000
        for camera in cameras:
            if camera.retention_days <= 0:
                continue
            cutoff = now_ms - camera.retention_days * 86_400_000
            try:
                rows = self.catalog.segments(SegmentQuery(camera=camera.id, until_ms=cutoff))
            except CatalogError:
                continue  # retention can wait for the catalog; it never frees space urgently
            expired = [r for r in rows if r.end_ms < cutoff]
            with self.lock:
                for row in expired:
                    delete_segment(self.catalog, row.path)
            if expired:
                log.info("%s: retention of %g days deleted %d segment(s)", camera.id,
                         camera.retention_days, len(expired))
            deleted += len(expired)
        return deleted


def _device(path: Path) -> int:
    return os.stat(path).st_dev
