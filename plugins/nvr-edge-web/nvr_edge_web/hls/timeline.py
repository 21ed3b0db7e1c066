"""One camera's renditions on one media timeline, so a player can switch between them.

hls.js (like any player appending to one MSE buffer) places a rendition's fragments by
their decode times (`tfdt`): after a switch the new rung's part must sit where the old
rung's would have. Each packager starts when its rung is first asked for, so its own clock
cannot start at 0; it starts where the camera's timeline says.

Streams of one *family* share their source timestamps: the live stream and the rungs
transcoded from it (the encoder keeps each frame's source time). A main stream beside a
sub stream is its own RTSP session with unrelated timestamps: it is placed by when its
first frame reached the relay against the first anchor's (both streams are sent in real
time, so they line up within the relay's jitter, tens of ms)."""

from __future__ import annotations

from dataclasses import dataclass

LEAD_S = 10.0      # the first anchor sits this far in: a rung joined later may start with
#                    a cached GOP older than the first packager's first frame
AGREE_S = 5.0      # source time and arrival disagreeing by more: a restarted stream


@dataclass(frozen=True)
class Anchor:
    source_s: float   # a frame's source time
    arrival: float    # when it reached the relay (monotonic)
    at_s: float       # where it sits on the timeline


class Timeline:
    def __init__(self) -> None:
        self.anchors: dict[str, Anchor] = {}

    def place(self, family: str, source_s: float | None, arrival: float) -> float:
        """Where (s, ≥ 0) a packager's first frame goes: its family's anchor moved on by
        the source time, else by arrival against any anchor (a new family, a restarted
        stream); the first frame of all at LEAD_S."""
        anchor = self.anchors.get(family)
        if anchor is not None and source_s is not None:
            moved = source_s - anchor.source_s
            if abs(moved - (arrival - anchor.arrival)) <= AGREE_S and anchor.at_s + moved >= 0:
                return anchor.at_s + moved
        first = next(iter(self.anchors.values()), None)
        at = LEAD_S if first is None else max(0.0, first.at_s + arrival - first.arrival)
        if source_s is not None:
            self.anchors[family] = Anchor(source_s, arrival, at)
        return at
