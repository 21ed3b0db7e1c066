"""The worker's side of the live relay: with nobody watching, an "always" feed keeps the
current GOP in the worker and sends the hub nothing but the stream's info; the first
viewer gets that GOP at once, then the live packets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from fractions import Fraction

import pytest

from nvr_edge.live.forwarder import LiveForwarder
from nvr_edge.live.hub import LiveFeed
from nvr_edge.live.wire import (
    INFO,
    PACKET,
    FrameReader,
    LivePacket,
    StreamInfo,
    control_message,
    decode_packet,
)

INFO_1 = StreamInfo("h264", 640, 360, (1, 90000))


class FakePacket:
    """What the forwarder reads of a PyAV packet."""

    def __init__(self, n: int, keyframe: bool) -> None:
        self.is_keyframe = keyframe
        self.pts = self.dts = n * 3000
        self.duration = 3000
        self.time_base = Fraction(1, 90000)
        self.data = n.to_bytes(4, "big")

    def __bytes__(self) -> bytes:
        return self.data


@pytest.fixture
def pair() -> Iterator[tuple[LiveForwarder, socket.socket]]:
    worker, hub = socket.socketpair()
    hub.setblocking(False)
    forwarder = LiveForwarder(worker, always=True)
    forwarder.stream_info(INFO_1)
    yield forwarder, hub
    worker.close()
    hub.close()


def received(hub: socket.socket, reader: FrameReader) -> list[tuple[int, bytes]]:
    messages: list[tuple[int, bytes]] = []
    while True:
        try:
            data = hub.recv(65536)
        except BlockingIOError:
            return messages
        messages += reader.feed(data)


def packets_of(messages: list[tuple[int, bytes]]) -> list[LivePacket]:
    return [decode_packet(body, 0.0) for kind, body in messages if kind == PACKET]


def feed_frames(forwarder: LiveForwarder, first: int, last: int, gop: int = 10) -> None:
    for n in range(first, last):
        forwarder.packet(False, FakePacket(n, keyframe=n % gop == 0))


def test_nobody_watching_sends_only_the_info_and_the_first_viewer_gets_the_gop_at_once(
        pair: tuple[LiveForwarder, socket.socket]) -> None:
    forwarder, hub = pair
    reader = FrameReader()
    feed_frames(forwarder, 0, 25)  # keyframes at 0, 10, 20
    assert [kind for kind, _ in received(hub, reader)] == [INFO]
    assert forwarder.wanted  # "always": the camera's session stays open

    hub.send(control_message(True))  # the first viewer
    forwarder.poll_control()
    messages = received(hub, reader)
    assert messages[0][0] == INFO  # codecs first
    gop = packets_of(messages)
    assert [p.pts // 3000 for p in gop] == [20, 21, 22, 23, 24]  # the current GOP only
    assert gop[0].keyframe and not any(p.keyframe for p in gop[1:])

    feed_frames(forwarder, 25, 27)  # then live
    assert [p.pts // 3000 for p in packets_of(received(hub, reader))] == [25, 26]

    hub.send(control_message(False))  # the last viewer left
    forwarder.poll_control()
    feed_frames(forwarder, 27, 35)
    assert received(hub, reader) == []
    hub.send(control_message(True))  # and back: the GOP kept meanwhile, from frame 30
    forwarder.poll_control()
    assert [p.pts // 3000 for p in packets_of(received(hub, reader))] == [30, 31, 32, 33, 34]


def test_a_gop_too_long_to_be_a_head_start_is_not_kept(
        pair: tuple[LiveForwarder, socket.socket]) -> None:
    forwarder, hub = pair
    feed_frames(forwarder, 0, 1600, gop=10_000)  # one keyframe, then 1599 frames
    hub.send(control_message(True))
    forwarder.poll_control()
    assert packets_of(received(hub, FrameReader())) == []
    feed_frames(forwarder, 10_000, 10_002, gop=10_000)  # the next keyframe starts it
    assert [p.pts // 3000 for p in packets_of(received(hub, FrameReader()))] == [10_000,
                                                                                   10_001]


def test_a_resumed_feed_starting_before_the_last_packet_is_no_sign_of_b_frames() -> None:
    feed = LiveFeed("cam1")
    feed.on_info(INFO_1)
    for n in (20, 21, 22):
        feed.on_packet(LivePacket(False, n == 20, n * 3000, n * 3000, 3000, (1, 90000),
                                  b"x", 0.0))
    feed.on_info(INFO_1)  # the worker resumes with its kept GOP, from frame 20 again
    feed.on_packet(LivePacket(False, True, 20 * 3000, 20 * 3000, 3000, (1, 90000), b"x", 0.0))
    assert not feed.b_frames_seen
    feed.on_packet(LivePacket(False, False, 19 * 3000, 21 * 3000, 3000, (1, 90000), b"x", 0.0))
    assert feed.b_frames_seen  # presentation order really differing still counts


def test_an_on_demand_forwarder_sends_no_stale_gop_to_a_returning_viewer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The main stream beside a sub stream (always=False) is handed packets only while
    watched: the GOP it kept from the last viewing is old video when a viewer returns."""
    worker, hub = socket.socketpair()
    hub.setblocking(False)
    forwarder = LiveForwarder(worker, always=False)
    forwarder.stream_info(INFO_1)
    reader = FrameReader()
    now = [100.0]
    monkeypatch.setattr("nvr_edge.live.forwarder.time.monotonic", lambda: now[0])
    hub.send(control_message(True))
    forwarder.poll_control()
    for n in range(3):
        forwarder.packet(False, FakePacket(n, keyframe=n == 0))
    assert len(packets_of(received(hub, reader))) == 3
    hub.send(control_message(False))  # the viewer left; the worker stops handing packets
    forwarder.poll_control()
    now[0] += 0.5  # back at once: the GOP is still a head start
    hub.send(control_message(True))
    forwarder.poll_control()
    assert len(packets_of(received(hub, reader))) == 3
    hub.send(control_message(False))
    forwarder.poll_control()
    now[0] += 30  # much later: nothing old, the viewer waits for the next keyframe
    hub.send(control_message(True))
    forwarder.poll_control()
    assert [k for k, _ in received(hub, reader)] == [INFO]
    worker.close()
    hub.close()
