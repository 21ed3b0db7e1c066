"""How an RTSP session ended, and the words the camera's state carries for it."""

from __future__ import annotations

from dataclasses import dataclass


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
