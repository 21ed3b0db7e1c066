"""Timestamp repair for camera packets, before anything is muxed.

Cameras (and FFmpeg's RTSP demuxer) are sloppy: the first video packet of a session comes
with no pts/dts, and timestamps can jump, backwards too. Dropping the first packet loses a
whole GOP; muxing a jump makes the MP4 muxer raise. This module fixes the first and
detects the second; the recorder decides what a jump means (a new segment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

# Timestamps may run ahead of the wall clock by this much before it counts as a jump.
JUMP_TOLERANCE_S = 3.0


@dataclass
class Backfill:
    """Holds packets that arrive without timestamps until the next packet of the same
    stream gives a reference, then stamps them one frame earlier."""

    held: dict[int, list[Any]] = field(default_factory=dict)

    def push(self, packet: Any, default_duration: int) -> list[Any]:
        """Return the packets now ready, in order (possibly none, possibly several)."""
        key = packet.stream.index
        if packet.dts is None and packet.pts is None:
            self.held.setdefault(key, []).append(packet)
            return []
        if packet.dts is None:
            packet.dts = packet.pts
        if packet.pts is None:
            packet.pts = packet.dts
        waiting = self.held.pop(key, [])
        step = packet.duration or default_duration
        for back, held in enumerate(reversed(waiting), start=1):
            held.dts = held.pts = packet.dts - back * step
            held.duration = held.duration or step
        return [*waiting, packet]


@dataclass
class JumpDetector:
    """Per stream: is this dts going backwards, or far ahead of the wall clock?"""

    last: dict[int, tuple[int, float]] = field(default_factory=dict)

    def is_jump(self, key: int, dts: int, time_base: Fraction | float, wall_s: float) -> bool:
        previous = self.last.get(key)
        self.last[key] = (dts, wall_s)
        if previous is None:
            return False
        last_dts, last_wall = previous
        if dts <= last_dts:
            return True
        ahead = float((dts - last_dts) * time_base) - (wall_s - last_wall)
        return ahead > JUMP_TOLERANCE_S

    def reset(self) -> None:
        self.last.clear()
