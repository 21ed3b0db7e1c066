"""Scenarios run under `umockdev-wrapper` (tests/test_v4l2_udev.py starts them): a fake
video4linux tree, then the plugin's real pyudev code; what it saw is printed as JSON.

The device tree, the uevents and the ioctls are umockdev's: the plugin's own ioctl(2) calls
reach the bed's ioctl thread, where the fakes of v4l2_fakes.py answer them (umockdev's
recorded ioctl scripts know no V4L2 requests, a handler function does)."""

from __future__ import annotations

import contextlib
import io
import json
import queue
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nvr_edge_v4l2.plugin import V4l2Discovery
from nvr_edge_v4l2.settings import V4l2Settings
from nvr_edge_v4l2.watcher import Present, Watcher
from v4l2_fakes import FAKES, FakeDevice
from v4l2_testbed import Testbed, video_device

from nvr_edge import DiscoveryRequest
from nvr_edge.api import ConfigChange
from nvr_edge.cli import build_parser, discover
from nvr_edge.plugins import make_plugin_manager

WAIT_S = 5.0


class Box:
    """A bed whose video nodes answer ioctls through a fake each."""

    def __init__(self) -> None:
        self.bed = Testbed()
        self.fakes: dict[str, FakeDevice] = {}

    def plug(self, usb_port: str, index: int, fake: str, udev_caps: str | None,
             by_id: str | None = None, minor: int = 0) -> str:
        """Add the node (umockdev sends "add"), its ioctls answered from the start."""
        self.fakes[fake] = device = FAKES[fake]()
        self.bed.answer_ioctls(f"/dev/video{minor}", device.answer)
        return self.bed.add(video_device(usb_port, index, fake, udev_caps, by_id, minor))

    def calls(self) -> dict[str, int]:
        return {name: fake.calls for name, fake in self.fakes.items()}


def tree(box: Box) -> None:
    """One webcam (capture node + its metadata node), an H.264 camera seen without udev's
    properties, a codec (M2M) node, and a capture node whose driver answers nonsense."""
    box.plug("1-1", 0, "webcam", ":capture:", "usb-Fake_Webcam_A1-video-index0", minor=0)
    box.plug("1-1", 1, "meta", ":", "usb-Fake_Webcam_A1-video-index1", minor=1)
    box.plug("1-2", 0, "h264", None, minor=2)
    box.plug("1-4", 0, "m2m", ":video_output:capture:", minor=3)
    box.plug("1-5", 0, "liar", ":capture:", "usb-Liar_L1-video-index0", minor=6)


def enumerate_scenario() -> dict[str, object]:
    box = Box()
    try:
        tree(box)
        plugin = V4l2Discovery()  # the real ioctl(2), as on a box
        found = plugin.nvr_camera_candidates(request=DiscoveryRequest(timeout_s=0.1))
        calls = box.calls()
        # the running appliance: a watcher as `[v4l2]` says, shown in the status
        config = SimpleNamespace(sections={"v4l2": V4l2Settings(source="kernel")})
        idle = plugin.nvr_status_part(config=config)
        plugin.nvr_startup(config=config, catalog=None, appliance=None)
        running = plugin.nvr_status_part(config=config)
        plugin.nvr_shutdown(config=config)
        return {"candidates": [c.public() for c in found], "ioctl_calls": calls,
                "status": [idle, running, plugin.nvr_status_part(config=config)]}
    finally:
        box.bed.close()


def hotplug_scenario(source: str) -> dict[str, object]:
    box = Box()
    events: queue.Queue[tuple[str, str]] = queue.Queue()

    def changed(action: str, present: Present) -> None:
        events.put((action, present.node.stable_id))

    watcher = Watcher(source, on_change=changed)
    try:
        box.plug("1-1", 0, "webcam", ":capture:", "usb-Fake_Webcam_A1-video-index0")
        watcher.start()
        seen: dict[str, object] = {"at_start": [p.node.stable_id for p in watcher.present()]}
        udev = ":capture:" if source == "udev" else None
        # umockdev sends "add" as it adds a device; "remove" is sent by hand, as the
        # kernel would before the device goes
        path = box.plug("1-3", 0, "h264", udev, minor=4)
        box.plug("1-3", 1, "meta", ":" if udev else None, minor=5)
        seen["added"] = events.get(timeout=WAIT_S)
        box.bed.uevent(path, "add")  # a repeated event changes nothing
        seen["after_add"] = [p.node.stable_id for p in watcher.present()]
        seen["modes"] = [len(p.report.modes) if p.report else p.problem
                         for p in watcher.present()]
        box.bed.uevent(path, "remove")
        box.bed.remove(path)
        seen["removed"] = events.get(timeout=WAIT_S)
        seen["after_remove"] = [p.node.stable_id for p in watcher.present()]
        seen["other_events"] = list(events.queue)
        return seen
    finally:
        watcher.stop()
        box.bed.close()


class FakeAppliance:
    """What the plugin asks of the appliance: its config, edit_config, retry_camera."""

    def __init__(self) -> None:
        self.cameras: list[SimpleNamespace] = []
        self.retries: queue.Queue[str] = queue.Queue()
        self.patches: list[dict[str, object]] = []

    @property
    def config(self) -> SimpleNamespace:
        return SimpleNamespace(cameras=self.cameras, sections={"v4l2": V4l2Settings()},
                               document={"cameras": [vars(c) for c in self.cameras]})

    def edit_config(self, edit: Any) -> ConfigChange:
        document = edit({"cameras": [dict(vars(c)) for c in self.cameras]})
        self.patches.append(document)
        self.cameras = [SimpleNamespace(**{"enabled": True, **c}) for c in document["cameras"]]
        return ConfigChange(added=[self.cameras[-1].id])

    def retry_camera(self, camera_id: str) -> None:
        self.retries.put(camera_id)


def adopted_scenario() -> dict[str, object]:
    """A webcam adopted, unplugged and plugged back: its camera woken at each event."""
    box, appliance = Box(), FakeAppliance()
    plugin = V4l2Discovery()
    by_id = "usb-Fake_Webcam_A1-video-index0"
    try:
        path = box.plug("1-1", 0, "webcam", ":capture:", by_id)
        plugin.nvr_startup(config=appliance.config, catalog=None, appliance=appliance)
        adopt = next(c for c in plugin.nvr_commands(appliance=appliance)
                     if c.name == "adopt_usb_camera")
        seen: dict[str, object] = {"adopted": adopt.run({"id": f"v4l2:{by_id}"})}
        try:
            adopt.run({"id": f"v4l2:{by_id}", "camera": "again"})
        except Exception as exc:
            seen["adopted_twice"] = str(exc)
        box.bed.uevent(path, "remove")
        box.bed.remove(path)
        seen["unplugged"] = appliance.retries.get(timeout=WAIT_S)
        # back on another port: another node, the same by-id link
        box.plug("1-2", 0, "webcam", ":capture:", by_id, minor=2)
        seen["plugged"] = appliance.retries.get(timeout=WAIT_S)
        box.plug("1-3", 0, "h264", ":capture:", minor=4)  # not adopted: nobody woken
        seen["other_retries"] = [appliance.retries.get(timeout=1.0)] \
            if not appliance.retries.empty() else []
        return seen
    finally:
        plugin.nvr_shutdown(config=appliance.config)
        box.bed.close()


def discover_scenario(password_file: str) -> dict[str, object]:
    """`nvr-edge discover` with this plugin only (ONVIF's would probe the real network)."""
    box = Box()
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(V4l2Discovery(), name="v4l2")
    outputs = []
    try:
        tree(box)
        for args in (["--json", "--user", "admin", "--password-file", password_file], []):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = discover.run(build_parser(pm).parse_args(
                    ["discover", "--timeout", "0.1", *args]), pm)
            outputs.append((code, out.getvalue()))
    finally:
        box.bed.close()
    (json_code, json_out), (text_code, text_out) = outputs
    return {"codes": [json_code, text_code], "json": json.loads(json_out), "text": text_out}


if __name__ == "__main__":
    name = sys.argv[1]
    if name == "enumerate":
        result = enumerate_scenario()
    elif name == "adopted":
        result = adopted_scenario()
    elif name == "discover":
        result = discover_scenario(sys.argv[2])
    else:
        result = hotplug_scenario(name)
    print(json.dumps(result))
