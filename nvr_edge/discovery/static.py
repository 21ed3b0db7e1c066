"""Cameras listed in the config file's [[cameras]] tables."""

from __future__ import annotations

from nvr_edge.config import CameraConfig, Config
from nvr_edge.hookspecs import hookimpl


@hookimpl
def nvr_discover_cameras(config: Config) -> list[CameraConfig]:
    return list(config.cameras)
