"""What a packager has made so far: parts, the segments they form, and a sliding window of
them in memory. No I/O and no clock: the packager adds, the routes read."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW_SEGMENTS = 8      # complete segments kept (and listed); the open one comes on top
PART_SEGMENTS = 3        # the last segments whose parts are listed (the spec: ≥ 3 target
#                          durations' worth; ours are 1-2 s each)


@dataclass
class Part:
    number: int              # global, never reused: the URI names it, so a hint is stable
    msn: int                 # the segment it belongs to
    index: int               # its place in that segment
    duration: float
    independent: bool        # starts with a keyframe
    data: bytes


@dataclass
class Segment:
    msn: int
    wall_start: float        # time.time() of its first frame's arrival at the relay
    parts: list[Part] = field(default_factory=list)
    complete: bool = False

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.parts)

    @property
    def data(self) -> bytes:
        return b"".join(p.data for p in self.parts)


class Window:
    def __init__(self) -> None:
        self.segments: deque[Segment] = deque()
        self.next_msn = 0
        self.next_part = 0
        self.discontinuity_sequence = 0
        self.max_segment_s = 1.0

    # -- the packager's side -----------------------------------------------------------

    def open_segment(self, wall_start: float) -> None:
        self.segments.append(Segment(self.next_msn, wall_start))
        self.next_msn += 1

    def add_part(self, duration: float, independent: bool, data: bytes) -> Part:
        segment = self.segments[-1]
        part = Part(self.next_part, segment.msn, len(segment.parts), duration, independent,
                    data)
        self.next_part += 1
        segment.parts.append(part)
        return part

    def close_segment(self) -> None:
        segment = self.segments[-1]
        segment.complete = True
        self.max_segment_s = max(self.max_segment_s, segment.duration)
        while sum(s.complete for s in self.segments) > WINDOW_SEGMENTS:
            self.segments.popleft()

    def clear(self) -> None:
        """A new stream: what was made no longer matches the init segment. Counted as a
        discontinuity that left the playlist; numbers go on, so players stay in step."""
        self.segments.clear()
        self.discontinuity_sequence += 1

    # -- the routes' side ----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """A playlist needs one complete segment (a player starts from segments)."""
        return any(s.complete for s in self.segments)

    def last_part(self) -> Part | None:
        for segment in reversed(self.segments):
            if segment.parts:
                return segment.parts[-1]
        return None

    def has(self, msn: int, part: int | None) -> bool:
        """Is segment `msn` complete (no `part`), or its part `part` (or anything after it)
        made? Asking for the part after a segment's last is answered by the next one."""
        if part is None:
            return any(s.complete and s.msn >= msn for s in self.segments)
        last = self.last_part()
        return last is not None and (last.msn, last.index) >= (msn, part)

    def segment(self, msn: int) -> Segment | None:
        return next((s for s in self.segments if s.msn == msn), None)

    def part(self, number: int) -> Part | None:
        for segment in self.segments:
            for part in segment.parts:
                if part.number == number:
                    return part
        return None
