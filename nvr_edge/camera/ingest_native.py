"""Pulling a camera's stream through the compiled packet path (`recording.engine = "native"`).

One thread reads, repairs, muxes and fsyncs (native/remux.c, without the GIL) and runs the
recorder's decisions when the engine stops for one (recorder_native.py); no packet crosses
into Python unless the live view wants it. The worker's main thread keeps what it has in
the PyAV path: stop, stall supervision (from the arrival times the engine keeps), the
live relay's socket, stats. A stop or stall abandons the engine: its read returns within
FFmpeg's interrupt check (~0.1 s) and this thread closes the open segment itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from nvr_edge.camera.ingest import Ended
from nvr_edge.camera.stall import StallMonitor
from nvr_edge.live.wire import StreamInfo
from nvr_edge.logs import redact

log = logging.getLogger(__name__)


def load_engine() -> Any:
    """The compiled module; ImportError says why it is missing."""
    try:
        from nvr_edge.camera import _remux  # type: ignore[attr-defined]
    except ImportError as exc:
        raise ImportError(
            "recording.engine = \"native\" needs the compiled module nvr_edge.camera._remux, "
            f"built from native/remux.c when nvr-edge is installed (ci/setup): {exc}") from exc
    return _remux


@dataclass(frozen=True)
class NativeOpened:
    engine: Any
    video: dict[str, Any]
    audio: dict[str, Any] | None


def feed_monitor(monitor: StallMonitor, last: float,
                 notable: list[tuple[float, float]]) -> bool:
    """Give the stall monitor what the engine kept of the arrivals since the last look
    (`Session.take_arrivals`): each late packet and the first on time after late ones,
    with the arrival before each; the packets between them were on time and change
    nothing but the last arrival. True: the stream keeps stalling, reconnect."""
    for previous, arrival in notable:
        monitor.last_packet = max(monitor.last_packet, previous)
        if monitor.on_packet(arrival):
            return True
    monitor.last_packet = max(monitor.last_packet, last)
    return False


class LivePacketView:
    """A live packet the engine handed over, shaped as LiveForwarder reads a PyAV one."""

    __slots__ = ("data", "dts", "duration", "is_keyframe", "pts", "time_base")

    def __init__(self, item: tuple[bool, bool, int | None, int | None, int, bytes],
                 time_base: Fraction) -> None:
        _, self.is_keyframe, self.pts, self.dts, self.duration, self.data = item
        self.time_base = time_base

    def __bytes__(self) -> bytes:
        return self.data


def stream_info_native(opened: NativeOpened, source: str) -> StreamInfo:
    """The live relay's StreamInfo from the engine's stream descriptions."""
    video, audio = opened.video, opened.audio
    return StreamInfo(
        video_codec=video["codec"], width=video["width"], height=video["height"],
        video_time_base=video["time_base"], video_extradata=video["extradata"] or b"",
        audio_codec=audio["codec"] if audio else None,
        sample_rate=audio["sample_rate"] if audio else 0,
        channels=audio["channels"] if audio else 0,
        audio_extradata=(audio["extradata"] or b"") if audio else b"", source=source)


class NativeReader(threading.Thread):
    """Opens `url` in the engine, asks `start(opened)` for the session's recorder (None: the
    engine cannot record this camera) and runs it until the stream ends or `abandon()`."""

    def __init__(self, url: str, connect_timeout_s: float, read_timeout_s: float,
                 audio_wanted: bool, start: Callable[[NativeOpened], Any | None]) -> None:
        super().__init__(name="rtsp-native", daemon=True)
        self.url, self.audio_wanted, self.start_recording = url, audio_wanted, start
        self.connect_timeout_s = connect_timeout_s
        # as RtspReader: FFmpeg's own socket timeout bounds every read, no callback into Python
        self.socket_timeout_s = max(connect_timeout_s, read_timeout_s)
        self.module = load_engine()
        self.engine = self.module.Session()
        self.opened: NativeOpened | None = None
        self.recorder: Any | None = None
        self.unsupported = False  # the engine cannot record this camera: use PyAV
        self.ended: Ended | None = None
        self.error: BaseException | None = None  # raised in the worker's main thread
        self._abandon = threading.Event()

    def abandon(self) -> None:
        self._abandon.set()
        self.engine.abandon()

    def options(self) -> dict[str, str]:
        return {"rtsp_transport": "tcp", "timeout": str(round(self.socket_timeout_s * 1e6))}

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # the main thread decides (NoSpace, a crash)
            self.error = exc
        finally:
            if self.ended is None:
                self.ended = Ended(None)

    def _run(self) -> None:
        timer = threading.Timer(self.connect_timeout_s, self.engine.abandon)
        timer.start()  # the open is bounded by the connect timeout, as av.open is
        try:
            self.engine.open(self.url, self.options(), self.audio_wanted)
        except OSError as exc:
            reason = "connection timed out" if not self._abandon.is_set() and \
                "exit" in str(exc).lower() else str(exc).split(": ", 1)[-1]
            self.ended = Ended(f"RTSP: {redact(reason)}")
            return
        finally:
            timer.cancel()
        video, audio = self.engine.streams()
        if video is None:
            self.ended = Ended("the stream has no video track")
            return
        self.opened = NativeOpened(self.engine, video, audio)
        self.recorder = self.start_recording(self.opened)
        if self.recorder is None:
            self.unsupported = True
            return
        try:
            self._pump()
        finally:
            self.recorder.close()

    def _pump(self) -> None:
        m, recorder, run = self.module, self.recorder, self.engine.run
        assert recorder is not None
        first, jump = m.FIRST, m.JUMP
        while True:
            event = run()
            kind = event[0]
            if kind == m.END:
                self.ended = Ended(redact(event[1]) if event[1] else None)
                return
            if kind == m.ABANDONED:
                return
            recorder.on_event(kind, bool(event[1]), event[2], event[3], event[4], event[5],
                              first, jump)
