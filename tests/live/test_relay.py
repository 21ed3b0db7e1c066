"""The live relay: worker -> hub -> viewers, with the real supervisor and cameras."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_testing.appliance import running_supervisor
from nvr_edge_testing.configs import appliance_document, write_toml
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.waiting import wait_for

from nvr_edge.live.hub import LagPolicy, Viewer
from nvr_edge.live.wire import (
    CONTROL,
    INFO,
    PACKET,
    FrameReader,
    LivePacket,
    WireError,
    decode_packet,
    encode_packet,
    frame,
)

from ..media import decoded_frames

# -- the wire -----------------------------------------------------------------------------


@given(st.lists(st.tuples(st.sampled_from([INFO, PACKET, CONTROL]), st.binary(max_size=500)),
                max_size=8),
       st.lists(st.integers(1, 700), min_size=1, max_size=20))
def test_messages_come_through_however_the_stream_is_cut(
        messages: list[tuple[int, bytes]], cuts: list[int]) -> None:
    stream = b"".join(frame(kind, body) for kind, body in messages)
    reader, received, offset, index = FrameReader(), [], 0, 0
    while offset < len(stream):
        size = cuts[index % len(cuts)]
        received += reader.feed(stream[offset:offset + size])
        offset, index = offset + size, index + 1
    assert received == messages and not reader.buffer


def test_garbage_on_the_wire_is_refused() -> None:
    with pytest.raises(WireError, match="bad message header"):
        FrameReader().feed(b"\x09\x00\x00\x00\x01x")


@given(pts=st.one_of(st.none(), st.integers(-(2**62), 2**62)),
       dts=st.one_of(st.none(), st.integers(-(2**62), 2**62)),
       data=st.binary(max_size=100), audio=st.booleans(), key=st.booleans())
def test_packets_survive_encoding(pts: int | None, dts: int | None, data: bytes,
                                  audio: bool, key: bool) -> None:
    packet = LivePacket(audio, key, pts, dts, 3000, (1, 90000), data, 0.0)
    assert decode_packet(encode_packet(packet), 0.0) == packet


# -- the lag policy -----------------------------------------------------------------------


def video_frame(t: float, key: bool) -> LivePacket:
    return LivePacket(False, key, round(t * 90000), round(t * 90000), 3000, (1, 90000),
                      b"x", t)


def test_a_viewer_starts_on_a_keyframe_and_a_slow_one_skips_then_is_dropped() -> None:
    policy = LagPolicy(max_lag_s=1.0, max_skips=2, skip_window_s=60)
    fast, slow = Viewer("c", lambda: None, policy), Viewer("c", lambda: None, policy)
    for n in range(30 * 20):  # 20 s at 30 fps, a keyframe every second
        t = n / 30
        packet = video_frame(t, key=n % 30 == 5)
        fast.push(packet, t)
        slow.push(packet, t)
        taken = fast.take()
        assert all(p is packet for p in taken)
    assert fast.packets_out == 30 * 20 - 5 and fast.skipped == 0 and not fast.closed
    assert slow.closed and "too slow" in slow.closed
    assert slow.skipped > 0


def test_a_viewer_that_catches_up_resumes_at_a_keyframe() -> None:
    viewer = Viewer("c", lambda: None, LagPolicy(max_lag_s=0.5, max_skips=5))
    for n in range(46):  # never taken: at 0.53 s the first 16 frames are 0.5 s old
        viewer.push(video_frame(n / 30, key=n % 30 == 0), n / 30)
    queued = viewer.take()
    assert viewer.skipped == 16
    assert queued[0].keyframe and queued[0].pts == 30 * 3000  # the next keyframe
    assert len(queued) == 16 and not viewer.closed


# -- with the real supervisor -------------------------------------------------------------


@pytest.mark.slow
def test_viewers_get_decodable_video_from_a_keyframe_without_slowing_the_recording(
        tmp_path: Path, cameras: SimCameraServer) -> None:
    document = appliance_document({"cam1": cameras.url(1, "main"),
                                   "cam2": cameras.url(2, "main")}, segment_seconds=10)
    # cam2 relays its sub stream, cam1 (no sub) its main stream
    document["cameras"][1]["sub"] = cameras.url(2, "sub")
    config = write_toml(tmp_path / "nvr.toml", document)
    with running_supervisor(config) as supervisor:
        hub = supervisor.live
        wait_for(lambda: all(s["has_stream"] for s in hub.stats().values())
                 and len(hub.stats()) == 2, 30, "both live feeds")
        time.sleep(1.5)  # a GOP kept in the worker
        # with nobody watching, nothing crosses to the hub (only the streams' info)
        assert all(s["packets_in"] == 0 for s in hub.stats().values()), hub.stats()
        woken = threading.Event()
        started = time.monotonic()
        watcher = hub.subscribe("cam1", woken.set)
        first = wait_for(watcher.take, 1.0, "the kept GOP", interval=0.01)
        # a new viewer starts at once, from the kept keyframe
        assert first[0].keyframe and not first[0].audio
        assert time.monotonic() - started < 0.5
        stalled = hub.subscribe("cam1", lambda: None)  # never takes anything
        sub_viewer = hub.subscribe("cam2", lambda: None)
        packets, sub_packets = list(first), []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            woken.wait(0.5)
            woken.clear()
            packets += watcher.take()
            sub_packets += sub_viewer.take()
        video = [p for p in packets if not p.audio]
        seconds = (video[-1].pts - video[0].pts) * video[0].time_base[0] / \
            video[0].time_base[1]
        gaps = [(b.pts - a.pts) for a, b in itertools.pairwise(video)
                 if b.pts - a.pts != video[1].pts - video[0].pts]
        assert seconds > 7 and len(video) == pytest.approx(seconds * 30, abs=3), \
            (gaps, watcher.skipped, hub.stats())
        assert watcher.info is not None and watcher.info.source == "main"
        assert decoded_frames(watcher.info, packets) >= len(video) - 3
        assert stalled.closed and "too slow" in stalled.closed
        assert not watcher.closed and watcher.skipped == 0
        assert not sub_viewer.closed
        assert sub_viewer.info is not None and sub_viewer.info.source == "sub"
        assert sub_packets and sub_packets[0].keyframe
        assert sum(not p.audio for p in sub_packets) > 200
        hub.unsubscribe(watcher)
        hub.unsubscribe(sub_viewer)
        assert hub.stats()["cam1"]["viewers"] == 0
        segments = wait_for(lambda: supervisor.cameras["cam1"].segments >= 1, 20, "a segment")
        assert segments
    cam1 = supervisor.cameras["cam1"]
    assert cam1.counters.get("rejected", 0) == 0
