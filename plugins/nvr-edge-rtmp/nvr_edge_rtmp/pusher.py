"""One RTMP push: a viewer of the live relay, remuxed (never re-encoded) into FLV.

Runs in its own thread; a refused or broken connection is retried with backoff (doubling
from `retry_min_s` to `retry_max_s`) until the push is stopped. Being a relay viewer, a
push that cannot keep up skips to the next keyframe instead of slowing anything else.
"""

from __future__ import annotations

import logging
import threading
from fractions import Fraction
from typing import Any

import av

from nvr_edge import LivePacket, LiveRelay, LiveViewer, StreamInfo, redact

from .settings import PushTarget

log = logging.getLogger(__name__)
FLV_AUDIO = {"aac", "mp3"}
WAIT_S = 0.5
OPEN_TIMEOUT_S = 10.0


class PushError(Exception):
    """This session of the push is over; the reason is safe to log."""


class Pusher(threading.Thread):
    def __init__(self, target: PushTarget, hub: LiveRelay, retry_min_s: float,
                 retry_max_s: float) -> None:
        super().__init__(name=f"rtmp-{target.camera}", daemon=True)
        self.target, self.hub = target, hub
        self.retry_min_s, self.retry_max_s = retry_min_s, retry_max_s
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.state = "starting"
        self.sessions = 0
        self.packets_sent = 0
        self.last_error: str | None = None

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.wake.set()
        self.join(timeout)

    def describe(self) -> dict[str, Any]:
        return {"camera": self.target.camera, "url": self.target.display,
                "state": self.state, "sessions": self.sessions,
                "packets_sent": self.packets_sent, "last_error": self.last_error}

    def run(self) -> None:
        delay = self.retry_min_s
        while not self.stop_event.is_set():
            viewer = self.hub.subscribe(self.target.camera, self.wake.set)
            sent_before = self.packets_sent
            try:
                self._session(viewer)
            except PushError as exc:
                self.last_error = str(exc)
                log.warning("rtmp %s -> %s: %s; retrying in %.0f s", self.target.camera,
                            self.target.display, exc, delay)
            finally:
                self.hub.unsubscribe(viewer)
            if self.stop_event.is_set():
                break
            delay = self.retry_min_s if self.packets_sent > sent_before else \
                min(self.retry_max_s, delay * 2)
            self.state = "retrying"
            self.stop_event.wait(delay)
        self.state = "stopped"

    def _session(self, viewer: LiveViewer) -> None:
        info = self._wait_for_info(viewer)
        if info is None:
            return
        self.state = "connecting"
        try:
            output = av.open(self.target.url, "w", format="flv",
                             timeout=(OPEN_TIMEOUT_S, OPEN_TIMEOUT_S))
        except Exception as exc:  # any FFmpeg failure: retry later
            raise PushError(self._reason(exc)) from None
        try:
            streams = self._add_streams(output, info)
            self.sessions += 1
            self.state = "pushing"
            log.info("rtmp %s -> %s: pushing", self.target.camera, self.target.display)
            self._pump(viewer, output, streams, info)
        finally:
            try:
                output.close()
            except Exception as exc:
                log.debug("rtmp close: %s", self._reason(exc))

    def _wait_for_info(self, viewer: LiveViewer) -> StreamInfo | None:
        while viewer.info is None:
            if self.stop_event.is_set():
                return None
            self.state = "waiting for the camera"
            self.wake.wait(WAIT_S)
            self.wake.clear()
        return viewer.info

    def _add_streams(self, output: Any, info: StreamInfo) -> dict[bool, Any]:
        if info.video_codec != "h264":
            raise PushError(f"FLV carries H.264 here, the camera sends {info.video_codec}")
        video = output.add_stream("h264")
        video.codec_context.width, video.codec_context.height = info.width, info.height
        video.codec_context.extradata = info.video_extradata or None
        video.time_base = Fraction(1, 1000)
        streams = {False: video}
        if info.audio_codec in FLV_AUDIO:
            audio = output.add_stream(info.audio_codec, rate=info.sample_rate)
            audio.codec_context.extradata = info.audio_extradata or None
            audio.time_base = Fraction(1, 1000)
            streams[True] = audio
        return streams

    def _pump(self, viewer: LiveViewer, output: Any, streams: dict[bool, Any],
              info: StreamInfo) -> None:
        base_s: float | None = None  # FLV time starts at 0 with the first keyframe
        while not self.stop_event.is_set():
            if viewer.closed:
                raise PushError(f"relay: {viewer.closed}")
            if viewer.info is not info:
                raise PushError("the camera's stream changed")
            packets = viewer.take()
            if not packets:
                self.wake.wait(WAIT_S)
                self.wake.clear()
                continue
            for packet in packets:
                stream = streams.get(packet.audio)
                if stream is None or packet.dts is None:
                    continue
                dts_s = packet.dts * packet.time_base[0] / packet.time_base[1]
                base_s = dts_s if base_s is None else base_s
                if dts_s < base_s:
                    continue  # audio from before the first keyframe
                try:
                    output.mux(_flv_packet(packet, stream, base_s))
                except Exception as exc:
                    raise PushError(self._reason(exc)) from None
                self.packets_sent += 1

    def _reason(self, exc: BaseException) -> str:
        text = redact(f"{type(exc).__name__}: {exc}")
        return text.replace(redact(self.target.url), self.target.display)


def _flv_packet(packet: LivePacket, stream: Any, base_s: float) -> Any:
    """The relay packet in FLV's millisecond time base, from 0 at the session's start."""
    num, den = packet.time_base
    assert packet.dts is not None
    pts = packet.pts if packet.pts is not None else packet.dts
    out = av.Packet(packet.data)
    out.stream = stream
    out.time_base = Fraction(1, 1000)
    out.dts = round((packet.dts * num / den - base_s) * 1000)
    out.pts = round((pts * num / den - base_s) * 1000)
    out.is_keyframe = packet.keyframe
    return out
