"""Where a segment's copy lives in the bucket."""

from __future__ import annotations

from datetime import UTC, datetime

from nvr_edge import SegmentRecord


def object_key(prefix: str, device: str, segment: SegmentRecord) -> str:
    """`<prefix>/<device>/<camera>/<YYYY-MM-DD>/<HHMMSS>.mp4` (UTC; the start of the
    segment). A stream other than main gets `-<stream>`: both start in the same second."""
    start = datetime.fromtimestamp(segment.start_ms / 1000, UTC)
    name = start.strftime("%H%M%S") + ("" if segment.stream == "main" else f"-{segment.stream}")
    return f"{prefix}/{device}/{segment.camera}/{start:%Y-%m-%d}/{name}.mp4"
