"""Disk space: a free-space floor per tier, emergency cleanup, retention.

Deleting a segment is three steps so that no crash resurrects or orphans it: mark the row
`deleting`, unlink the file, delete the row. Recovery finishes a half-done deletion.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nvr_edge.catalog import Catalog, CatalogError, SegmentQuery
from nvr_edge.config import CameraConfig, Config, FloorConfig
from nvr_edge.models import Alert, AlertLevel, SegmentStatus, Tier
from nvr_edge.storage.layout import oldest_first

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TierSpace:
    tier: str
    path: str
    total_bytes: int
    free_bytes: int
    floor_bytes: int

    @property
    def below_floor(self) -> bool:
        return self.free_bytes < self.floor_bytes


def measure(tier: str, path: Path, floor: FloorConfig) -> TierSpace | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    total = st.f_blocks * st.f_frsize
    return TierSpace(tier, str(path), total, st.f_bavail * st.f_frsize, floor.bytes_for(total))


def tier_spaces(config: Config) -> list[TierSpace]:
    """Both tiers' free space and floors (a tier whose folder is missing is left out)."""
    st = config.storage
    found = [measure(Tier.CACHE, st.cache_dir, st.cache_floor),
             measure(Tier.ARCHIVE, st.archive_dir, st.archive_floor)]
    return [t for t in found if t is not None]


def delete_segment(catalog: Catalog, path: str) -> int:
    """Remove one segment, catalog first; returns the bytes freed."""
    catalog.set_status_by_path(path, SegmentStatus.DELETING)
    try:
        size = os.stat(path).st_size
        os.unlink(path)
    except FileNotFoundError:
        size = 0
    catalog.delete_by_path(path)
    return size


class SpaceManager:
    def __init__(self, config: Config, catalog: Catalog,
                 alert: Callable[[Alert], None]) -> None:
        self.config, self.catalog, self.alert = config, catalog, alert
        self.critical: set[str] = set()  # tiers whose floor could not be restored

    def tiers(self) -> list[TierSpace]:
        return tier_spaces(self.config)

    def enforce_floors(self) -> None:
        for space in self.tiers():
            if space.below_floor:
                self._cleanup(space)
            elif space.tier in self.critical and space.free_bytes >= space.floor_bytes:
                self.critical.discard(space.tier)
                log.info("%s tier: free space is above its floor again", space.tier)

    def _cleanup(self, space: TierSpace) -> None:
        target = 2 * space.floor_bytes
        log.warning("%s tier: %.2f GB free, below its floor of %.2f GB: deleting the oldest "
                    "%s segments until %.2f GB are free", space.tier, space.free_bytes / 1e9,
                    space.floor_bytes / 1e9, self._policy_word(space.tier), target / 1e9)
        freed = deleted = 0
        root = Path(space.path)
        for path in self._candidates(space.tier):
            now = measure(space.tier, root, FloorConfig())
            if now is not None and now.free_bytes >= target:
                break
            freed += delete_segment(self.catalog, path)
            deleted += 1
        after = measure(space.tier, root, FloorConfig())
        if deleted:
            self.alert(Alert("disk_space_cleanup", AlertLevel.WARNING,
                             f"{space.tier} tier ({space.path}) fell below its floor: deleted "
                             f"the {deleted} oldest segment(s), {freed / 1e9:.2f} GB"))
        if after is not None and after.free_bytes < space.floor_bytes \
                and space.tier not in self.critical:
            self.critical.add(space.tier)
            self.alert(Alert("disk_space_critical", AlertLevel.CRITICAL,
                             f"{space.tier} tier ({space.path}): "
                             f"{after.free_bytes / 1e9:.2f} GB free, floor "
                             f"{space.floor_bytes / 1e9:.2f} GB cannot be restored "
                             f"(delete_policy = {self.config.storage.delete_policy!r})"))

    def _policy_word(self, tier: str) -> str:
        return "archived" if self.config.storage.delete_policy == "archived" else "any"

    def _candidates(self, full_tier: str) -> Iterator[str]:
        """Oldest first, from every tier that lives on the full file system (on a one-disk
        box cache and archive share it). With delete_policy "archived", only segments on
        the archive tier may go: a cache segment is the only copy until it is moved."""
        roots = {t.tier: Path(t.path) for t in self.tiers()}
        device = _device(roots[full_tier])
        # archived segments go first, even where the policy lets cache segments go too
        tiers = sorted((t for t, root in roots.items() if _device(root) == device),
                       key=lambda t: t != Tier.ARCHIVE)
        if self.config.storage.delete_policy == "archived":
            tiers = [t for t in tiers if t == Tier.ARCHIVE]
        seen: set[str] = set()
        for tier in tiers:
            try:
                yield from self._oldest_rows(tier, seen)
            except CatalogError:
                # the catalog is down: the files themselves say what is oldest
                yield from (str(p) for p in oldest_first(roots[tier]) if str(p) not in seen)

    def _oldest_rows(self, tier: str, seen: set[str]) -> Iterator[str]:
        """Page through the oldest rows. A yielded row may still read "ok" afterwards (its
        deletion spooled while the catalog is down), so pages skip what was seen and the
        walk ends when a page brings nothing new."""
        while True:
            rows = self.catalog.segments(SegmentQuery(tier=tier, status=SegmentStatus.OK,
                                                      limit=len(seen) + 20))
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
            for row in expired:
                delete_segment(self.catalog, row.path)
            if expired:
                log.info("%s: retention of %g days deleted %d segment(s)", camera.id,
                         camera.retention_days, len(expired))
            deleted += len(expired)
        return deleted


def _device(path: Path) -> int:
    return os.stat(path).st_dev
