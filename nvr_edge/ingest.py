"""Pulling a camera's stream: PyAV demux over RTSP/TCP in a reader thread.

The read sits in a thread because a blocking RTSP read inside FFmpeg ignores signals: the
worker's main thread stays free to notice SIGTERM and stalls, close the open segment
cleanly and leave, while a stuck reader is simply abandoned (it ends at its own timeout).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import av

from .redact import redact

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
    """Opens `url` and puts Opened, then packets, then Ended on `out`."""

    def __init__(self, url: str, connect_timeout_s: float, read_timeout_s: float,
                 out: queue.SimpleQueue[Any]) -> None:
        super().__init__(name="rtsp-reader", daemon=True)
        self.url = url
        self.timeouts = (connect_timeout_s, read_timeout_s)
        self.out = out
        self.abandoned = threading.Event()

    def abandon(self) -> None:
        """Stop handing packets over; the thread ends at its next packet or timeout."""
        self.abandoned.set()

    def run(self) -> None:
        try:
            container = av.open(self.url, options={"rtsp_transport": "tcp"},
                                timeout=self.timeouts)
        except Exception as exc:  # every FFmpeg failure is a reason to retry, not to crash
            self.out.put(Ended(_reason(exc)))
            return
        try:
            self._pump(container)
        finally:
            container.close()

    def _pump(self, container: Any) -> None:
        video = next(iter(container.streams.video), None)
        if video is None:
            self.out.put(Ended("the stream has no video track"))
            return
        audio = next(iter(container.streams.audio), None)
        self.out.put(Opened(video, audio))
        wanted = [s for s in (video, audio) if s is not None]
        try:
            for packet in container.demux(wanted):
                if self.abandoned.is_set():
                    return
                if packet.size:  # size 0: the demuxer's end-of-stream flush marker
                    self.out.put(packet)
            self.out.put(Ended(None))
        except Exception as exc:
            self.out.put(Ended(_reason(exc)))


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return redact(f"{type(exc).__name__}: {text}")
