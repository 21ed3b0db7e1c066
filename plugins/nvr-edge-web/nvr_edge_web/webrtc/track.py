"""A video track fed by one relay viewer: encoded H.264 out, nothing decoded.

aiortc's sender passes an `av.Packet` (instead of a frame) to the H.264 encoder's `pack()`,
which only splits the Annex-B access unit into RTP payloads; its timestamp is the packet's
pts in the packet's time base. We hand it Annex-B with SPS/PPS before each IDR and a
90 kHz pts that never goes back, even when the camera's stream restarts."""

from __future__ import annotations

import asyncio
import contextlib
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


class RelayTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, hub: LiveRelay, camera: str,
                 on_bytes: Callable[[int], None]) -> None:
        super().__init__()
        self.loop = asyncio.get_running_loop()
        self.arrived = asyncio.Event()
        self.pending: deque[LivePacket] = deque()
        self.on_bytes = on_bytes
        self.info: StreamInfo | None = None
        self.writer = AnnexBWriter(parse_extradata(b""))
        self.last_in: int | None = None   # the previous packet's 90 kHz time, as sent
        self.last_out = -FRAME_TICKS
        self.hub = hub
        self.viewer: LiveViewer = hub.subscribe(camera, self._notify)

    def _notify(self) -> None:
        """From the hub thread: wake recv() in the web loop."""
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self.loop.call_soon_threadsafe(self.arrived.set)

    async def recv(self) -> av.Packet:
        while True:
            if self.readyState != "live" or self.viewer.closed:
                raise MediaStreamError(self.viewer.closed or "track ended")
            if not self.pending:
                self.arrived.clear()
                self.pending.extend(self.viewer.take())
                if not self.pending:
                    await self.arrived.wait()
                    continue
            packet = self.pending.popleft()
            if not packet.audio:  # AAC cannot go to WebRTC without a transcode
                return self._to_av(packet)

    def _to_av(self, packet: LivePacket) -> av.Packet:
        info = self.viewer.info
        if info is not None and info is not self.info:  # a new stream: new parameter sets
            self.info, self.last_in = info, None
            self.writer = AnnexBWriter(parse_extradata(info.video_extradata))
        data = self.writer.convert(packet.data)
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
        self.hub.unsubscribe(self.viewer)
        self.arrived.set()
