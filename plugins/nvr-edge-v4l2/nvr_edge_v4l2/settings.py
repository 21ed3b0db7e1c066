"""The `[v4l2]` config section, declared with `config_key` (documented in docs/CONFIG.md)."""

from __future__ import annotations

from dataclasses import dataclass

from nvr_edge import ConfigTable, config_key, read_section
from nvr_edge_v4l2.watcher import SOURCES


@dataclass(frozen=True)
class V4l2Settings:
    watch: bool = config_key(
        True, doc="follow USB cameras plugged in and out while the appliance runs")
    source: str = config_key(
        "udev", choices=SOURCES,
        doc="where add/remove events come from: udev, or kernel on boxes without udevd")


def read_v4l2(table: ConfigTable) -> V4l2Settings:
    return read_section(V4l2Settings, table)
