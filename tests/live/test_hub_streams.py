"""A camera with a sub stream has two hub feeds: "live" (the sub stream) and "main" (for
the RTSP restream); each has its own socket, viewers and want/stop control."""

from __future__ import annotations

import socket
import time

import pytest

from nvr_edge.live.hub import LIVE, MAIN, LiveHub
from nvr_edge.live.wire import (
    INFO,
    PACKET,
    FrameReader,
    LivePacket,
    StreamInfo,
    encode_packet,
    frame,
)

MAIN_INFO = StreamInfo("h264", 1920, 1080, (1, 90000), source="main")
SUB_INFO = StreamInfo("h264", 640, 360, (1, 90000), source="sub")


def wanted(worker: socket.socket) -> list[bytes]:
    worker.settimeout(5)
    return [body for _, body in FrameReader().feed(worker.recv(4096))]


def test_main_and_live_feeds_are_apart() -> None:
    hub = LiveHub().start()
    live_w, live_h = socket.socketpair()
    main_w, main_h = socket.socketpair()
    try:
        hub.attach("cam", live_h, LIVE)
        hub.attach("cam", main_h, MAIN)
        assert wanted(live_w) == wanted(main_w) == [b'{"want": false}']  # nobody yet
        main_viewer = hub.subscribe("cam", lambda: None, MAIN)
        assert wanted(main_w) == [b'{"want": true}']
        live_w.setblocking(False)
        with pytest.raises(BlockingIOError):  # the live feed's worker end is not asked
            live_w.recv(4096)
        live_viewer = hub.subscribe("cam", lambda: None)
        assert wanted(live_w) == [b'{"want": true}']
        key = LivePacket(False, True, 0, 0, 3000, (1, 90000), b"\x00\x00\x01\x65main")
        main_w.sendall(frame(INFO, MAIN_INFO.to_json()) + frame(PACKET, encode_packet(key)))
        live_w.sendall(frame(INFO, SUB_INFO.to_json()))
        deadline = time.monotonic() + 5
        got: list[LivePacket] = []
        while not got and time.monotonic() < deadline:
            got = main_viewer.take()
            time.sleep(0.02)
        assert [p.data for p in got] == [key.data]
        assert main_viewer.info == MAIN_INFO and live_viewer.info == SUB_INFO
        assert live_viewer.take() == []
        assert hub.stats()["cam"]["viewers"] == 1  # the live view's feed only
        hub.forget("cam", MAIN)  # the sub stream was removed from the config
        assert main_viewer.closed == "stream removed" and live_viewer.closed is None
    finally:
        hub.stop()
        for end in (live_w, main_w):
            end.close()


class CountingGate:
    """A gate that refuses "240p" beyond one camera, and counts what it holds."""

    def __init__(self) -> None:
        self.held: set[tuple[str, str]] = set()

    def admit(self, camera: str, stream: str) -> str:
        if stream != "240p":
            return ""
        if self.held - {(camera, stream)}:
            return "over the budget"
        self.held.add((camera, stream))
        return ""

    def release(self, camera: str, stream: str) -> None:
        self.held.discard((camera, stream))

    def rungs(self, camera: str) -> list[dict[str, object]]:
        return []


def test_a_gate_admits_a_streams_first_viewer_and_is_released_by_its_last() -> None:
    hub = LiveHub()  # (not started: subscribing needs no hub thread)
    gate = hub.gate = CountingGate()
    first = hub.subscribe("cam1", lambda: None, "240p")
    second = hub.subscribe("cam1", lambda: None, "240p")  # joins: not asked again
    refused = hub.subscribe("cam2", lambda: None, "240p")
    assert first.closed is None and second.closed is None
    assert refused.closed == "unavailable: over the budget"
    assert hub.subscribe("cam2", lambda: None).closed is None  # its live view: no gate
    hub.unsubscribe(refused)  # never counted: nothing to release
    hub.unsubscribe(first)
    assert gate.held == {("cam1", "240p")}
    hub.unsubscribe(second)
    assert gate.held == set()
    kept = hub.subscribe("cam2", lambda: None, "240p")
    assert kept.closed is None and gate.held == {("cam2", "240p")}
    hub.forget("cam2")  # the camera left the config: its viewers closed, the gate freed
    assert kept.closed == "camera removed" and gate.held == set()
