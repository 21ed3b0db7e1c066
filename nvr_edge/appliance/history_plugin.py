"""Built-in plugin `history`: records camera states, alerts (some explain a hole in a
recording: the disk was full) and the box's starts and stops in the state folder (see
history.py); the web plugin's `/api/gaps` reads it back to give old holes their cause."""

from __future__ import annotations

from nvr_edge.api import Appliance
from nvr_edge.appliance.history import (
    BOX_STARTED,
    BOX_STOPPED,
    HistoryEvent,
    record,
    start_detail,
)
from nvr_edge.catalog.base import Catalog
from nvr_edge.config import Config
from nvr_edge.hookspecs import hookimpl
from nvr_edge.models import Alert, now_ms


@hookimpl
def nvr_startup(config: Config, catalog: Catalog, appliance: Appliance) -> None:
    state_dir = config.storage.state_dir
    record(state_dir, HistoryEvent(now_ms(), "box", BOX_STARTED,
                                   detail=start_detail(state_dir)))


@hookimpl
def nvr_shutdown(config: Config) -> None:
    record(config.storage.state_dir, HistoryEvent(now_ms(), "box", BOX_STOPPED))


@hookimpl
def nvr_camera_state(camera_id: str, state: str, reason: str, config: Config) -> None:
    record(config.storage.state_dir, HistoryEvent(now_ms(), "state", str(state), camera_id,
                                                  reason))


@hookimpl
def nvr_alert(alert: Alert, config: Config) -> None:
    record(config.storage.state_dir, HistoryEvent(alert.at_ms, "alert", alert.code,
                                                  alert.camera, alert.message))
