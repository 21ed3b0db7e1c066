"""What happened to the cameras and the box, kept in the state folder across restarts, so a
hole in a recording found days later still has its cause: camera states (offline,
disabled, stopped, online), alerts (among them those that say the disk was full), and the
box's own starts and stops (a start with no stop before it was a power cut or a crash).

One JSON line per event in <state_dir>/history.jsonl, appended and fsynced (events are
rare: a flapping camera is held back by its reconnect backoff, alerts by their throttle).
When the file passes MAX_BYTES the older half is dropped, so the history reaches back as
far as the box's recent life allows, never filling the state folder."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from nvr_edge.fsutil import append_line, fsync_dir

log = logging.getLogger(__name__)
FILE = "history.jsonl"
MAX_BYTES = 2 * 1024 * 1024  # ~14,000 events
BOX_STARTED, BOX_STOPPED = "box_started", "box_stopped"
UNCLEAN = "the box was off: power lost or a crash (its stop was never recorded)"
# A start with no box event before it: the box had not run before (as far as it knows)
FIRST_START = "the box's first start on record"
_LOCK = threading.Lock()  # appends come from the supervisor's thread and hook threads


@dataclass(frozen=True)
class HistoryEvent:
    """`kind`: "state" (`code` the camera's state), "alert" (`code` the alert's code) or
    "box" (`code` box_started / box_stopped; `camera` None)."""

    at_ms: int
    kind: str
    code: str
    camera: str | None = None
    detail: str = ""


def history_path(state_dir: Path) -> Path:
    return Path(state_dir) / FILE


def record(state_dir: Path, event: HistoryEvent, max_bytes: int = MAX_BYTES) -> None:
    """Append `event`; a history that cannot be written is logged, never raised (it must
    not stop a state change or an alert from reaching the other plugins)."""
    path = history_path(state_dir)
    line = json.dumps(asdict(event), separators=(",", ":")).encode() + b"\n"
    try:
        with _LOCK:
            if append_line(path, line) > max_bytes:
                _drop_older_half(path)
    except OSError as exc:
        log.warning("cannot record %s %s in %s: %s", event.kind, event.code, path, exc)


def _drop_older_half(path: Path) -> None:
    data = path.read_bytes()
    cut = data.find(b"\n", len(data) // 2) + 1  # at a line's end
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data[cut:])
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_history(state_dir: Path, camera: str | None = None, since_ms: int = 0,
                 until_ms: int | None = None) -> list[HistoryEvent]:
    """Events in [since_ms, until_ms), oldest first: the camera's and the box's own (all
    when `camera` is None). Unreadable lines (a torn last line) are skipped."""
    try:
        lines = history_path(state_dir).read_bytes().splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            event = HistoryEvent(**json.loads(line))
        except (ValueError, TypeError):
            continue
        if event.at_ms < since_ms or (until_ms is not None and event.at_ms >= until_ms):
            continue
        if camera is None or event.camera in (None, camera):
            found.append(event)
    return found


def start_detail(state_dir: Path) -> str:
    """What a box start says: the first on record, after a clean stop, or after an unclean
    one (the last box event recorded is a start)."""
    box = [e for e in read_history(state_dir) if e.kind == "box"]
    if not box:
        return FIRST_START
    return UNCLEAN if box[-1].code == BOX_STARTED else ""
