"""The main process's end of the live relay: one feed per camera, fanned out to viewers.

A thread reads every worker's live socket. Each feed keeps the packets since the last
video keyframe, so a new viewer starts at once, on a keyframe. Each viewer has its own
bounded queue: a viewer that falls behind skips to the next keyframe, one that keeps
falling behind is disconnected. Neither slows the camera, the recorder or other viewers.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from nvr_edge.live.wire import (
    INFO,
    PACKET,
    FrameReader,
    LivePacket,
    StreamInfo,
    WireError,
    control_message,
    decode_packet,
)

log = logging.getLogger(__name__)
MAX_GOP_PACKETS = 1500       # a 30 fps camera with a 20 s GOP plus audio; longer: no cache
READ_BYTES = 256 * 1024
# A camera's feeds: LIVE is what the live view shows (the sub stream, else the main one);
# MAIN exists beside it only when the camera has a sub stream (RTSP restream of the main).
LIVE, MAIN = "live", "main"
FeedKey = tuple[str, str]  # (camera, stream)


class Gate(Protocol):
    """Whether a stream may start at its first viewer (transcoded rungs cost an encoder:
    live/rung_gate.py), and that it stopped."""

    def admit(self, camera: str, stream: str) -> str: ...  # "" or why not

    def release(self, camera: str, stream: str) -> None: ...

    def rungs(self, camera: str) -> list[dict[str, Any]]: ...


@dataclass
class LagPolicy:
    """When a viewer is too far behind, and how often that may happen."""

    max_lag_s: float = 1.0       # queued media older than this: skip to the next keyframe
    max_skips: int = 5           # skips within `skip_window_s` before the viewer is dropped
    skip_window_s: float = 60.0


class Viewer:
    """One subscriber's queue. `notify` is called (from the hub thread) when packets
    arrive; the consumer then calls `take()` from its own thread or event loop."""

    def __init__(self, camera: str, notify: Callable[[], None], policy: LagPolicy,
                 stream: str = LIVE) -> None:
        self.camera, self.notify, self.policy, self.stream = camera, notify, policy, stream
        self.queue: deque[LivePacket] = deque()
        self.lock = threading.Lock()
        self.info: StreamInfo | None = None
        self.waiting_keyframe = True
        self.skip_times: deque[float] = deque()
        self.closed: str | None = None   # the reason, once closed
        self.packets_out = self.bytes_out = self.skipped = 0

    def push(self, packet: LivePacket, now: float) -> None:
        with self.lock:
            if self.closed:
                return
            if self.waiting_keyframe:
                if packet.audio or not packet.keyframe:
                    return
                self.waiting_keyframe = False
            if self.queue and now - self.queue[0].arrival > self.policy.max_lag_s:
                self._skip(now)
                if self.closed or (packet.audio or not packet.keyframe):
                    return
                self.waiting_keyframe = False
            self.queue.append(packet)
        self.notify()

    def _skip(self, now: float) -> None:
        self.skipped += len(self.queue)
        self.queue.clear()
        self.waiting_keyframe = True
        self.skip_times.append(now)
        while self.skip_times and now - self.skip_times[0] > self.policy.skip_window_s:
            self.skip_times.popleft()
        if len(self.skip_times) > self.policy.max_skips:
            self.closed = "too slow: fell behind the camera repeatedly"

    def take(self) -> list[LivePacket]:
        with self.lock:
            packets = list(self.queue)
            self.queue.clear()
        self.packets_out += len(packets)
        self.bytes_out += sum(len(p.data) for p in packets)
        return packets

    def set_info(self, info: StreamInfo) -> None:
        with self.lock:
            self.info = info
            self.queue.clear()
            self.waiting_keyframe = True
        self.notify()

    def close(self, reason: str = "viewer left") -> None:
        with self.lock:
            if not self.closed:
                self.closed = reason
        self.notify()


@dataclass
class LiveFeed:
    camera: str
    stream: str = LIVE
    sock: socket.socket | None = None
    reader: FrameReader = field(default_factory=FrameReader)
    info: StreamInfo | None = None
    gop: list[LivePacket] = field(default_factory=list)
    viewers: list[Viewer] = field(default_factory=list)
    packets_in: int = 0
    bytes_in: int = 0
    last_packet: float = 0.0
    b_frames_seen: bool = False
    last_video_pts: int | None = None

    def on_info(self, info: StreamInfo) -> None:
        # a resumed feed starts again at the worker's kept GOP, before the last packet seen:
        # no B-frame evidence
        self.last_video_pts = None
        if info == self.info:
            return  # the same stream resumed: viewers wait for nothing
        self.info, self.gop, self.last_video_pts = info, [], None
        for viewer in self.viewers:
            viewer.set_info(info)

    def on_packet(self, packet: LivePacket) -> None:
        self.packets_in += 1
        self.bytes_in += len(packet.data)
        self.last_packet = packet.arrival
        if not packet.audio:
            if packet.pts is not None and self.last_video_pts is not None \
                    and packet.pts < self.last_video_pts:
                self.b_frames_seen = True  # presentation order differs from decode order
            self.last_video_pts = packet.pts
        if not packet.audio and packet.keyframe:
            self.gop = [packet]
        elif self.gop and len(self.gop) < MAX_GOP_PACKETS:
            self.gop.append(packet)
        else:
            self.gop = []
        for viewer in list(self.viewers):
            viewer.push(packet, packet.arrival)
            if viewer.closed:
                self.viewers.remove(viewer)


class LiveHub:
    """All cameras' feeds; `subscribe` from any thread."""

    def __init__(self, policy: LagPolicy | None = None) -> None:
        self.policy = policy or LagPolicy()
        self.feeds: dict[FeedKey, LiveFeed] = {}
        self.lock = threading.Lock()
        self.selector = selectors.DefaultSelector()
        self.wakeup_r, self.wakeup_w = socket.socketpair()
        self.wakeup_r.setblocking(False)
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, None)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
        self.gate: Gate | None = None

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> LiveHub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        self._wake()
        if self.thread.ident is not None:  # it was started
            self.thread.join(timeout=5)
        with self.lock:
            for feed in self.feeds.values():
                for viewer in feed.viewers:
                    viewer.close("the appliance is stopping")
                self._unregister(feed)

    def attach(self, camera: str, sock: socket.socket, stream: str = LIVE) -> None:
        """A (re)started worker's live socket for `stream`; existing viewers stay and wait
        for its first keyframe."""
        sock.setblocking(False)
        with self.lock:
            feed = self.feeds.setdefault((camera, stream), LiveFeed(camera, stream))
            self._unregister(feed)
            feed.sock, feed.reader = sock, FrameReader()
            self.selector.register(sock, selectors.EVENT_READ, feed)
            wanted = bool(feed.viewers)
        self._want(feed, wanted)
        self._wake()

    def detach(self, camera: str) -> None:
        with self.lock:
            for feed in self._feeds_of(camera):
                self._unregister(feed)
                feed.info, feed.gop = None, []

    def forget(self, camera: str, stream: str | None = None) -> None:
        """The camera (or one of its streams) left the configuration: its viewers are
        told and dropped."""
        with self.lock:
            gone = self._feeds_of(camera, stream)
            for feed in gone:
                del self.feeds[(feed.camera, feed.stream)]
                self._unregister(feed)
                for viewer in feed.viewers:
                    viewer.close("camera removed" if stream is None else "stream removed")
        for feed in gone:  # (not under the lock, as at subscribe)
            if feed.viewers and self.gate is not None:
                self.gate.release(feed.camera, feed.stream)

    def _feeds_of(self, camera: str, stream: str | None = None) -> list[LiveFeed]:
        return [f for (cam, name), f in self.feeds.items()
                if cam == camera and stream in (None, name)]

    # -- viewers -------------------------------------------------------------------------

    def subscribe(self, camera: str, notify: Callable[[], None], stream: str = LIVE) -> Viewer:
        """A new viewer of `camera`'s `stream`; it gets the stream info and, while the
        stream flows, the current GOP at once (else it starts at the next keyframe)."""
        viewer = Viewer(camera, notify, self.policy, stream)
        if self.gate is not None and not self._watched(camera, stream):
            refused = self.gate.admit(camera, stream)  # (not under the lock: it asks info)
            if refused:
                viewer.closed = f"unavailable: {refused}"
                viewer.notify()
                return viewer
        with self.lock:
            feed = self.feeds.setdefault((camera, stream), LiveFeed(camera, stream))
            first = not feed.viewers
            feed.viewers.append(viewer)
            if feed.info is not None:
                viewer.info = feed.info
                now = time.monotonic()
                # A GOP is only a head start while the stream flows to other viewers; a
                # first viewer gets the worker's current GOP when the feed resumes (the
                # hub's last one may be old video, shown as live).
                fresh = not first and now - feed.last_packet <= self.policy.max_lag_s
                for packet in feed.gop if fresh else ():
                    viewer.push(packet, min(now, packet.arrival + self.policy.max_lag_s / 2))
        if first:
            self._want(feed, True)
        viewer.notify()
        return viewer

    def _watched(self, camera: str, stream: str) -> bool:
        with self.lock:
            feed = self.feeds.get((camera, stream))
            return feed is not None and bool(feed.viewers)

    def unsubscribe(self, viewer: Viewer) -> None:
        viewer.close()
        with self.lock:
            feed = self.feeds.get((viewer.camera, viewer.stream))
            if feed is None or viewer not in feed.viewers:
                return
            feed.viewers.remove(viewer)
            last = not feed.viewers
        if last:
            self._want(feed, False)
            if self.gate is not None:
                self.gate.release(viewer.camera, viewer.stream)

    def info(self, camera: str, stream: str = LIVE) -> StreamInfo | None:
        """The stream's codecs and size, once its worker has sent them."""
        with self.lock:
            feed = self.feeds.get((camera, stream))
            return feed.info if feed is not None else None

    def rungs(self, camera: str) -> list[dict[str, Any]]:
        """The camera's ladder: each rung's name, size, kbit/s, available and why not."""
        return self.gate.rungs(camera) if self.gate is not None else []

    def stats(self) -> dict[str, dict[str, object]]:
        """The live view's feeds (LIVE), per camera."""
        with self.lock:
            return {cam: {"viewers": len(f.viewers), "packets_in": f.packets_in,
                          "bytes_in": f.bytes_in, "has_stream": f.info is not None,
                          "b_frames": f.b_frames_seen or bool(f.info and f.info.has_b_frames),
                          "video_codec": f.info.video_codec if f.info else None,
                          "bytes_out": sum(v.bytes_out for v in f.viewers)}
                    for (cam, stream), f in self.feeds.items() if stream == LIVE}

    # -- the hub thread ------------------------------------------------------------------

    def _run(self) -> None:
        while not self.stopping:
            for key, _ in self.selector.select(timeout=1.0):
                if key.data is None:
                    self._drain_wakeups()
                    continue
                self._read(key.data)

    def _read(self, feed: LiveFeed) -> None:
        sock = feed.sock
        if sock is None:
            return
        for _ in range(16):  # bounded: other cameras get their turn
            try:
                data = sock.recv(READ_BYTES)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            try:
                messages = feed.reader.feed(data) if data else None
            except WireError as exc:
                log.error("%s: live relay: %s; dropping the connection", feed.camera, exc)
                messages = None
            if messages is None:  # the worker is gone (or broken): its successor attaches
                with self.lock:
                    self._unregister(feed)
                return
            now = time.monotonic()
            with self.lock:
                for kind, body in messages:
                    if kind == INFO:
                        feed.on_info(StreamInfo.from_json(body))
                    elif kind == PACKET and feed.info is not None:
                        feed.on_packet(decode_packet(body, now))

    def _want(self, feed: LiveFeed, want: bool) -> None:
        sock = feed.sock
        if sock is None:
            return
        with contextlib.suppress(OSError):  # a dead worker: its successor is told at attach
            sock.send(control_message(want))

    def _unregister(self, feed: LiveFeed) -> None:
        if feed.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(feed.sock)
            feed.sock.close()
            feed.sock = None

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self.wakeup_w.send(b"x")

    def _drain_wakeups(self) -> None:
        try:
            while self.wakeup_r.recv(1024):
                pass
        except BlockingIOError:
            pass
