"""Timestamp repair for camera packets, before anything is muxed.

Cameras (and FFmpeg's RTSP demuxer) are sloppy: the first video packet of a session comes
with no pts/dts; with B-frames the first packets come with a pts but no dts (the parser
does not know the reorder delay yet); and timestamps can jump, backwards too. Dropping
the first packets loses a whole GOP; muxing a jump makes the MP4 muxer raise. This module
fixes the first two, repairs decode times that stall or step back a little, and
detects real jumps; the recorder decides what a jump means (a new
segment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


def stream_key(packet: Any) -> int:
    """Which stream a packet belongs to. Not its index: a transcoded camera's video comes
    from an encoder's own one-stream container (index 0) beside the camera's audio, which
    can be index 0 of the camera's container too. A recorder's streams live as long as
    it does, so their identities stay distinct."""
    return id(packet.stream)

# Timestamps may run ahead of the wall clock by this much before it counts as a jump.
JUMP_TOLERANCE_S = 3.0
# A decode time that lags the last one by at most this much is repaired, not a jump.
MAX_NUDGE_S = 1.0
# Packets with a pts but no dts are held at most this many at a stream's start (a B-frame
# reorder delay is 1-4 frames); a stream that never gives a dts is then taken as it is.
MAX_HELD_WITHOUT_DTS = 8


@dataclass
class Backfill:
    """Holds packets that arrive without a dts until a packet of the same stream gives a
    reference, then gives them decode times one frame apart before it.

    A packet with no timestamp at all takes that decode time as its pts too. One with a
    pts keeps it: stamping dts = pts would put a B-frame stream's decode times out of
    order (pts 3000, 6000 then the first real dts 3000), which reads as a jump and costs
    the segment's first GOP."""

    held: dict[int, list[Any]] = field(default_factory=dict)
    started: set[int] = field(default_factory=set)  # streams past their first dts

    def push(self, packet: Any, default_duration: int) -> list[Any]:
        """Return the packets now ready, in order (possibly none, possibly several)."""
        key = stream_key(packet)
        waiting = self.held.get(key, [])
        if packet.dts is None and packet.pts is None:
            self.held.setdefault(key, []).append(packet)
            return []
        if packet.dts is None and key not in self.started \
                and len(waiting) < MAX_HELD_WITHOUT_DTS:
            self.held.setdefault(key, []).append(packet)
            return []
        self.started.add(key)
        if packet.dts is None:
            packet.dts = packet.pts  # no reorder information: presentation order it is
        if packet.pts is None:
            packet.pts = packet.dts
        waiting = self.held.pop(key, [])
        step = packet.duration or default_duration
        for back, held in enumerate(reversed(waiting), start=1):
            held.dts = packet.dts - back * step
            if held.pts is None or held.pts < held.dts:
                held.pts = held.dts
            held.duration = held.duration or step
        return [*waiting, packet]


@dataclass
class JumpDetector:
    """Per stream: is this dts going backwards, or far ahead of the wall clock?

    A dts that does not advance but lags the last one by at most `MAX_NUDGE_S` is camera
    sloppiness, not a clock jump (seen: every keyframe stamped with the dts of the frame
    before it). Taken as a jump it cut a segment at each keyframe; it is moved one tick past
    the last dts instead (the MP4 muxer needs strictly increasing decode times)."""

    last: dict[int, tuple[int, float]] = field(default_factory=dict)

    def is_jump(self, packet: Any, time_base: Fraction | float, wall_s: float) -> bool:
        key = stream_key(packet)
        previous = self.last.get(key)
        if previous is not None and packet.dts <= previous[0] \
                and (previous[0] - packet.dts) * time_base <= MAX_NUDGE_S:
            packet.dts = previous[0] + 1
            if packet.pts < packet.dts:
                packet.pts = packet.dts
        self.last[key] = (packet.dts, wall_s)
        if previous is None:
            return False
        last_dts, last_wall = previous
        if packet.dts <= last_dts:
            return True
        ahead = float((packet.dts - last_dts) * time_base) - (wall_s - last_wall)
        return ahead > JUMP_TOLERANCE_S

    def reset(self) -> None:
        self.last.clear()
