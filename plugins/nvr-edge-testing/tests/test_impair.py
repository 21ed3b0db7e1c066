"""The impairing UDP relay (impair.py) on loopback sockets: a 600 kbit/s cap passes about
600 kbit/s of a 1.2 Mbit/s flow, queues no more than its bound (no datagram late by much
more than `queue_s`), drops the rest at the tail, and lifting it lets everything through."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from nvr_edge_testing.impair import LossyRelay

SIZE = 1200          # bytes a datagram (an RTP packet's usual size)


class Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.delays: list[float] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.delays.append(time.monotonic() - float(data[:20].decode()))


async def flow(kbps: float, seconds: float, cap: float | None) -> tuple[Sink, LossyRelay]:
    loop = asyncio.get_running_loop()
    upstream, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                      local_addr=("127.0.0.1", 0))
    up_port = upstream.get_extra_info("sockname")[1]
    relay_end, relay = await loop.create_datagram_endpoint(
        lambda: LossyRelay(("127.0.0.1", up_port)), local_addr=("127.0.0.1", 0))
    viewer, sink = await loop.create_datagram_endpoint(Sink, local_addr=("127.0.0.1", 0))
    viewer.sendto(b"hello", ("127.0.0.1", relay.port))  # the relay learns the viewer
    await asyncio.sleep(0.05)
    relay.set_rate(cap)
    gap = SIZE * 8 / (kbps * 1000)
    started, sent = time.monotonic(), 0
    while (now := time.monotonic()) - started < seconds:
        # catch up on what is due: a loaded machine's late wake-ups must not lower the
        # offered rate below the cap (the test failed once that way)
        while sent < int((now - started) / gap) + 1:
            stamp = f"{time.monotonic():<20.6f}".encode()
            upstream.sendto(stamp + bytes(SIZE - 20), ("127.0.0.1", relay.port))
            sent += 1
        await asyncio.sleep(gap)
    await asyncio.sleep(0.35)  # the queue empties
    for end in (upstream, relay_end, viewer):
        end.close()
    return sink, relay


def test_a_cap_passes_its_rate_bounds_its_queue_and_drops_the_rest() -> None:
    sink, relay = asyncio.run(flow(1200, 1.5, 600))
    sent = len(sink.delays) + relay.overflowed
    passed_kbps = len(sink.delays) * SIZE * 8 / 1000 / 1.5
    print(f"cap 600 kbit/s: {passed_kbps:.0f} kbit/s passed, {relay.overflowed} of {sent} "
          f"dropped, worst delay {max(sink.delays) * 1000:.0f} ms")
    assert 450 <= passed_kbps <= 780, passed_kbps  # the cap, and the 0.25 s queue drained after
    assert relay.overflowed > sent * 0.3  # half the flow does not fit
    assert max(sink.delays) < 0.25 + 0.15  # the queue's bound, plus a loaded loop


def test_no_cap_passes_everything_at_once() -> None:
    sink, relay = asyncio.run(flow(1200, 0.5, None))
    assert relay.overflowed == 0 and relay.dropped == 0 and len(sink.delays) >= 40
    assert sorted(sink.delays)[len(sink.delays) // 2] < 0.05
