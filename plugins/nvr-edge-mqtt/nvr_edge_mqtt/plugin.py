"""The plugin's hooks: nvr-edge's events in, the MQTT bridge out.

Idle when the config has no [mqtt] table."""

from __future__ import annotations

import logging
import threading
from importlib import metadata
from typing import Any

from nvr_edge import Alert, Appliance, Catalog, Config, SegmentRecord, hookimpl

from . import payloads
from .bridge import MqttBridge
from .settings import MqttSettings, read_mqtt
from .spool import EventSpool

log = logging.getLogger(__name__)
SPOOL_FILE = "mqtt-events.db"

_bridge: MqttBridge | None = None
_appliance: Appliance | None = None


def _start(config: Config, appliance: Appliance | None) -> None:
    global _bridge
    settings: MqttSettings | None = config.sections.get("mqtt")
    if settings is None:
        return
    spool = EventSpool(config.storage.state_dir / SPOOL_FILE,
                       int(settings.spool_max_mb * 1024 * 1024))
    plugins = appliance.plugins if appliance is not None else list
    _bridge = MqttBridge(settings, config, spool, _core_version(), plugins)
    _bridge.start(appliance)


def _core_version() -> str:
    try:
        return metadata.version("nvr-edge")
    except metadata.PackageNotFoundError:
        return "unknown"


@hookimpl
def nvr_config_sections() -> dict[str, Any]:
    return {"mqtt": read_mqtt}


@hookimpl
def nvr_startup(config: Config, catalog: Catalog, appliance: Appliance) -> None:
    global _appliance
    _appliance = appliance
    _start(config, appliance)


@hookimpl
def nvr_shutdown(config: Config) -> None:
    global _bridge
    if _bridge is not None:
        _bridge.stop()
        _bridge = None


@hookimpl
def nvr_camera_state(camera_id: str, state: str, reason: str, config: Config) -> None:
    if _bridge is not None:
        _bridge.camera_state(camera_id, state)
        _bridge.event(payloads.state_event(camera_id, state, reason))


@hookimpl
def nvr_segment_closed(segment: SegmentRecord, config: Config) -> None:
    if _bridge is not None:
        _bridge.event(payloads.segment_event(segment))


@hookimpl
def nvr_alert(alert: Alert, config: Config) -> None:
    if _bridge is not None:
        _bridge.event(payloads.alert_event(alert))


@hookimpl
def nvr_tier_state(tier: str, state: str, reason: str, config: Config) -> None:
    if _bridge is not None:
        _bridge.event(payloads.tier_event(tier, state, reason))


@hookimpl
def nvr_status(status: dict[str, Any], config: Config) -> None:
    if _bridge is not None:
        _bridge.new_status(status)


@hookimpl
def nvr_config_changed(config: Config, previous: Config) -> None:
    """A changed [mqtt] table means a new session (in the background: the supervisor's
    loop must not wait for the old one to say goodbye)."""
    global _bridge
    if config.sections.get("mqtt") == previous.sections.get("mqtt"):
        if _bridge is not None:
            _bridge.config_changed(config)
        return
    old, _bridge = _bridge, None
    states = dict(old.camera_states) if old is not None else {}

    def reconnect() -> None:
        if old is not None:
            old.stop()
        _start(config, _appliance)
        if _bridge is not None:
            for camera, state in states.items():
                _bridge.camera_state(camera, state)

    threading.Thread(target=reconnect, name="mqtt-reconfigure", daemon=True).start()
