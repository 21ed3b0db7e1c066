"""One LL-HLS packager: a relay viewer of one of a camera's streams (the live view's, or
one rung of its ladder) whose packets become parts in the web loop, and the waits of
blocking requests ("until part N exists")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from nvr_edge import LiveRelay, StreamInfo

from .muxer import Muxer
from .timeline import Timeline
from .window import Window

log = logging.getLogger(__name__)


class Packager:
    """`stream`: the hub stream ("live", "main", a transcoded rung's name); `audio=False`
    for a rung of the multivariant playlist (its transcoded rungs have none, and a player
    switching between renditions with and without audio stalls on the missing track);
    `video=False` for the multivariant playlist's audio rendition, which all rungs share."""

    def __init__(self, hub: LiveRelay, camera: str, stream: str = "live",
                 audio: bool = True, timeline: Timeline | None = None,
                 video: bool = True) -> None:
        self.loop = asyncio.get_running_loop()
        self.hub, self.camera, self.stream, self.audio = hub, camera, stream, audio
        self.video = video
        self.timeline = timeline or Timeline()
        self.window = Window()
        self.muxer: Muxer | None = None
        self.info: StreamInfo | None = None
        self.changed = asyncio.Event()
        self.last_request = self.loop.time()
        self.viewer = hub.subscribe(camera, self._notify, stream)

    @property
    def init(self) -> bytes | None:
        return self.muxer.init if self.muxer is not None else None

    @property
    def closed(self) -> str | None:
        return self.viewer.closed

    def waiting_for(self) -> str:
        """What the packager still needs before it can serve a playlist."""
        if self.closed:
            what = "the live stream" if self.stream == "live" else f"its {self.stream} stream"
            return f"{what} is {self.closed}" if self.closed.startswith("unavailable") \
                else f"{what} ended ({self.closed})"
        if self.info is None:
            return "no stream parameters from the relay yet"
        if self.init is None:
            return "no SPS/PPS from the camera yet (the init segment needs them)"
        return "the first segment is not complete yet (it ends at the next keyframe)"

    def touch(self) -> None:
        self.last_request = self.loop.time()

    def stop(self) -> None:
        self.hub.unsubscribe(self.viewer)
        self._signal()

    def _notify(self) -> None:
        """From the hub thread: the packets are taken in the web loop, where they are read."""
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody reads any more
            self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        info = self.viewer.info
        packets = self.viewer.take()
        if self.viewer.closed:
            self._signal()
            return
        if info is None or info is not self.viewer.info:
            return  # the stream changed while we took: these packets belong to the old one
        if info is not self.info:
            if self.info is not None:
                log.info("hls: %s: new stream parameters: a new init segment", self.camera)
                self.window.clear()  # a new discontinuity sequence: a new init name
            # the main stream beside a sub stream has timestamps of its own (timeline.py)
            family = "main" if self.stream == "main" else "live"
            self.info, self.muxer = info, Muxer(info, self.window, timeline=self.timeline,
                                                family=family, audio=self.audio,
                                                video=self.video)
        muxer = self.muxer
        assert muxer is not None
        made = False
        for packet in packets:
            made = muxer.add(packet) or made
        if made:
            self._signal()

    def _signal(self) -> None:
        """Wakes every waiting request; later waits use a fresh event."""
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """True once `done()` holds; False after `timeout_s` or when the viewer closed."""
        deadline = self.loop.time() + timeout_s
        while not done():
            left = deadline - self.loop.time()
            if left <= 0 or self.closed:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return True
