"""The last alerts the appliance raised (`nvr_alert`), kept in memory for the system page.

Held by the plugin object, so a server restart (a changed [web]) does not forget them; a
box restart does, as the journal keeps the full history."""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from nvr_edge import Alert, iso_utc, redact

KEPT = 50
# An absolute path in a message (a disk alert names its folder): for admins only
_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.@+-]+/?)+")
HIDDEN_PATH = "<path>"


def without_paths(message: str) -> str:
    """`message` with each absolute filesystem path replaced: a view token learns what
    happened, not the box's layout."""
    return _PATH.sub(HIDDEN_PATH, message)


class AlertLog:
    def __init__(self, kept: int = KEPT) -> None:
        self._alerts: deque[dict[str, Any]] = deque(maxlen=kept)
        self._lock = threading.Lock()  # the supervisor adds, the web loop reads

    def add(self, alert: Alert) -> None:
        row = {"at": iso_utc(alert.at_ms), "code": alert.code, "level": str(alert.level),
               "camera": alert.camera, "message": redact(alert.message)}
        with self._lock:
            self._alerts.append(row)

    def recent(self, shown: Callable[[str | None], bool], paths: bool = True
               ) -> list[dict[str, Any]]:
        """Newest first; `shown(camera)` filters (None: an alert about the box itself);
        `paths`: False masks the filesystem paths messages name."""
        with self._lock:
            rows = list(self._alerts)
        return [row if paths else {**row, "message": without_paths(row["message"])}
                for row in reversed(rows) if shown(row["camera"])]
