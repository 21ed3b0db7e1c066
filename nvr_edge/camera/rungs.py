"""A camera's transcoded rungs (live/ladder.py), made in its worker while the hub wants them.

The live view's source (the sub stream, else the main one) is decoded once and each wanted
rung encoded from it: scaled, at the rung's bit rate and `RUNG_FPS`, a keyframe every
`RUNG_GOP_S` so a viewer's switch comes fast, through an `EncoderSession` over the probed
encoders. Each rung has its own socket to the hub (a `LiveForwarder`).

A thread of its own: the recorder and the sub relay only hand packets over (a bounded
queue; when it is full the rest of the GOP is dropped and decoding resumes at the next
keyframe). Nothing is decoded while no rung is wanted. A rung's encoder opens with its
first viewer and closes `LINGER_S` after its last.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from nvr_edge.encode.annexb import parameter_sets
from nvr_edge.encode.offer import EncoderError, EncodeTarget
from nvr_edge.encode.session import EncoderSession
from nvr_edge.encode.transcode import TimedPacket, Transcoder
from nvr_edge.live.forwarder import LiveForwarder
from nvr_edge.live.ladder import RUNG_FPS, TRANSCODED
from nvr_edge.live.wire import StreamInfo

log = logging.getLogger(__name__)
RUNG_GOP_S = 1.0
LINGER_S = 10.0          # keep a rung's encoder this long after its last viewer
QUEUE_PACKETS = 120      # ~4 s of a 30 fps source: the thread is stuck, not slow
CONTROL_POLL_S = 0.2     # while a rung is wanted: how often the hub's wishes are read
IDLE_WAKE_S = 2.0        # while none is: the thread sleeps on the hub's sockets, and
                         # wakes this often only to see whether the worker stops
SessionFor = Callable[[EncodeTarget], EncoderSession]


@dataclass(frozen=True)
class _Source:
    """A source packet, copied (the recorder takes a main-stream packet's data)."""

    info: StreamInfo  # the session it belongs to: a new one restarts the decoder
    keyframe: bool
    pts: int | None
    dts: int | None
    time_base: Fraction
    data: bytes


class RungOutput:
    """One rung: its forwarder to the hub, and its encoder while wanted."""

    def __init__(self, name: str, width: int, height: int, kbps: int,
                 forwarder: LiveForwarder) -> None:
        self.name, self.width, self.height, self.kbps = name, width, height, kbps
        self.forwarder = forwarder
        self.transcoder: Transcoder | None = None
        self.opened = 0             # the session's encoders opened when the info was sent
        self.unwanted_since: float | None = None
        self.was_viewed = False
        self.frames = 0             # encoded frames, over the worker's life
        self.failed = ""            # why it cannot encode (until its next first viewer)

    @property
    def target(self) -> EncodeTarget:
        return EncodeTarget(self.width, self.height, fps=RUNG_FPS, bitrate_kbps=self.kbps,
                            gop_s=RUNG_GOP_S)

    @property
    def active(self) -> bool:
        return self.forwarder.viewed or self.transcoder is not None

    def close(self) -> None:
        transcoder, self.transcoder = self.transcoder, None
        if transcoder is not None:
            try:
                transcoder.close()
            except EncoderError as exc:
                log.debug("rung %s: closing its encoder: %s", self.name, exc)

    def status(self) -> dict[str, Any]:
        session = self.transcoder.session if self.transcoder is not None else None
        return {"running": session is not None, "encoder": session and session.active,
                "frames": self.frames, "viewed": self.forwarder.viewed,
                "failed": self.failed}


class RungTap(threading.Thread):
    """The live source's tap (`LiveForwarder.tap`) and the thread that encodes the rungs."""

    def __init__(self, camera: str, forwarders: Mapping[str, LiveForwarder],
                 session_for: SessionFor, stop: threading.Event) -> None:
        super().__init__(name="live-rungs", daemon=True)
        self.camera, self.session_for, self.stop_event = camera, session_for, stop
        sizes = {name: (w, h, kbps) for name, w, h, kbps in TRANSCODED}
        self.outputs = [RungOutput(name, *sizes[name], forwarder)
                        for name, forwarder in forwarders.items()]
        self.queue: queue.Queue[_Source] = queue.Queue(QUEUE_PACKETS)
        self.dropping = True        # (the feeding thread's) skip until the next keyframe
        self.source: StreamInfo | None = None
        self.decoder: Any = None
        self.need_keyframe = True
        self.next_s: float | None = None  # the next source time a frame is taken at
        self.dropped = 0

    # -- the feeding thread (recorder or sub relay) --------------------------------------

    @property
    def wanted(self) -> bool:
        """Whether the source must flow (a rung is watched, or lingers)."""
        return any(o.active for o in self.outputs)

    def packet(self, info: StreamInfo, keyframe: bool, packet: Any, data: bytes) -> None:
        if not self.wanted or (self.dropping and not keyframe):
            self.dropping = True
            return
        try:
            self.queue.put_nowait(_Source(info, keyframe, packet.pts, packet.dts,
                                          Fraction(packet.time_base), data))
            self.dropping = False
        except queue.Full:
            self.dropped += 1
            self.dropping = True

    # -- the rung thread -----------------------------------------------------------------

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                item: _Source | None = None
                if self.wanted or not self.queue.empty():
                    with contextlib.suppress(queue.Empty):
                        item = self.queue.get(timeout=CONTROL_POLL_S)
                else:
                    self._sleep_until_the_hub_speaks()
                self._control(time.monotonic())
                if item is not None:
                    self._handle(item)
        finally:
            for output in self.outputs:
                output.close()

    def status(self) -> dict[str, dict[str, Any]]:
        return {o.name: o.status() for o in self.outputs}

    def _sleep_until_the_hub_speaks(self) -> None:
        """No rung watched: nothing is queued until the hub asks for one, so wait on its
        sockets instead of polling them (five wake-ups a second per camera, for nothing,
        were a measurable share of the recording's cost on two cores)."""
        forwarders = [o.forwarder for o in self.outputs if not o.forwarder.closed]
        if not forwarders:
            self.stop_event.wait(IDLE_WAKE_S)
            return
        select.select([f.sock for f in forwarders],
                      [f.sock for f in forwarders if f.pending], [], IDLE_WAKE_S)

    def _control(self, now: float) -> None:
        for o in self.outputs:
            o.forwarder.poll_control()
            viewed = o.forwarder.viewed
            if viewed and not o.was_viewed:
                o.failed = ""  # a new first viewer: try again
            o.was_viewed = viewed
            if viewed or o.transcoder is None:
                o.unwanted_since = None
            elif o.unwanted_since is None:
                o.unwanted_since = now
            elif now - o.unwanted_since > LINGER_S:
                log.info("%s: no viewer of %s for %.0f s; its encoder closed", self.camera,
                         o.name, LINGER_S)
                o.close()
                o.unwanted_since = None

    def _handle(self, item: _Source) -> None:
        if item.info is not self.source:  # a new session: new codec, new time base
            self.source, self.need_keyframe, self.next_s = item.info, True, None
            self.decoder = av.CodecContext.create(item.info.video_codec, "r")
            if item.info.video_extradata:
                self.decoder.extradata = item.info.video_extradata
            for output in self.outputs:
                output.close()
        active = [o for o in self.outputs if o.active and not o.failed]
        if not active or (self.need_keyframe and not item.keyframe):
            self.need_keyframe = True
            return
        self.need_keyframe = False
        packet = av.Packet(item.data)
        packet.pts, packet.dts, packet.time_base = item.pts, item.dts, item.time_base
        try:
            frames = self.decoder.decode(packet)
        except av.FFmpegError as exc:
            log.debug("%s: rungs: a source packet would not decode: %s", self.camera, exc)
            self.need_keyframe = True
            return
        for frame in frames:
            if self._take(frame, item.time_base):
                for output in active:
                    self._encode(output, frame, item.time_base)

    def _take(self, frame: Any, time_base: Fraction) -> bool:
        """At most RUNG_FPS frames a second of source time, evenly. A frame the decoder
        gives without a time is left out: the rung keeps the source's times, and a packet
        without one would reach viewers with none (seen under load)."""
        if frame.pts is None:
            return False
        t, step = float(frame.pts * time_base), 1 / RUNG_FPS
        if self.next_s is not None and t < self.next_s - 0.002:
            return False
        # behind by more than a frame (a gap, a jump): start the schedule again from here
        base = self.next_s if self.next_s is not None and t - self.next_s < step else t
        self.next_s = base + step
        return True

    def _encode(self, o: RungOutput, frame: Any, time_base: Fraction) -> None:
        source = self.source
        assert source is not None
        if o.transcoder is None:
            if o.width * o.height >= source.width * source.height:
                # the hub let it start before it knew the source's size: no upscaling
                self._fail(o, "not below the camera's live stream (it is no larger)")
                return
            try:
                session = self.session_for(o.target)
            except EncoderError as exc:
                self._fail(o, str(exc))
                return
            o.transcoder = Transcoder(session, source.video_codec, time_base)
            o.opened = 0
        try:
            out = o.transcoder.encode_frame(frame)
        except EncoderError as exc:
            self._fail(o, f"no encoder could encode it: {exc}")
            return
        for timed in out:
            self._send(o, timed, source)

    def _send(self, o: RungOutput, timed: TimedPacket, source: StreamInfo) -> None:
        assert o.transcoder is not None
        opened = o.transcoder.session.opened
        if timed.keyframe and o.opened != opened:
            # the first keyframe of this encoder's stream: its parameter sets are the info
            o.opened = opened
            o.forwarder.stream_info(StreamInfo(
                video_codec="h264", width=o.width, height=o.height,
                video_time_base=(timed.time_base.numerator, timed.time_base.denominator),
                video_extradata=parameter_sets(timed.data), source=o.name))
        if o.opened != opened or timed.pts is None:
            # not from a keyframe of the stream the hub was told of, or with no time to
            # give it (an encoder handing over mid-stream can put out more than it was fed)
            return
        packet = av.Packet(timed.data)
        packet.pts = packet.dts = timed.pts
        packet.time_base = timed.time_base
        packet.is_keyframe = timed.keyframe
        o.frames += 1
        o.forwarder.packet(False, packet)

    def _fail(self, o: RungOutput, reason: str) -> None:
        log.warning("%s: rung %s stopped: %s", self.camera, o.name, reason)
        o.failed = reason
        o.close()
