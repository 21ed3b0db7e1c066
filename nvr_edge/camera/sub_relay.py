"""A camera's sub stream, relayed live from a thread of its worker (never recorded).

The recorder keeps the main stream; viewers get the smaller sub stream. With
`live = "always"` its RTSP session stays open so a viewer starts from the last keyframe at
once; with `"on_demand"` it opens for the first viewer and closes a while after the last.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from nvr_edge.camera.ingest import Ended, Opened, RtspReader
from nvr_edge.live.forwarder import LiveForwarder, stream_info_of

log = logging.getLogger(__name__)
LINGER_S = 10.0       # on demand: keep the session this long after the last viewer
CONTROL_POLL_S = 0.2
RETRY_MIN_S, RETRY_MAX_S = 1.0, 30.0


class SubRelay(threading.Thread):
    def __init__(self, camera: str, url: str, forwarder: LiveForwarder,
                 connect_timeout_s: float, stop: threading.Event) -> None:
        super().__init__(name="sub-relay", daemon=True)
        self.camera, self.url, self.forwarder = camera, url, forwarder
        self.connect_timeout_s, self.stop_event = connect_timeout_s, stop

    def run(self) -> None:
        delay = RETRY_MIN_S
        while not self.stop_event.is_set() and not self.forwarder.closed:
            if not self._wait_until_wanted():
                return
            if self._session():
                delay = RETRY_MIN_S
            else:
                self.stop_event.wait(delay)
                delay = min(RETRY_MAX_S, delay * 2)

    def _wait_until_wanted(self) -> bool:
        while not self.forwarder.wanted:
            self.forwarder.poll_control()
            if self.stop_event.wait(CONTROL_POLL_S) or self.forwarder.closed:
                return False
        return True

    def _session(self) -> bool:
        """One RTSP session; True when packets flowed (so a retry may come at once)."""
        items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        reader = RtspReader(self.url, self.connect_timeout_s, self.connect_timeout_s, items)
        reader.start()
        video = None
        flowed = False
        unwanted_since: float | None = None
        try:
            while not self.stop_event.is_set() and not self.forwarder.closed:
                self.forwarder.poll_control()
                now = time.monotonic()
                if self.forwarder.wanted:
                    unwanted_since = None
                elif unwanted_since is None:
                    unwanted_since = now
                elif now - unwanted_since > LINGER_S:
                    log.info("%s: no live viewer for %.0f s; sub stream closed", self.camera,
                             LINGER_S)
                    return True
                try:
                    item = items.get(timeout=CONTROL_POLL_S)
                except queue.Empty:
                    continue
                if type(item) is tuple:
                    packet = item[1]
                    self.forwarder.packet(packet.stream is not video, packet)
                    flowed = True
                elif isinstance(item, Opened):
                    video = item.video
                    self.forwarder.stream_info(stream_info_of(item, "sub"))
                else:
                    assert isinstance(item, Ended)
                    log.warning("%s: sub stream ended: %s", self.camera,
                                item.error or "closed by the camera")
                    return flowed
            return flowed
        finally:
            reader.abandon()
