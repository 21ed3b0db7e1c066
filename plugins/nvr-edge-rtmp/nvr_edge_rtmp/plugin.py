"""The plugin's hooks: configured pushes start with the appliance and follow config
changes; operators start and stop extra pushes at run time (`nvr_push_control`)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from nvr_edge import Appliance, Catalog, Config, ControlError, hookimpl

from .pusher import Pusher
from .settings import PushTarget, RtmpSettings, check_url, read_rtmp

log = logging.getLogger(__name__)


class Pushes:
    """Running pushes by (camera, url); configured ones and run-time ones alike."""

    def __init__(self, appliance: Appliance) -> None:
        self.appliance = appliance
        self.lock = threading.Lock()
        self.running: dict[PushTarget, Pusher] = {}
        self.settings = RtmpSettings()

    def apply(self, config: Config) -> None:
        """Start the configured pushes, stop configured ones that are gone."""
        settings: RtmpSettings = config.sections.get("rtmp") or RtmpSettings()
        old, self.settings = set(self.settings.targets), settings
        cameras = {c.id for c in config.cameras}
        for index, target in enumerate(settings.targets):
            if target.camera not in cameras:
                log.error("rtmp.push[%d]: unknown camera %r; not pushed", index, target.camera)
        for target in old - set(settings.targets):
            self.stop(target)
        for target in settings.targets:
            if target.camera in cameras:
                self.start(target)

    def start(self, target: PushTarget) -> Pusher:
        with self.lock:
            pusher = self.running.get(target)
            if pusher is None or not pusher.is_alive():
                pusher = self.running[target] = Pusher(
                    target, self.appliance.live, self.settings.retry_min_s,
                    self.settings.retry_max_s)
                pusher.start()
            return pusher

    def stop(self, target: PushTarget) -> bool:
        with self.lock:
            pusher = self.running.pop(target, None)
        if pusher is not None:
            pusher.stop()
        return pusher is not None

    def stop_all(self) -> None:
        for target in list(self.running):
            self.stop(target)

    def describe(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p.describe() for p in self.running.values()]


_pushes: Pushes | None = None


@hookimpl
def nvr_config_sections() -> dict[str, Any]:
    return {"rtmp": read_rtmp}


@hookimpl
def nvr_startup(config: Config, catalog: Catalog, appliance: Appliance) -> None:
    global _pushes
    _pushes = Pushes(appliance)
    _pushes.apply(config)


@hookimpl
def nvr_config_changed(config: Config, previous: Config) -> None:
    if _pushes is not None:
        _pushes.apply(config)


@hookimpl
def nvr_shutdown(config: Config) -> None:
    global _pushes
    if _pushes is not None:
        _pushes.stop_all()
        _pushes = None


@hookimpl
def nvr_push_control(action: str, camera_id: str | None,
                     url: str | None) -> list[dict[str, Any]] | None:
    if _pushes is None:
        return None
    if action == "list":
        return _pushes.describe()
    if not camera_id or not url:
        raise ControlError(f"{action} needs a camera and an rtmp:// URL")
    problem = check_url(url)
    if problem:
        raise ControlError(f"url {problem}")
    if camera_id not in {c.id for c in _pushes.appliance.config.cameras}:
        raise ControlError(f"unknown camera {camera_id!r}")
    target = PushTarget(camera_id, url)
    if action == "start":
        _pushes.start(target)
    elif action == "stop":
        if not _pushes.stop(target):
            raise ControlError(f"no push of {camera_id} to {target.display}")
    else:
        raise ControlError(f"unknown push action {action!r} (start, stop, list)")
    return _pushes.describe()
