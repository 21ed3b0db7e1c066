"""Where an update stands: the state the `update` status part and the MQTT update topic
carry, kept in `<update dir>/state.json` so it survives the reboot, and what the files
the health gate leaves say after it.

States: downloading (percent), verifying, installing (percent), rebooting, testing, then
committed, rolled_back (reason) or failed (reason). Files in the update folder (on the
data partition): state.json (ours), pending.json (ours, written before the reboot: the
gate's orders), result.json (the gate's verdict, image/board/common/ab/.../update-gate)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from nvr_edge.models import iso_utc, now_ms

STATE_FILE = "state.json"
PENDING_FILE = "pending.json"
RESULT_FILE = "result.json"
# Interrupted by a restart of the box (power cut, crash): RAUC switches the boot order only
# after the whole slot is written, so the old slot runs and the update did not happen.
BEFORE_REBOOT = ("downloading", "verifying", "installing")


def read_json(path: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else None
    return None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically and durably: a power cut leaves the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as out:
        out.write(json.dumps(data) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def after_boot(saved: dict[str, Any] | None, pending: dict[str, Any] | None,
               result: dict[str, Any] | None, booted: str | None,
               worker_alive: bool) -> dict[str, Any] | None:
    """The state the files say now, or None when `saved` stands. `saved`: our last state;
    `pending`/`result`: the gate's files; `booted`: this boot's slot; `worker_alive`: an
    update runs in this process."""
    if not saved:
        return None
    state, version = saved.get("state"), saved.get("version")
    if state in BEFORE_REBOOT and not worker_alive:
        return {"state": "failed", "version": version,
                "reason": f"interrupted while {state} (the box restarted: power cut or "
                          "crash); the running slot was kept, a retry starts over"}
    if state not in ("rebooting", "testing"):
        return None
    if pending is not None and pending.get("version") == version:
        if pending.get("slot") == booted and state != "testing":
            return {"state": "testing", "version": version, "slot": booted}
        return None  # the gate has not decided yet (on the old slot: it is about to)
    if result is not None and result.get("version") == version \
            and result.get("state") in ("committed", "rolled_back"):
        done = {"state": result["state"], "version": version, "slot": result.get("slot")}
        if result.get("reason"):
            done["reason"] = result["reason"]
        return done
    if state == "rebooting" and pending is None and booted is not None:
        return {"state": "failed", "version": version,
                "reason": "the box restarted before the new slot was tried (no pending "
                          "update left)"}
    return None


class Progress:
    """The current state, from any thread; persisted on each change of state (percent
    changes stay in memory: they are news, not history)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.current: dict[str, Any] | None = read_json(folder / STATE_FILE)

    def get(self) -> dict[str, Any] | None:
        with self.lock:
            return dict(self.current) if self.current else None

    def set(self, state: str, version: str, **extra: Any) -> None:
        doc = {"state": state, "version": version, "at": iso_utc(now_ms()),
               **{k: v for k, v in extra.items() if v is not None}}
        with self.lock:
            changed = not self.current or self.current.get("state") != state
            self.current = doc
        if changed:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_json(self.folder / STATE_FILE, doc)

    def percent(self, percent: int) -> None:
        with self.lock:
            if self.current:
                self.current = {**self.current, "percent": percent}

    def refresh(self, booted: str | None, worker_alive: bool) -> None:
        """Take up what the gate's files say (called at start and every few seconds)."""
        saved = self.get()
        news = after_boot(saved, read_json(self.folder / PENDING_FILE),
                          read_json(self.folder / RESULT_FILE), booted, worker_alive)
        if news is not None:
            self.set(news.pop("state"), news.pop("version"), **news)
