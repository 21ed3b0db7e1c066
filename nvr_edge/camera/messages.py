"""What a camera worker tells the supervisor, one frozen dataclass per message.

They travel pickled over a one-way `multiprocessing` pipe; the supervisor matches on the
class. `camera` is always the sending worker's camera id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nvr_edge.models import AlertLevel, CameraState, SegmentRecord, Tier


@dataclass(frozen=True)
class StateChanged:
    camera: str
    state: CameraState
    reason: str = ""


@dataclass(frozen=True)
class AlertRaised:
    camera: str
    code: str
    level: AlertLevel
    message: str


@dataclass(frozen=True)
class SegmentClosed:
    camera: str
    record: SegmentRecord
    at: float  # system-wide monotonic clock at the close: health judges by it, not by
    # when the (possibly busy) main process read the message


@dataclass(frozen=True)
class Stats:
    """Every few seconds and at the end of a session; `at` is the system-wide monotonic
    clock, so rates computed from it carry no pipe lag."""

    camera: str
    at: float
    open_ms: int  # of the segment being written
    bytes_per_s: float
    counters: dict[str, int] = field(default_factory=dict)
    transcoding: dict[str, Any] | None = None  # {encoder, fps}: a camera encoded to H.264
    rungs: dict[str, Any] | None = None  # transcoded live rungs: {name: {running, frames...}}


@dataclass(frozen=True)
class SpaceLow:
    """The cache is below its floor before a new segment: clean up now."""

    camera: str
    tier: Tier
    free_bytes: int


WorkerMessage = StateChanged | AlertRaised | SegmentClosed | Stats | SpaceLow
