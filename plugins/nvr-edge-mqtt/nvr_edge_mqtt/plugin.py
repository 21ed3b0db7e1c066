"""The plugin object: nvr-edge's events in, the MQTT bridge out.

Idle when the config has no [mqtt] table."""

from __future__ import annotations

import threading
from importlib import metadata
from typing import Any

from nvr_edge import Alert, Appliance, Catalog, Config, SegmentRecord, hookimpl

from . import payloads
from .bridge import MqttBridge
from .settings import MqttSettings, read_mqtt
from .spool import EventSpool

SPOOL_FILE = "mqtt-events.db"


def _core_version() -> str:
    try:
        return metadata.version("nvr-edge")
    except metadata.PackageNotFoundError:
        return "unknown"


class MqttPlugin:
    """One per appliance run: the bridge lives from `nvr_startup` to `nvr_shutdown`."""

    def __init__(self) -> None:
        self.bridge: MqttBridge | None = None
        self.appliance: Appliance | None = None

    def _start(self, config: Config) -> None:
        settings: MqttSettings | None = config.sections.get("mqtt")
        if settings is None or self.appliance is None:
            return
        spool = EventSpool(config.storage.state_dir / SPOOL_FILE,
                           int(settings.spool_max_mb * 1024 * 1024))
        self.bridge = MqttBridge(settings, config, spool, _core_version(),
                                 self.appliance.plugins)
        self.bridge.start(self.appliance)

    @hookimpl
    def nvr_config_sections(self) -> dict[str, Any]:
        return {"mqtt": read_mqtt}

    @hookimpl
    def nvr_cli_commands(self, subparsers: Any) -> None:
        from .fleet_status import add_fleet_command  # the CLI process only

        add_fleet_command(subparsers)

    @hookimpl
    def nvr_startup(self, config: Config, catalog: Catalog, appliance: Appliance) -> None:
        self.appliance = appliance
        self._start(config)

    @hookimpl
    def nvr_shutdown(self, config: Config) -> None:
        bridge, self.bridge, self.appliance = self.bridge, None, None
        if bridge is not None:
            bridge.stop()

    @hookimpl
    def nvr_camera_state(self, camera_id: str, state: str, reason: str, config: Config) -> None:
        if self.bridge is not None:
            self.bridge.camera_state(camera_id, state, reason)
            self.bridge.event(payloads.state_event(camera_id, state, reason))

    @hookimpl
    def nvr_segment_closed(self, segment: SegmentRecord, config: Config) -> None:
        if self.bridge is not None:
            self.bridge.event(payloads.segment_event(segment))

    @hookimpl
    def nvr_alert(self, alert: Alert, config: Config) -> None:
        if self.bridge is not None:
            self.bridge.event(payloads.alert_event(alert))

    @hookimpl
    def nvr_tier_state(self, tier: str, state: str, reason: str, config: Config) -> None:
        if self.bridge is not None:
            self.bridge.event(payloads.tier_event(tier, state, reason))

    @hookimpl
    def nvr_status(self, status: dict[str, Any], config: Config) -> None:
        if self.bridge is not None:
            self.bridge.new_status(status)

    @hookimpl
    def nvr_status_part(self, config: Config) -> dict[str, Any] | None:
        bridge = self.bridge
        return None if bridge is None else {"mqtt": bridge.link()}

    @hookimpl
    def nvr_config_changed(self, config: Config, previous: Config) -> None:
        """A changed [mqtt] table means a new session (in the background: the supervisor's
        loop must not wait for the old one to say goodbye)."""
        if config.sections.get("mqtt") == previous.sections.get("mqtt"):
            if self.bridge is not None:
                self.bridge.config_changed(config)
            return
        old, self.bridge = self.bridge, None
        states = dict(old.camera_states) if old is not None else {}
        reasons = dict(old.camera_reasons) if old is not None else {}

        def reconnect() -> None:
            if old is not None:
                old.stop()
            self._start(config)
            if self.bridge is not None:
                for camera, state in states.items():
                    self.bridge.camera_state(camera, state, reasons.get(camera, ""))

        threading.Thread(target=reconnect, name="mqtt-reconfigure", daemon=True).start()


plugin = MqttPlugin()  # what the entry point names
