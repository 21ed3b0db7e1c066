"""From a udev device of subsystem video4linux to what discovery keeps of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BY_ID = "/dev/v4l/by-id/"
BY_PATH = "/dev/v4l/by-path/"


@dataclass(frozen=True)
class VideoNode:
    sys_path: str
    node: str        # /dev/videoN: changes from one plug to the next
    stable_id: str   # the /dev/v4l/by-id name, else ID_SERIAL or ID_PATH with the index
    link: str        # the by-id link, else the by-path link, else `node`
    name: str
    vendor: str
    model: str
    udev_caps: str | None  # ID_V4L_CAPABILITIES (":capture:"), None where v4l_id did not run


def video_node(sys_path: str, node: str | None, properties: Mapping[str, str],
               attribute_name: str = "", index: str = "0") -> VideoNode | None:
    """The node, or None when it has no device file. `attribute_name` and `index` are the
    sysfs attributes `name` and `index` (the Nth node of one device, as by-id names it)."""
    if not node:
        return None
    links = properties.get("DEVLINKS", "").split()
    by_id = sorted(link for link in links if link.startswith(BY_ID))
    # No by-id link (a platform device such as a CSI camera or vivid, or a USB camera
    # without a serial): the by-path link names the same device on every rebind, where
    # /dev/videoN may be another device's by then
    by_path = sorted(link for link in links if link.startswith(BY_PATH))
    if by_id:
        stable = by_id[0].removeprefix(BY_ID)
    elif properties.get("ID_SERIAL"):
        stable = f"{properties['ID_SERIAL']}-video-index{index}"
    elif properties.get("ID_PATH"):
        stable = f"{properties['ID_PATH']}-video-index{index}"
    else:
        stable = node.rsplit("/", 1)[-1]  # no better name: only until the next plug
    return VideoNode(
        sys_path=sys_path, node=node, stable_id=stable, link=(by_id or by_path or [node])[0],
        name=properties.get("ID_V4L_PRODUCT") or attribute_name,
        vendor=(properties.get("ID_VENDOR_FROM_DATABASE") or properties.get("ID_VENDOR", "")),
        model=properties.get("ID_MODEL_FROM_DATABASE") or properties.get("ID_MODEL", ""),
        udev_caps=properties.get("ID_V4L_CAPABILITIES"))


def may_capture(node: VideoNode) -> bool:
    """udev's cheap answer, before opening the node: v4l_id writes ":capture:" for capture
    nodes and leaves it out for metadata nodes; where it did not run, ask the device."""
    return node.udev_caps is None or ":capture:" in node.udev_caps
