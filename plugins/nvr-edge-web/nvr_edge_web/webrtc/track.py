"""A video track fed by one relay viewer: encoded H.264 out, nothing decoded.

aiortc's sender passes an `av.Packet` (instead of a frame) to the H.264 encoder's `pack()`,
which only splits the Annex-B access unit into RTP payloads; its timestamp is the packet's
pts in the packet's time base. We hand it Annex-B with SPS/PPS before each IDR and a
90 kHz pts that never goes back, even when the camera's stream restarts.

A track can move between the relay streams of one camera (the rungs of its ladder:
`switch`): it subscribes to the target and keeps sending the current stream until the
target's first keyframe not behind what was sent (or only just: BEHIND_OK_S), then sends
the target from that keyframe (its SPS/PPS before it, the timestamps one frame on: no grey
frames, no jump).
The rungs are stamped with their source's times, the live stream's, so "not behind" is
a comparison of timestamps: a cached GOP handed to the joining track (the relay's, or the
worker's for a rung's first viewer) is older video and is skipped.

A track can also `prepare` a rung: subscribe to it before a switch is decided (when the
link starts to look bad), so that its encoder is running and the switch waits for one
GOP of it at most, not for a cold start (measured 0.6-5 s to a cold rung's first
keyframe under load). What it sends meanwhile is dropped unread."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from nvr_edge import LivePacket, LiveRelay, LiveViewer, StreamInfo

from .h264 import AnnexBWriter, parse_extradata

CLOCK = 90_000
TIME_BASE = Fraction(1, CLOCK)
FRAME_TICKS = CLOCK // 30      # the step used when a stream restarts or has no timestamps
MAX_JUMP_TICKS = 5 * CLOCK     # a bigger jump is a new stream, not a gap to reproduce
SWITCH_WAIT_S = 10.0           # a target that shows no keyframe this long is given up
# A transcoded rung's frame comes out of its encoder after the source frame it is made of
# has gone out on the source stream: "not behind what was sent" made a step down to a rung
# a race, lost for a GOP or more (measured: 0.6-5 s from the decision to the switch). A
# keyframe this much behind is taken: the viewer sees that much motion again, at most.
BEHIND_OK_S = 0.3


class RelayTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, hub: LiveRelay, camera: str,
                 on_bytes: Callable[[int], None], stream: str = "live") -> None:
        super().__init__()
        self.loop = asyncio.get_running_loop()
        self.arrived = asyncio.Event()
        self.pending: deque[LivePacket] = deque()
        self.on_bytes = on_bytes
        self.info: StreamInfo | None = None
        self.writer = AnnexBWriter(parse_extradata(b""))
        self.last_in: int | None = None   # the previous packet's 90 kHz time, as sent
        self.last_out = -FRAME_TICKS
        self.last_sent_s: float | None = None  # the last packet's time, in its stream
        self.hub, self.camera, self.stream = hub, camera, stream
        self.viewer: LiveViewer = hub.subscribe(camera, self._notify, stream)
        self.target: LiveViewer | None = None  # the stream being switched to
        self.target_stream, self.target_since = "", 0.0
        self.switches = 0
        self.on_switch: Callable[[str], None] | None = None  # (the new stream's name)
        self.prepared: LiveViewer | None = None  # a rung kept flowing for a switch to come
        self.prepared_stream = ""

    def switch(self, stream: str) -> str:
        """Start moving to `stream` (the current one: stay); "" or why it cannot start
        (a rung refused by the relay: the track stays where it is)."""
        self._drop_target()
        if stream == self.stream:
            return ""
        if stream == self.prepared_stream and self.prepared is not None:
            viewer, self.prepared, self.prepared_stream = self.prepared, None, ""
        else:
            viewer = self.hub.subscribe(self.camera, self._notify, stream)
        if viewer.closed:
            self.hub.unsubscribe(viewer)
            return viewer.closed
        self.target, self.target_stream = viewer, stream
        self.target_since = time.monotonic()
        return ""

    def prepare(self, stream: str | None) -> None:
        """Keep `stream` flowing to this track until a switch to it (or until another is
        prepared; None: none). A rung the relay refuses is not prepared (the switch will
        say why)."""
        if stream == (self.prepared_stream or None):
            return
        prepared, self.prepared, self.prepared_stream = self.prepared, None, ""
        if prepared is not None:
            self.hub.unsubscribe(prepared)  # its worker keeps it a while (the linger)
        if stream is None or stream == self.stream \
                or (stream == self.target_stream and self.target is not None):
            return
        viewer = self.hub.subscribe(self.camera, self._notify, stream)
        if viewer.closed:
            self.hub.unsubscribe(viewer)
            return
        self.prepared, self.prepared_stream = viewer, stream

    def _drop_target(self) -> None:
        target, self.target = self.target, None
        if target is not None:
            self.hub.unsubscribe(target)

    def _advance_target(self) -> None:
        """Move to the target at its first fresh keyframe; give it up when it fails."""
        target = self.target
        assert target is not None
        packets = target.take()
        if target.closed or time.monotonic() - self.target_since > SWITCH_WAIT_S:
            self._drop_target()
            return
        start = next((i for i, p in enumerate(packets) if not p.audio and p.keyframe
                      and self._not_behind(p)), None)
        if start is None:
            return
        self.hub.unsubscribe(self.viewer)
        self.viewer, self.stream, self.target = target, self.target_stream, None
        self.pending = deque(packets[start:])  # the old stream's queued rest is dropped
        self.switches += 1
        if self.on_switch is not None:
            self.on_switch(self.stream)

    def _notify(self) -> None:
        """From the hub thread: wake recv() in the web loop."""
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self.loop.call_soon_threadsafe(self.arrived.set)

    async def recv(self) -> av.Packet:
        while True:
            if self.readyState != "live" or self.viewer.closed:
                raise MediaStreamError(self.viewer.closed or "track ended")
            if self.prepared is not None:
                self.prepared.take()  # unread: only its encoder's running matters
            if self.target is not None:
                self._advance_target()
            if not self.pending:
                self.arrived.clear()
                self.pending.extend(self.viewer.take())
                if not self.pending:
                    await self.arrived.wait()
                    continue
            packet = self.pending.popleft()
            if not packet.audio:  # AAC cannot go to WebRTC without a transcode
                return self._to_av(packet)

    def _not_behind(self, packet: LivePacket) -> bool:
        """Whether the target's keyframe is at, after or at most BEHIND_OK_S before the
        last packet sent (a jump of more than MAX_JUMP_TICKS either way: another timeline,
        e.g. a restarted camera)."""
        at, sent = packet.pts_s, self.last_sent_s
        if at is None or sent is None:
            return packet.arrival > self.target_since
        return at >= sent - BEHIND_OK_S or sent - at > MAX_JUMP_TICKS / CLOCK

    def _to_av(self, packet: LivePacket) -> av.Packet:
        info = self.viewer.info
        if info is not None and info is not self.info:  # a new stream: new parameter sets
            self.info, self.last_in = info, None
            self.writer = AnnexBWriter(parse_extradata(info.video_extradata))
        data = self.writer.convert(packet.data)
        self.last_sent_s = packet.pts_s
        out = av.Packet(data)
        out.pts = out.dts = self._timestamp(packet)
        out.time_base = TIME_BASE
        self.on_bytes(len(data))
        return out

    def _timestamp(self, packet: LivePacket) -> int:
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None:
            self.last_out += FRAME_TICKS
            return self.last_out
        num, den = packet.time_base
        now_in = stamp * num * CLOCK // den
        step = FRAME_TICKS if self.last_in is None else now_in - self.last_in
        if not 0 < step <= MAX_JUMP_TICKS:
            step = FRAME_TICKS
        self.last_in = now_in
        self.last_out += step
        return self.last_out

    def stop(self) -> None:
        super().stop()
        self._drop_target()
        self.prepare(None)
        self.hub.unsubscribe(self.viewer)
        self.arrived.set()
