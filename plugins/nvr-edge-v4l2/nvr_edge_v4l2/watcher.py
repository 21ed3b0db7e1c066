"""The video4linux devices present now: enumerated at start, then followed through udev
add/remove events, each capture node probed once when it appears."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pyudev

from nvr_edge_v4l2.nodes import VideoNode, may_capture, video_node
from nvr_edge_v4l2.probe import DeviceReport, Ioctl, probe, system_ioctl
from nvr_edge_v4l2.structs import V4l2Error

log = logging.getLogger(__name__)

SOURCES = ("udev", "kernel")  # kernel: boxes without udevd (no by-id links, no ID_* names)


@dataclass(frozen=True)
class Present:
    """A capture node that is plugged in, with what it told (or why it told nothing)."""

    node: VideoNode
    report: DeviceReport | None
    problem: str = ""


def capture_node(device: pyudev.Device) -> VideoNode | None:
    """The node, unless udev already says it captures nothing (metadata nodes); unopened."""
    attributes = device.attributes
    node = video_node(device.sys_path, device.device_node, dict(device.properties),
                      _attribute(attributes, "name"), _attribute(attributes, "index") or "0")
    return node if node is not None and may_capture(node) else None


def describe_device(device: pyudev.Device, ioctl: Ioctl) -> Present | None:
    """A Present for a capture node; None for metadata, codec (M2M) and output nodes."""
    node = capture_node(device)
    if node is None:
        return None
    try:
        report = probe(node.node, ioctl)
    except V4l2Error as exc:
        log.info("v4l2: %s (%s): %s", node.node, node.stable_id, exc)
        return Present(node, None, str(exc))
    if not report.capability.is_capture:
        return None
    return Present(node, report, report.problem)


def _same(known: VideoNode, now: VideoNode) -> bool:
    """The same device file under the same name: a repeated or "change"-like add."""
    return (known.node, known.stable_id) == (now.node, now.stable_id)


def _attribute(attributes: pyudev.Attributes, name: str) -> str:
    try:
        return str(attributes.asstring(name)).strip()[:128]
    except (KeyError, UnicodeDecodeError, OSError):
        return ""


class Watcher:
    """`on_change(action, present)` runs on the monitor's thread after each add/remove;
    `on_plug(node)` on an add before the node is probed (hundreds of ioctls, seconds on a
    slow box): a camera recording that node need not wait for the probe."""

    def __init__(self, source: str = "udev", ioctl: Ioctl = system_ioctl,
                 on_change: Callable[[str, Present], None] | None = None,
                 on_plug: Callable[[VideoNode], None] | None = None) -> None:
        if source not in SOURCES:
            raise ValueError(f"event source {source!r} is not one of {SOURCES}")
        self.source = source
        self.ioctl = ioctl
        self.on_change = on_change
        self.on_plug = on_plug
        self.context = pyudev.Context()
        self._present: dict[str, Present] = {}
        self._lock = threading.Lock()
        self._observer: pyudev.MonitorObserver | None = None

    def present(self) -> list[Present]:
        with self._lock:
            return sorted(self._present.values(), key=lambda p: p.node.stable_id)

    def start(self) -> Watcher:
        """Listen first, then enumerate: a device plugged in between is not missed."""
        monitor = pyudev.Monitor.from_netlink(self.context, source=self.source)
        monitor.filter_by("video4linux")
        monitor.start()  # here, not on the observer's thread: scan() below must come after
        self._observer = pyudev.MonitorObserver(monitor, callback=self._event,
                                                name="v4l2-monitor")
        self._observer.start()
        self.scan()
        return self

    def scan(self) -> list[Present]:
        """Enumerate every video4linux device now (at start, and for `discover`)."""
        found = {}
        for device in self.context.list_devices(subsystem="video4linux"):
            present = describe_device(device, self.ioctl)
            if present is not None:
                found[device.sys_path] = present
        with self._lock:
            self._present = dict(found)
        return sorted(found.values(), key=lambda p: p.node.stable_id)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()  # and joined: no thread outlives the appliance
            self._observer = None

    def _event(self, device: pyudev.Device) -> None:
        try:
            action = device.action
            if action == "remove":
                with self._lock:
                    gone = self._present.pop(device.sys_path, None)
                if gone is not None:
                    log.info("v4l2: %s (%s) removed", gone.node.node, gone.node.stable_id)
                    self._tell("remove", gone)
            elif action == "add":
                self._plugged(device)
                present = describe_device(device, self.ioctl)
                if present is not None:
                    with self._lock:
                        known = self._present.get(device.sys_path)
                        if known is not None and _same(known.node, present.node):
                            return  # the start's enumeration, or a repeated event, had it
                        self._present[device.sys_path] = present
                    log.info("v4l2: %s (%s) added", present.node.node, present.node.stable_id)
                    self._tell("add", present)
        except Exception:  # the monitor thread must outlive one odd device
            log.exception("v4l2: udev event for %s", device.sys_path)

    def _plugged(self, device: pyudev.Device) -> None:
        node = None if self.on_plug is None else capture_node(device)
        if node is None:
            return
        with self._lock:
            known = self._present.get(device.sys_path)
        if known is None or not _same(known.node, node):
            self.on_plug(node)

    def _tell(self, action: str, present: Present) -> None:
        if self.on_change is not None:
            self.on_change(action, present)
