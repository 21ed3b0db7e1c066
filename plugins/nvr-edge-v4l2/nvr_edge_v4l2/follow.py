"""Adopted USB cameras follow their device: the watcher's add or remove wakes the camera's
worker (`retry_camera`; on an add before the watcher probes the node's modes), which
tries the device at once instead of at its next check. No
restart: a worker recording a device that goes finds out itself (its reads fail with
ENODEV) and shows OFFLINE with alert `camera_unplugged`, then waits for the device; woken
by the add, it records again within a second or two."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from nvr_edge import Appliance
from nvr_edge_v4l2.nodes import VideoNode

log = logging.getLogger(__name__)


def cameras_on(appliance: Appliance, node: VideoNode) -> list[str]:
    """Ids of enabled cameras recording this device (by its by-id or by-path link, which
    name it whatever /dev/videoN it has, or by that node)."""
    paths = {node.link, node.node}
    return [c.id for c in appliance.config.cameras
            if c.enabled and c.main[:5].lower() == "v4l2:" and urlsplit(c.main).path in paths]


def device_changed(appliance: Appliance, action: str, node: VideoNode) -> None:
    for camera_id in cameras_on(appliance, node):
        log.info("v4l2: %s %s (%s): camera %s tries it now", node.stable_id,
                 "plugged in" if action == "add" else "unplugged", node.node, camera_id)
        try:
            appliance.retry_camera(camera_id)
        except Exception as exc:  # the monitor thread must outlive one refusal
            log.warning("v4l2: camera %s not woken: %s", camera_id, exc)
