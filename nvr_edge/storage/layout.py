"""Where segment files live and what their names mean: the one definition of the layout.

`<tier root>/<camera>/<YYYY-MM-DD>/<HHMMSS>[-<stream>][-n].mp4`, written as `<name>.part`
while open and copied to the archive as `<name>.moving` until verified.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nvr_edge.config import Config
from nvr_edge.models import Tier, iso_utc

PART_SUFFIX = ".part"      # a segment being written (or left by a crash)
MOVING_SUFFIX = ".moving"  # an archive copy not yet verified
SEGMENT_GLOB = "*.mp4"
PART_GLOB = "*.mp4" + PART_SUFFIX
DATED_SEGMENT_GLOB = "*/*/*.mp4"  # relative to a tier root: camera/date/file


def segment_path(root: Path, camera: str, stream: str, start_ms: int) -> Path:
    """A free name for a new segment, suffixed `-n` when that second is taken."""
    stamp = iso_utc(start_ms)  # 2026-11-23T22:01:02.345Z
    folder = root / camera / stamp[:10]
    base = stamp[11:19].replace(":", "")
    if stream != "main":
        base = f"{base}-{stream}"
    candidate = folder / f"{base}.mp4"
    n = 1
    while candidate.exists() or part_of(candidate).exists():
        candidate = folder / f"{base}-{n}.mp4"
        n += 1
    return candidate


def part_of(path: Path) -> Path:
    return path.with_name(path.name + PART_SUFFIX)


def final_of(part: Path) -> Path:
    return part.with_name(part.name.removesuffix(PART_SUFFIX))


def moving_of(path: Path) -> Path:
    return path.with_name(path.name + MOVING_SUFFIX)


def tier_roots(config: Config) -> list[tuple[Tier, Path]]:
    return [(Tier.CACHE, config.storage.cache_dir), (Tier.ARCHIVE, config.storage.archive_dir)]


def oldest_first(root: Path) -> list[Path]:
    """A tier's segment files, oldest first by their dated names."""
    return sorted(root.glob(DATED_SEGMENT_GLOB), key=lambda p: (p.parent.name, p.name))


def start_ms_from_name(path: Path) -> int | None:
    """The start a file's name tells (second precision), or None for another name."""
    stamp = f"{path.parent.name} {path.name[:6]}"
    try:
        return round(datetime.strptime(stamp, "%Y-%m-%d %H%M%S").replace(tzinfo=UTC)
                     .timestamp() * 1000)
    except ValueError:
        return None
