"""Pulling a camera's stream: PyAV demux over RTSP/TCP in a reader thread.

The read sits in a thread because a blocking RTSP read inside FFmpeg ignores signals: the
worker's main thread stays free to notice SIGTERM and stalls, close the open segment
cleanly and leave, while a stuck reader is simply abandoned (it ends at its own timeout).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import av

from nvr_edge.logs import redact
from nvr_edge.v4l2_source import is_v4l2_url, parse_v4l2_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Opened:
    video: Any
    audio: Any | None


@dataclass(frozen=True)
class Ended:
    error: str | None  # None: the camera closed the stream; else a redacted reason


def rtsp_endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    default = 322 if parts.scheme == "rtsps" else 554
    return parts.hostname or "", parts.port or default


class RtspReader(threading.Thread):
    """Opens `url` and puts Opened, then (arrival monotonic time, packet) pairs, then Ended
    on `out`. Arrival is stamped here so the consumer may take packets in batches without
    blurring the gaps the stall monitor measures."""

    def __init__(self, url: str, connect_timeout_s: float, read_timeout_s: float,
                 out: queue.SimpleQueue[Any]) -> None:
        super().__init__(name="rtsp-reader", daemon=True)
        self.url = url
        # PyAV's timeout is an interrupt callback that takes the GIL on every one of the
        # FFmpeg's thousands of socket waits per second: it bounds av.open only. Reads are
        # bounded by FFmpeg's own socket timeout (no callback); it must not cut the open
        # short, hence the longer of the two.
        self.timeouts: tuple[float, float | None] = (connect_timeout_s, None)
        self.socket_timeout_s = max(connect_timeout_s, read_timeout_s)
        self.out = out
        self.abandoned = threading.Event()
        self._abandoned = False  # Event.is_set() is a Python call: too dear per packet

    def options(self) -> dict[str, str]:
        return {"rtsp_transport": "tcp", "timeout": str(round(self.socket_timeout_s * 1e6))}

    def open_spec(self) -> tuple[str, str | None, dict[str, str]]:
        """(What to open, FFmpeg's input format, its options): a network camera over
        RTSP, or a local capture device through FFmpeg's v4l2 input."""
        if is_v4l2_url(self.url):
            source = parse_v4l2_url(self.url)
            return source.device, "v4l2", source.pyav_options()
        return self.url, None, self.options()

    def abandon(self) -> None:
        """The consumer is done with this session's streams: stop handing packets over and
        let the thread close the container (at its next packet or timeout).

        Call it only after the last use of the `Opened` streams (the open segment's close):
        PyAV stream objects point into the container, and using one after the container
        closed crashes the process (seen: SIGSEGV when a segment opened from a template
        whose camera had just hung up)."""
        self._abandoned = True
        self.abandoned.set()

    def run(self) -> None:
        input_format: str | None = None
        try:
            target, input_format, options = self.open_spec()
            container = av.open(target, format=input_format, options=options,
                                timeout=self.timeouts)
        except Exception as exc:  # every FFmpeg failure is a reason to retry, not to crash
            self.out.put(Ended(f"{'V4L2' if input_format else 'RTSP'}: {_reason(exc)}"))
            return
        try:
            self._pump(container)
        finally:
            self.abandoned.wait()  # the consumer may still be using the streams
            container.close()

    def _pump(self, container: Any) -> None:
        video = next(iter(container.streams.video), None)
        if video is None:
            self.out.put(Ended("the stream has no video track"))
            return
        audio = next(iter(container.streams.audio), None)
        self.out.put(Opened(video, audio))
        wanted = [s for s in (video, audio) if s is not None]
        put, now = self.out.put, time.monotonic
        try:
            for packet in container.demux(wanted):
                if self._abandoned:
                    return
                if packet.size:  # size 0: the demuxer's end-of-stream flush marker
                    put((now(), packet))
            self.out.put(Ended(None))
        except Exception as exc:
            self.out.put(Ended(_reason(exc)))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return redact(exc.strerror)  # str() would add the errno and the URL
    text = str(exc) or type(exc).__name__
    return redact(f"{type(exc).__name__}: {text}")
