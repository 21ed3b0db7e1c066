"""Transcoded rungs as hub streams, for real: the supervisor, its worker processes and the
simulated camera server on loopback; the worker decodes the live source (640x360 30 fps)
and encodes the 240p rung with libx264 only while it is watched. The rung's packets are
decoded back with PyAV; the software budget and the ladder refuse, by name."""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest
from nvr_edge_testing.simcam import SimCameraServer

from nvr_edge.camera.rungs import LINGER_S
from nvr_edge.camera.worker import STATS_INTERVAL_S
from nvr_edge.encode import handover
from nvr_edge.encode.offer import EncoderOffer, Engine
from nvr_edge.encode.software import open_software
from nvr_edge.live.hub import LiveHub
from nvr_edge.live.ladder import RUNG_FPS
from nvr_edge.plugins import load_config

from ..helpers import running_supervisor, wait_for, write_config
from .on_demand import watch_feed

WATCH_S = 4.0
# one 240p rung (426 x 240 x 25 = 2.56 M pixels/s) fits, a second camera's does not
BUDGET = 3_000_000


@pytest.mark.slow
def test_the_240p_rung_is_encoded_while_watched_and_the_budget_refuses_by_name(
        tmp_path: Path, cameras: SimCameraServer) -> None:
    config_path = write_config(
        tmp_path / "nvr.toml", {"cam1": cameras.url(1), "cam2": cameras.url(2)},
        extra=f"[encoders]\nrung_budget_pixels_per_s = {BUDGET}\n")
    # the encoders' probe is not what this tests: libx264 is handed over as if it passed
    state_dir = load_config(config_path).storage.state_dir
    handover.publish(state_dir, [EncoderOffer("libx264", Engine.SOFTWARE, open_software,
                                              options={"preset": "superfast"})])
    with running_supervisor(config_path) as supervisor:
        hub: LiveHub = supervisor.live
        for cam in ("cam1", "cam2"):
            wait_for(lambda c=cam: hub.info(c), 30, f"{cam}'s live stream in the hub")
        # the ladder: the 640x360 main stream passed through, 240p below it; no 360p
        rungs = {r["name"]: r for r in hub.rungs("cam1")}
        assert list(rungs) == ["main", "240p"], rungs
        assert (rungs["240p"]["width"], rungs["240p"]["height"], rungs["240p"]["kbps"]) \
            == (426, 240, 250)
        assert rungs["240p"]["available"] and rungs["main"]["available"], rungs
        refused = hub.subscribe("cam1", lambda: None, "360p")
        assert refused.closed == "unavailable: not below the camera's live stream (it is " \
            "no larger)", refused.closed
        # unwatched: no encoder opened, no frame encoded (the worker's own counters)
        stats = wait_for(lambda: supervisor.cameras["cam1"].rungs, 20, "cam1's rung stats")
        assert stats["240p"] == {"running": False, "encoder": None, "frames": 0,
                                 "viewed": False, "failed": ""}, stats

        # watched (a first viewer holds it throughout): the budget is taken, cam2's rung
        # would overrun it
        holder = hub.subscribe("cam1", lambda: None, "240p")
        assert holder.closed is None, holder.closed
        other = hub.subscribe("cam2", lambda: None, "240p")
        assert other.closed is not None and other.closed.startswith(
            "unavailable: over the software encoding budget"), other.closed
        api = {r["name"]: r for r in hub.rungs("cam2")}
        assert not api["240p"]["available"] and "budget" in api["240p"]["reason"], api

        # decodable 426x240 H.264 at the rung's rate, from a keyframe
        viewer, packets, _ = watch_feed(hub, "cam1", WATCH_S, timeout=20, stream="240p")
        info = viewer.info
        assert info is not None and (info.video_codec, info.width, info.height) == \
            ("h264", 426, 240), info
        assert packets and packets[0].keyframe, packets[:2]
        decoder = av.CodecContext.create("h264", "r")
        decoder.extradata = info.video_extradata
        frames = [f for p in packets for f in decoder.decode(av.Packet(p.data))]
        assert {(f.width, f.height) for f in frames} == {(426, 240)}
        assert len(frames) >= len(packets) - 2, (len(frames), len(packets))
        span_s = (packets[-1].pts - packets[0].pts) * info.video_time_base[0] \
            / info.video_time_base[1]
        fps = (len(packets) - 1) / span_s
        kbps = sum(len(p.data) for p in packets) * 8 / 1000 / span_s
        keyframes = [p for p in packets if p.keyframe]
        print(f"240p rung: {fps:.1f} fps, {kbps:.0f} kbit/s, {len(keyframes)} keyframes "
              f"in {span_s:.1f} s")
        assert RUNG_FPS * 0.8 <= fps <= RUNG_FPS * 1.1, fps
        assert 100 <= kbps <= 250 * 2, kbps  # rate control settles within a few seconds
        assert len(keyframes) >= span_s * 0.8, len(keyframes)  # a keyframe every ~1 s

        stats = wait_for(lambda: supervisor.cameras["cam1"].rungs["240p"]["frames"] > 0
                         and supervisor.cameras["cam1"].rungs, 10, "cam1's encoded frames")
        assert stats["240p"]["encoder"] in ("libx264", None), stats  # (None: it lingered out)
        assert supervisor.cameras["cam2"].rungs["240p"]["frames"] == 0
        # cam1's viewers left: the budget is free again for cam2
        hub.unsubscribe(holder)
        assert hub.rungs("cam2")[-1]["available"], hub.rungs("cam2")
        # and the worker closes the rung's encoder a linger after its last viewer
        left = time.monotonic()
        wait_for(lambda: not supervisor.cameras["cam1"].rungs["240p"]["running"],
                 LINGER_S + STATS_INTERVAL_S + 10, "cam1's 240p encoder closed")
        print(f"240p rung: encoder closed {time.monotonic() - left:.1f} s after the last "
              f"viewer left (linger {LINGER_S:.0f} s, stats every {STATS_INTERVAL_S:.0f} s)")
        assert time.monotonic() - left >= LINGER_S - 1
