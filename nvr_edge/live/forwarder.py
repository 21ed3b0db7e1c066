"""The worker's end of the live relay: packets out, never waiting for the hub.

What the socket cannot take at once waits in a bounded buffer; when that is full the
packet is dropped and the forwarder skips until the next video keyframe, so a viewer
never gets a frame whose reference was lost. The recorder, on the same thread, never
waits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from typing import Any, Protocol

from nvr_edge.live.wire import (
    CONTROL,
    INFO,
    PACKET,
    FrameReader,
    LivePacket,
    StreamInfo,
    WireError,
    encode_packet,
    frame,
)

log = logging.getLogger(__name__)
SEND_BUFFER_BYTES = 1024 * 1024
MAX_PENDING_BYTES = 4 * 1024 * 1024  # ~8 s of a 4 Mbit/s stream: the hub is stuck, not slow
MAX_GOP_PACKETS = 1500  # as the hub's: a 30 fps camera with a 20 s GOP plus audio
STALE_GOP_S = 1.0  # a kept GOP not added to for this long is no head start


class Tap(Protocol):
    """Another user of the live source's video (the transcoded rungs: camera/rungs.py)."""

    @property
    def wanted(self) -> bool: ...

    def packet(self, info: StreamInfo, keyframe: bool, packet: Any, data: bytes) -> None: ...


class LiveForwarder:
    def __init__(self, sock: socket.socket, always: bool) -> None:
        self.sock = sock
        sock.setblocking(False)
        with contextlib.suppress(OSError):  # else the kernel's cap: drops come sooner
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        # "always" keeps the camera's session open with nobody watching, so that a viewer
        # starts at once from the current GOP, kept here (copied, not encoded) rather than
        # sent to the main process, whose hub spent a fifth of the recording's CPU on a
        # stream nobody saw (docs/research/recording-cost.md).
        self.always = always
        self.viewed = False  # the hub has viewers: forward every packet
        self.gop: list[tuple[bool, bool, Any, bytes]] = []  # since the last keyframe
        self.last_kept = 0.0  # monotonic time the GOP last grew
        self.info: StreamInfo | None = None
        self.need_keyframe = True
        self.pending = bytearray()
        self.control = FrameReader()
        self.sent = self.dropped = 0
        self.closed = False
        self.tap: Tap | None = None

    def stream_info(self, info: StreamInfo) -> None:
        """A new session: its codecs first, then packets from its first keyframe."""
        self.info, self.need_keyframe, self.gop = info, True, []
        self._send(INFO, info.to_json())

    @property
    def wanted(self) -> bool:
        """Whether packets are taken at all (and the camera's session kept open)."""
        return self.viewed or self.always or (self.tap is not None and self.tap.wanted)

    def packet(self, audio: bool, packet: Any) -> None:
        """Forward a PyAV packet while the hub has viewers, and keep the current GOP for
        the next first viewer either way (call before the recorder touches it)."""
        if self.closed:
            return
        keyframe = not audio and packet.is_keyframe
        data = bytes(packet)
        if self.tap is not None and not audio and self.info is not None:
            self.tap.packet(self.info, keyframe, packet, data)
        self._keep(audio, keyframe, packet, data)
        if not self.viewed or (self.need_keyframe and not keyframe):
            return
        if self._forward(audio, keyframe, packet, data):
            self.need_keyframe = False
            self.sent += 1
        else:
            self.dropped += 1
            self.need_keyframe = True

    def _keep(self, audio: bool, keyframe: bool, packet: Any, data: bytes) -> None:
        if keyframe:
            self.gop = []
        elif not self.gop or len(self.gop) >= MAX_GOP_PACKETS:
            self.gop = []  # no keyframe yet, or a GOP too long to be a head start
            return
        self.gop.append((audio, keyframe, _Stamps(packet), data))
        self.last_kept = time.monotonic()

    def _forward(self, audio: bool, keyframe: bool, packet: Any, data: bytes) -> bool:
        tb = packet.time_base
        live = LivePacket(audio, keyframe, packet.pts, packet.dts, packet.duration or 0,
                          (tb.numerator, tb.denominator), data)
        return self._send(PACKET, encode_packet(live))

    def _send_gop(self) -> None:
        """A first viewer came: the kept GOP goes first, so it starts on a keyframe at
        once (the hub gives first viewers no GOP of its own: it may be stale)."""
        for audio, keyframe, stamps, data in list(self.gop):
            if not self._forward(audio, keyframe, stamps, data):
                self.need_keyframe = True
                return
            self.sent += 1
        self.need_keyframe = not self.gop

    def poll_control(self) -> None:
        """Send what waits, and take the hub's wishes (viewers came or went)."""
        self._flush()
        while not self.closed:
            try:
                raw = self.sock.recv(4096)
            except BlockingIOError:
                return
            except OSError:
                raw = b""
            if not raw:
                self.closed = True
                return
            try:
                messages = self.control.feed(raw)
            except WireError as exc:
                log.error("live relay: %s; relay stopped", exc)
                self.closed = True
                return
            for kind, body in messages:
                if kind == CONTROL:
                    self._on_control(body)

    def _on_control(self, body: bytes) -> None:
        try:
            want = json.loads(body).get("want")
        except ValueError:
            return
        if not isinstance(want, bool):
            return
        was, self.viewed = self.viewed, want
        if want and not was and self.info is not None:  # resuming: codecs first
            self.need_keyframe = True
            if time.monotonic() - self.last_kept > STALE_GOP_S:
                # not fed while unwanted (the main stream beside a sub stream is handed
                # packets only while watched): its GOP is old video, not a head start
                self.gop = []
            self._send(INFO, self.info.to_json())
            self._send_gop()

    def _send(self, kind: int, body: bytes) -> bool:
        if self.closed or len(self.pending) > MAX_PENDING_BYTES:
            return False
        self.pending += frame(kind, body)
        self._flush()
        return True

    def _flush(self) -> None:
        while self.pending and not self.closed:
            try:
                sent = self.sock.send(self.pending)
            except BlockingIOError:
                return
            except OSError:
                self.closed = True
                return
            del self.pending[:sent]


class _Stamps:
    """A kept packet's timing, copied: PyAV packets are not kept (the recorder muxes the
    main stream's, which takes their data)."""

    __slots__ = ("dts", "duration", "pts", "time_base")

    def __init__(self, packet: Any) -> None:
        self.pts, self.dts, self.duration = packet.pts, packet.dts, packet.duration
        self.time_base = packet.time_base


def stream_info_of(opened: Any, source: str) -> StreamInfo:
    """The StreamInfo of a PyAV session (`ingest.Opened`)."""
    video = opened.video.codec_context
    tb = opened.video.time_base
    audio = opened.audio.codec_context if opened.audio is not None else None
    return StreamInfo(
        video_codec=video.name, width=video.width, height=video.height,
        video_time_base=(tb.numerator, tb.denominator),
        video_extradata=bytes(video.extradata or b""),
        has_b_frames=bool(getattr(video, "has_b_frames", 0)),
        audio_codec=audio.name if audio is not None else None,
        sample_rate=audio.sample_rate if audio is not None else 0,
        channels=audio.channels if audio is not None else 0,
        audio_extradata=bytes(audio.extradata or b"") if audio is not None else b"",
        source=source)
