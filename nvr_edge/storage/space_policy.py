"""The one space policy: how much room each tier has, and when it is short of it.

The tier mover ("can the archive take this segment?"), the cleanup ("how much must go?"),
the worker's space check before a segment and the supervisor's "may a camera stopped for
space record again?" all read the thresholds here. They used to keep their own: the mover
called the archive full at `free - segment < floor` while cleanup waited for
`free < floor`, and in between a full archive was never cleaned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nvr_edge.config import FloorConfig, StorageConfig
from nvr_edge.models import Tier


@dataclass(frozen=True)
class TierSpace:
    tier: str
    path: str
    total_bytes: int
    free_bytes: int
    floor_bytes: int

    @property
    def below_floor(self) -> bool:
        return shortfall(self.free_bytes, self.floor_bytes, 0) > 0


def shortfall(free: int, floor: int, incoming: int) -> int:
    """Bytes to free before `incoming` more fit above the floor (0: they fit now)."""
    return max(0, floor + incoming - free)


def cleanup_target(floor: int, incoming: int) -> int:
    """The free space a cleanup works towards: a floor's worth beyond what is needed, so
    that it does not run again for every segment."""
    return 2 * floor + incoming


def measure(tier: str, path: Path, floor: FloorConfig) -> TierSpace | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    total = st.f_blocks * st.f_frsize
    return TierSpace(tier, str(path), total, st.f_bavail * st.f_frsize, floor.bytes_for(total))


@dataclass(frozen=True)
class SpacePolicy:
    """The thresholds of one storage configuration, applied to measured tiers."""

    storage: StorageConfig

    def root(self, tier: str) -> Path:
        return self.storage.archive_dir if tier == Tier.ARCHIVE else self.storage.cache_dir

    def measure(self, tier: str) -> TierSpace | None:
        """None: the tier's folder is missing (or cannot be measured)."""
        floor = self.storage.archive_floor if tier == Tier.ARCHIVE else self.storage.cache_floor
        return measure(tier, self.root(tier), floor)

    def tiers(self) -> list[TierSpace]:
        """Both tiers (a tier whose folder is missing is left out)."""
        found = [self.measure(Tier.CACHE), self.measure(Tier.ARCHIVE)]
        return [t for t in found if t is not None]

    @staticmethod
    def shortfall(space: TierSpace, incoming: int = 0) -> int:
        return shortfall(space.free_bytes, space.floor_bytes, incoming)

    @staticmethod
    def can_take(space: TierSpace, incoming: int) -> bool:
        """The mover's (and the worker's) test; cleanup runs exactly when it fails."""
        return shortfall(space.free_bytes, space.floor_bytes, incoming) == 0

    @staticmethod
    def cleanup_target(space: TierSpace, incoming: int = 0) -> int:
        return cleanup_target(space.floor_bytes, incoming)

    @staticmethod
    def can_reserve(space: TierSpace, reservation: int) -> bool:
        """A camera stopped because its reservation failed (ENOSPC) records again once the
        same reservation would succeed: the floor is cleanup's business, not a reason to
        keep a camera off."""
        return space.free_bytes >= reservation

