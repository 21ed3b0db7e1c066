"""Counters for the status part: per path, and refusals by status code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PathStats:
    sessions: int = 0        # playing now
    bytes: int = 0           # sent, RTP and RTCP with interleaving
    drops: int = 0           # packets not sent to a slow client (whole GOPs)
    disconnected: int = 0    # clients dropped for stalling
    delay_ms: float = 0.0    # hub arrival to written for the client, moving average

    def waited(self, seconds: float) -> None:
        self.delay_ms += (seconds * 1000 - self.delay_ms) * 0.05

    def as_dict(self) -> dict[str, float]:
        return {**self.__dict__, "delay_ms": round(self.delay_ms, 1)}
