"""Counters for the status part: per path, and refusals by status code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PathStats:
    sessions: int = 0        # playing now
    bytes: int = 0           # sent, RTP and RTCP with interleaving
    drops: int = 0           # packets not sent to a slow client (whole GOPs)
    disconnected: int = 0    # clients dropped for stalling

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)
