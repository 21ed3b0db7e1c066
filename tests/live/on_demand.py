"""Cameras with a main and a sub stream, and the simulated camera server's log of which
mount is pulled: shared by the core's on-demand tests and the web plugin's."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from nvr_edge_testing.simcam import Clip, SimCameraServer, ensure_clip

from nvr_edge.live.hub import LIVE, LiveHub, Viewer
from nvr_edge.live.wire import LivePacket

from ..conftest import CAMERA_PASSWORD
from ..helpers import wait_for, write_config

SUB_SIZE = (320, 180)   # not the main stream's 640x360: the picture says which stream it is
GOP_S = 1.0             # the clips' keyframe interval


def make_sub_clip(clip_cache: Path) -> Clip:
    """The sub stream's clip: 320x180, so the picture says which stream a viewer got."""
    return ensure_clip(clip_cache, width=SUB_SIZE[0], height=SUB_SIZE[1], bitrate_kbps=300,
                       seconds=4)


class MountLog:
    """One mount's media sessions, as the simulated camera server logs them."""

    def __init__(self, log: Path, mount: str) -> None:
        self.log, self.mount = log, mount

    def events(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return re.findall(rf"simcam: {re.escape(self.mount)}: media (started|stopped)", text)

    def count(self, event: str) -> int:
        return self.events().count(event)

    def wait(self, event: str, count: int, timeout: float) -> float:
        """The monotonic time at which the mount's `count`-th `event` was seen (polled every
        0.1 s, so up to that much late)."""
        wait_for(lambda: self.count(event) >= count, timeout,
                 f"{self.mount}: media {event} (#{count}); seen {self.events()}", 0.1)
        return time.monotonic()


def sim_cameras(clip_cache: Path, count: int, main: Clip, sub: Clip, log: Path
                ) -> SimCameraServer:
    """`count` cameras with a password, a main and a sub clip; their server logs to `log`
    (what MountLog reads)."""
    return SimCameraServer(clip_cache, cameras=count, user="admin", password=CAMERA_PASSWORD,
                           main=main, sub=sub, log_path=log)


def cameras_toml(cameras: SimCameraServer, live: dict[int, str]) -> str:
    """[[cameras]] tables with a main and a sub stream each, and their `live` mode."""
    return "".join(f'[[cameras]]\nid = "cam{n}"\nmain = "{cameras.url(n, "main")}"\n'
                   f'sub = "{cameras.url(n, "sub")}"\nlive = "{mode}"\n'
                   for n, mode in live.items())


def write_live_config(path: Path, cameras: SimCameraServer, live: dict[int, str],
                      extra: str = "") -> Path:
    return write_config(path, {}, segment_seconds=10,
                        extra=extra + cameras_toml(cameras, live))


def watch_feed(hub: LiveHub, camera: str, seconds: float, timeout: float = 10.0,
               leave_on_keyframe: bool = False, stream: str = LIVE,
               ) -> tuple[Viewer, list[LivePacket], float | None]:
    """Subscribe, take packets until `seconds` after the first one (or `timeout` without
    any), unsubscribe. Returns the viewer, its packets and the time to the first one.
    `leave_on_keyframe`: after `seconds`, leave right after a video keyframe arrived (so
    the relay's cached GOP is short when the last viewer leaves)."""
    woken = threading.Event()
    started = time.monotonic()
    viewer = hub.subscribe(camera, woken.set, stream)
    packets: list[LivePacket] = []
    first: float | None = None
    try:
        while True:
            now = time.monotonic()
            if first is None and now - started > timeout:
                break
            if first and now - first > seconds:
                video = [p for p in packets if not p.audio]
                if not leave_on_keyframe or (video and video[-1].keyframe) \
                        or now - first > seconds + 5:
                    break
            woken.wait(0.01 if leave_on_keyframe else 0.1)
            woken.clear()
            taken = viewer.take()
            if taken and first is None:
                first = time.monotonic()
            packets += taken
    finally:
        hub.unsubscribe(viewer)
    return viewer, packets, None if first is None else first - started
