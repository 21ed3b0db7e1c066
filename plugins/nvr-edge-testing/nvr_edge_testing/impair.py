"""A lossy UDP relay in user space, for WebRTC tests on a kernel without netem.

It sits between a viewer and the box: the viewer is told (in the SDP answer) the relay's
port instead of the box's candidate, the relay forwards each datagram to the other side
and drops a share of those going to the viewer (`loss`, changeable while it runs). ICE
works through it: the box sees the relay as a peer-reflexive candidate. Stdlib only."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

_CANDIDATE = re.compile(r"(a=candidate:\S+ \d udp \d+ )(\S+) (\d+)( typ host)")


class LossyRelay(asyncio.DatagramProtocol):
    """Datagrams from the viewer go to `upstream`; the upstream's replies go back to the
    last viewer address seen, `loss` of them dropped (seeded: a test repeats itself)."""

    def __init__(self, upstream: tuple[str, int], seed: int = 14) -> None:
        self.upstream, self.loss = upstream, 0.0
        self.viewer: tuple[str, int] | None = None
        self.random = random.Random(seed)
        self.transport: asyncio.DatagramTransport | None = None
        self.forwarded = self.dropped = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        if addr == self.upstream:
            if self.viewer is None:
                return
            if self.random.random() < self.loss:
                self.dropped += 1
                return
            self.forwarded += 1
            self.transport.sendto(data, self.viewer)
        else:
            self.viewer = addr
            self.transport.sendto(data, self.upstream)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def close(self) -> None:
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
