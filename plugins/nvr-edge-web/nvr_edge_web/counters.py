"""Counters the HTTP side keeps: requests by route and status, and the live relay's viewers
and bytes. Thread-safe: the relay may report from threads of its own."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from typing import Any

#: An LL-HLS player holds a blocking playlist request open all the time; one that has not
#: asked for this long has gone.
HLS_CLIENT_IDLE_S = 10.0


class HttpCounters:
    """Requests answered, by route template (never the raw path: bounded label values)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, int]] = Counter()

    def count(self, route: str, status: int) -> None:
        with self._lock:
            self._requests[(route, status)] += 1

    def requests(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._requests)


class LiveMetrics:
    """What the live relay reports (WebRTC/WHEP, LL-HLS): viewers now and bytes sent.

    The relay calls viewer_joined/viewer_left around each session and add_bytes_out as it
    sends; /metrics shows nvr_live_viewers and nvr_live_bytes_out_total per camera. HTTP
    has no session: an LL-HLS player counts while it keeps asking for the playlist."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._viewers: Counter[str] = Counter()
        self._bytes_out: Counter[str] = Counter()
        self._hls_seen: dict[tuple[str, Hashable], float] = {}
        # the open WebRTC sessions' rung, switches, loss, RTT (set by the WHEP routes;
        # read on the web loop, where the sessions live)
        self.webrtc_sessions: Callable[[], list[dict[str, Any]]] = list

    def viewer_joined(self, camera: str) -> None:
        with self._lock:
            self._viewers[camera] += 1

    def viewer_left(self, camera: str) -> None:
        with self._lock:
            self._viewers[camera] = max(0, self._viewers[camera] - 1)

    def add_bytes_out(self, camera: str, count: int) -> None:
        if count > 0:
            with self._lock:
                self._bytes_out[camera] += count

    def hls_request(self, camera: str, client: Hashable, now: float) -> None:
        """`client` (its address and token) asked for `camera`'s playlist at `now`
        (monotonic seconds)."""
        with self._lock:
            self._hls_seen[(camera, client)] = now

    def hls_clients(self, now: float) -> Mapping[str, int]:
        """Per camera, the players that asked within HLS_CLIENT_IDLE_S of `now`."""
        counts: Counter[str] = Counter()
        with self._lock:
            for key, seen in list(self._hls_seen.items()):
                if now - seen > HLS_CLIENT_IDLE_S:
                    del self._hls_seen[key]
                else:
                    counts[key[0]] += 1
        return dict(counts)

    def viewers(self) -> Mapping[str, int]:
        with self._lock:
            return dict(self._viewers)

    def bytes_out(self) -> Mapping[str, int]:
        with self._lock:
            return dict(self._bytes_out)
