"""The running pushes by (camera, url): configured ones and those operators start alike."""

from __future__ import annotations

import logging
import threading
from typing import Any

from nvr_edge import Appliance, Config

from .pusher import Pusher
from .settings import PushTarget, RtmpSettings

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

    def describe(self, cameras: frozenset[str] | None = None) -> list[dict[str, Any]]:
        """The running pushes (of `cameras` only, when given)."""
        with self.lock:
            return [p.describe() for t, p in self.running.items()
                    if cameras is None or t.camera in cameras]

    def stop_camera(self, camera: str, url: str | None) -> list[PushTarget]:
        """Stop the camera's pushes (to `url` only, when given); the targets stopped."""
        with self.lock:
            targets = [t for t in self.running
                       if t.camera == camera and (url is None or t.url == url)]
        return [t for t in targets if self.stop(t)]
