"""A lossy, rate-limited UDP relay in user space, for WebRTC tests on a kernel without netem.

It sits between a viewer and the box: the viewer is told (in the SDP answer) the relay's
port instead of the box's candidate, the relay forwards each datagram to the other side.
Of those going to the viewer it drops a share (`loss`) and, with a cap (`set_rate`),
sends them through a token bucket behind a bounded queue, as a slow uplink does: a
datagram waits its turn while the queue holds under `queue_s` of the cap, and is dropped
(tail drop) when it is full. Both can change while it runs. ICE works through it: the box
sees the relay as a peer-reflexive candidate. Stdlib only."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import deque
from typing import Any

_CANDIDATE = re.compile(r"(a=candidate:\S+ \d udp \d+ )(\S+) (\d+)( typ host)")
BURST_BYTES = 3000  # the bucket's depth: two full datagrams may go back to back


class LossyRelay(asyncio.DatagramProtocol):
    """Datagrams from the viewer go to `upstream`; the upstream's replies go back to the
    last viewer address seen, `loss` of them dropped (seeded: a test repeats itself),
    the rest through the cap when one is set."""

    def __init__(self, upstream: tuple[str, int], seed: int = 14) -> None:
        self.upstream, self.loss = upstream, 0.0
        self.viewer: tuple[str, int] | None = None
        self.random = random.Random(seed)
        self.transport: asyncio.DatagramTransport | None = None
        self.forwarded = self.dropped = self.overflowed = 0
        self.rate_kbps: float | None = None
        self.queue_s = 0.25
        self.queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self.tokens, self.refilled = float(BURST_BYTES), time.monotonic()
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def set_rate(self, kbps: float | None, queue_s: float = 0.25) -> None:
        """Cap what goes to the viewer at `kbps` (kbit/s), queueing up to `queue_s` of it;
        None lifts the cap (what is queued goes at once)."""
        if kbps is not None and (kbps <= 0 or queue_s <= 0):
            raise ValueError("the rate and the queue must be positive")
        self._refill()
        self.rate_kbps, self.queue_s = kbps, queue_s
        self._drain()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        if addr != self.upstream:
            self.viewer = addr
            self.transport.sendto(data, self.upstream)
        elif self.viewer is not None:
            if self.random.random() < self.loss:
                self.dropped += 1
            elif self.rate_kbps is not None and \
                    self.queued_bytes + len(data) > self.rate_kbps * 125 * self.queue_s:
                self.dropped += 1
                self.overflowed += 1
            else:
                self.queue.append(data)
                self.queued_bytes += len(data)
                self._drain()

    def _refill(self) -> None:
        now = time.monotonic()
        if self.rate_kbps is not None:
            self.tokens = min(BURST_BYTES, self.tokens + (now - self.refilled)
                              * self.rate_kbps * 125)
        self.refilled = now

    def _drain(self) -> None:
        """Send what the bucket allows; come back when the next datagram's tokens are in."""
        self._refill()
        while self.queue and (self.rate_kbps is None or self.tokens >= len(self.queue[0])):
            data = self.queue.popleft()
            self.queued_bytes -= len(data)
            if self.rate_kbps is not None:
                self.tokens -= len(data)
            if self.transport is not None and self.viewer is not None:
                self.forwarded += 1
                self.transport.sendto(data, self.viewer)
        if self.queue and self.timer is None and self.rate_kbps is not None:
            wait = (len(self.queue[0]) - self.tokens) / (self.rate_kbps * 125)
            self.timer = asyncio.get_running_loop().call_later(wait, self._wake)

    def _wake(self) -> None:
        self.timer = None
        self._drain()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.transport is not None:
            self.transport.close()


async def relay_answer(answer: str) -> tuple[str, LossyRelay]:
    """A relay in front of the answer's (one, loopback, host) candidate, and the answer
    rewritten to name the relay instead."""
    found = _CANDIDATE.search(answer)
    if found is None:
        raise ValueError("the answer has no UDP host candidate to relay")
    host, port = found.group(2), int(found.group(3))
    loop = asyncio.get_running_loop()
    _, relay = await loop.create_datagram_endpoint(
        lambda: LossyRelay((host, port)), local_addr=(host, 0))
    rewritten = _CANDIDATE.sub(lambda m: f"{m.group(1)}{host} {relay.port}{m.group(4)}",
                               answer)
    return rewritten, relay
