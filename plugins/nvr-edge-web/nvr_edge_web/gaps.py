"""The holes in a camera's recording between two times, each with its cause where the box
knows it.

What is known, and how far back: the box's history in its state folder (the core's
`history` plugin: camera states, alerts, the box's own starts and stops, across restarts,
as far back as its size bound keeps), and the camera's state now (a hole that reaches the
present while the camera is disabled or offline has that cause). Alerts
"recording_paused_no_space" and "disk_space_critical" say the disk was full,
"camera_unstable" and "recording_fatal_error" that the camera kept dropping; a box stop,
or a start after an unclean stop, or the box's first start on record, says the box was
off. A hole from before the history begins is "no recording": the box cannot say why."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

JOIN_MS = 2000  # segments this close count as one stretch (a segment ends at a keyframe)
NOW_SLACK_MS = 30_000  # a hole ending this close to now "reaches the present"

# alert code -> the cause it tells of
ALERT_CAUSES = {
    "recording_paused_no_space": "disk full",
    "disk_space_critical": "disk full",
    "camera_unstable": "offline",
    "recording_fatal_error": "offline",
}
STATE_CAUSES = {"disabled": "disabled", "offline": "offline", "stopped": "disabled"}
BOX_OFF = "box off"
UNKNOWN = "no recording"


@dataclass(frozen=True)
class Event:
    """Something that happened to the camera (or to the whole box: disk full, off).
    `cause` "" : the camera was recording again (it ends an earlier cause)."""

    at_ms: int
    cause: str
    detail: str


def event_of(at_ms: int, kind: str, code: str, detail: str) -> Event | None:
    """A history event as a cause (None: it tells nothing about recording)."""
    if kind == "alert":
        cause = ALERT_CAUSES.get(code)
        return Event(at_ms, cause, detail) if cause else None
    if kind == "box":
        return Event(at_ms, BOX_OFF, detail or ("the box was stopped" if code == "box_stopped"
                                                 else "the box was off until it started"))
    if kind == "state":
        if code == "online":
            return Event(at_ms, "", detail)
        cause = STATE_CAUSES.get(code)
        return Event(at_ms, cause, detail or f"the camera was {code}") if cause else None
    return None


@dataclass(frozen=True)
class Gap:
    start_ms: int
    end_ms: int
    cause: str
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "cause": self.cause,
                "detail": self.detail}


def holes(spans: Iterable[tuple[int, int]], from_ms: int, to_ms: int,
          join_ms: int = JOIN_MS) -> list[tuple[int, int]]:
    """The stretches of [from_ms, to_ms) no span covers, shorter ones than `join_ms` left
    out (the instant between two segments is not a hole)."""
    found, covered = [], from_ms
    for start, end in sorted(spans):
        if end <= covered:
            continue
        if start - covered >= join_ms:
            found.append((covered, min(start, to_ms)))
        covered = max(covered, end)
        if covered >= to_ms:
            break
    if to_ms - covered >= join_ms:
        found.append((covered, to_ms))
    return [(start, end) for start, end in found if end - start >= join_ms]


def explain(hole: tuple[int, int], events: Sequence[Event], state: str, reason: str,
            now_ms: int) -> Gap:
    """The hole with the last cause known to have begun in it (or just before it), else
    the cause in effect when it began (an earlier cause with no recording again since),
    else the camera's state now for a hole that reaches the present, else UNKNOWN."""
    start, end = hole
    inside = [e for e in events if start - JOIN_MS <= e.at_ms < end and e.cause]
    if inside:
        last = max(inside, key=lambda e: e.at_ms)
        return Gap(start, end, last.cause, last.detail)
    before = [e for e in events if e.at_ms < start - JOIN_MS]
    if before and (last := max(before, key=lambda e: e.at_ms)).cause:
        return Gap(start, end, last.cause, last.detail)
    if end >= now_ms - NOW_SLACK_MS and state in STATE_CAUSES:
        return Gap(start, end, STATE_CAUSES[state], reason or f"the camera is {state}")
    return Gap(start, end, UNKNOWN, "the box kept no record of why")
