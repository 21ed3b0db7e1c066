"""A cap on open connections that have not shown a valid token yet.

Every accepted connection counts until a request on it authenticates. At the cap, the
oldest connection still without a token is closed to make room: a crowd of idle clients
cannot take the process's file descriptors, and a client that sends its token at once
still gets in (aiohttp's keep-alive timeout closes the ones that never send a complete
request head, see server.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
LOG_INTERVAL_S = 60.0  # evictions come in floods: one line per interval, with a count


class ConnectionLimiter:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        # insertion order is age: the first is the oldest
        self.unauthenticated: dict[asyncio.BaseTransport, None] = {}
        self.evicted = 0  # since start
        self._logged_at = float("-inf")
        self._evicted_since_log = 0

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for loop.create_server around aiohttp's own."""
        return lambda: _Counted(self, factory())

    def authenticated(self, transport: asyncio.BaseTransport | None) -> None:
        """A request on `transport` showed a valid token: it no longer counts."""
        if transport is not None:
            self.unauthenticated.pop(transport, None)

    def opened(self, transport: asyncio.BaseTransport) -> None:
        while len(self.unauthenticated) >= self.cap:
            oldest = next(iter(self.unauthenticated))
            del self.unauthenticated[oldest]
            oldest.close()
            self._count_eviction()
        self.unauthenticated[transport] = None

    def closed(self, transport: asyncio.BaseTransport) -> None:
        self.unauthenticated.pop(transport, None)

    def _count_eviction(self) -> None:
        self.evicted += 1
        self._evicted_since_log += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_INTERVAL_S:
            log.warning("web: %d connection(s) without a token closed to make room: %d "
                        "were open (web.max_unauthenticated_connections)",
                        self._evicted_since_log, self.cap)
            self._logged_at, self._evicted_since_log = now, 0


class _Counted(asyncio.Protocol):
    """aiohttp's protocol with its connection counted by the limiter."""

    def __init__(self, limiter: ConnectionLimiter, inner: asyncio.Protocol) -> None:
        self.limiter, self.inner = limiter, inner
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.limiter.opened(transport)
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.limiter.closed(self.transport)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()
