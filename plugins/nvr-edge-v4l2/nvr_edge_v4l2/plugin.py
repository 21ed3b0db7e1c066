"""The plugin object: in the running appliance a watcher follows video4linux devices
(`[v4l2]`), shown as status part "v4l2"; `discover` offers their capture nodes."""

from __future__ import annotations

import logging
from typing import Any

from nvr_edge import (
    Appliance,
    CameraCandidate,
    Catalog,
    Command,
    Config,
    DiscoveryRequest,
    hookimpl,
)
from nvr_edge_v4l2.adopt import adopt_command
from nvr_edge_v4l2.candidates import candidate
from nvr_edge_v4l2.follow import device_changed
from nvr_edge_v4l2.nodes import VideoNode
from nvr_edge_v4l2.settings import V4l2Settings, read_v4l2
from nvr_edge_v4l2.watcher import Present, Watcher

log = logging.getLogger(__name__)


class V4l2Discovery:
    def __init__(self) -> None:
        self.watcher: Watcher | None = None
        self.appliance: Appliance | None = None

    @hookimpl
    def nvr_config_sections(self) -> dict[str, Any]:
        return {"v4l2": read_v4l2}

    @hookimpl
    def nvr_startup(self, config: Config, catalog: Catalog, appliance: Appliance) -> None:
        self.appliance = appliance
        self._watch(_settings(config))

    @hookimpl
    def nvr_commands(self, appliance: Appliance) -> list[Command]:
        return [adopt_command(appliance, lambda: self.nvr_camera_candidates(
            DiscoveryRequest()))]

    @hookimpl
    def nvr_config_changed(self, config: Config, previous: Config) -> None:
        if _settings(config) != _settings(previous):
            self._watch(_settings(config))

    @hookimpl
    def nvr_shutdown(self, config: Config) -> None:
        self._watch(V4l2Settings(watch=False))

    @hookimpl
    def nvr_status_part(self, config: Config) -> dict[str, Any] | None:
        watcher = self.watcher
        if watcher is None:
            return None
        return {"v4l2": {"source": watcher.source,
                         "devices": [_status(p) for p in watcher.present()]}}

    @hookimpl
    def nvr_camera_candidates(self, request: DiscoveryRequest) -> list[CameraCandidate]:
        # A fresh enumeration: the CLI has no watcher, and a running one may be a second old.
        watcher = self.watcher or Watcher()
        return [candidate(p) for p in watcher.scan()]

    def _watch(self, settings: V4l2Settings) -> None:
        """(Re)start the watcher as `settings` say; stop it when they say no."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if not settings.watch:
            return
        try:
            self.watcher = Watcher(settings.source, on_change=self._device_changed,
                                   on_plug=self._device_plugged).start()
        except (OSError, ImportError) as exc:  # no netlink socket (a container), no libudev
            log.warning("v4l2: cannot follow devices (%s events): %s", settings.source, exc)
            return
        log.info("v4l2: following %s events; %d capture device(s) present", settings.source,
                 len(self.watcher.present()))


    def _device_changed(self, action: str, present: Present) -> None:
        if self.appliance is not None and action == "remove":
            device_changed(self.appliance, action, present.node)

    def _device_plugged(self, node: VideoNode) -> None:
        # an add wakes the cameras before the probe (on_plug), not after it
        if self.appliance is not None:
            device_changed(self.appliance, "add", node)


def _status(present: Present) -> dict[str, Any]:
    node, report = present.node, present.report
    return {"id": node.stable_id, "node": node.node, "name": node.name,
            "modes": len(report.modes) if report else 0, "problem": present.problem}


def _settings(config: Config) -> V4l2Settings:
    settings = config.sections.get("v4l2")
    return settings if isinstance(settings, V4l2Settings) else V4l2Settings()


plugin = V4l2Discovery()
