"""How an RTSP session ended, and the words the camera's state carries for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nvr_edge.camera.ingest import Ended, Opened
from nvr_edge.camera.stall import StallMonitor


@dataclass(frozen=True)
class SessionEnd:
    opened: bool  # the session got as far as the camera's streams
    recorded: bool  # at least one packet was written
    reason: str  # why it ended, for the camera's state


class ReasonStreak:
    """The same failure again and again is one reason with a count ("… (3 times)"), so an
    operator tells a camera that always fails one way from one that failed once."""

    def __init__(self) -> None:
        self.last: str | None = None
        self.count = 0

    def add(self, reason: str) -> str:
        if reason == self.last:
            self.count += 1
        else:
            self.last, self.count = reason, 1
        return reason if self.count == 1 else f"{reason} ({self.count} times)"

    def reset(self) -> None:
        self.last, self.count = None, 0


@dataclass
class SessionState:
    """One RTSP session's recorder and stall monitor (both from its Opened on), and why
    it ended."""

    recorder: Any = None  # a SessionRecorder, or a NativeRecorder (the same counters)
    monitor: StallMonitor | None = None
    opened: Opened | None = None
    fresh_from: float = 0.0  # monotonic: source video that arrived earlier is dropped
    source_video: Any = None  # the camera's video stream (the recorder's may be encoded)
    reason: str = "the session ended"

    @property
    def received(self) -> bool:
        return self.recorder is not None and self.recorder.counters.received > 0

    def silent_for(self, seconds: float) -> None:
        self.reason = (f"the stream stalled: no packet for {seconds:.0f} s" if self.received
                       else f"no data for {seconds:.0f} s after connect")

    def ended(self, item: Ended) -> None:
        if item.error:
            self.reason = item.error if self.recorder is None else \
                f"the stream failed: {item.error}"
        elif self.received:
            self.reason = "the camera ended the stream"
        else:
            self.reason = "the camera closed the stream right after connecting"

    def end(self) -> SessionEnd:
        recorded = self.recorder is not None and self.recorder.counters.written > 0
        return SessionEnd(self.recorder is not None, recorded, self.reason)
