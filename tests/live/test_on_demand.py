"""`live = "on_demand"` and `"always"` for a camera with a sub stream, with the real
supervisor, worker processes and simulated camera server: the camera server's own log says
when its /camN/sub media is pulled, the hub says what a viewer gets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from nvr_edge_testing.simcam import Clip

from nvr_edge.camera.sub_relay import LINGER_S
from nvr_edge.live.hub import LiveHub, Viewer
from nvr_edge.live.wire import LivePacket

from ..helpers import running_supervisor, wait_for
from ..media import decoded_frames
from .on_demand import (
    GOP_S,
    SUB_SIZE,
    MountLog,
    make_sub_clip,
    sim_cameras,
    watch_feed,
    write_live_config,
)


@pytest.fixture(scope="session")
def sub_clip(clip_cache: Path) -> Clip:
    return make_sub_clip(clip_cache)


def check_sub_video(viewer: Viewer, packets: list[LivePacket], seconds: float) -> None:
    video = [p for p in packets if not p.audio]
    assert video and video[0].keyframe, packets[:3]
    info = viewer.info
    assert info is not None and info.source == "sub", info
    assert (info.width, info.height) == SUB_SIZE, info
    assert len(video) >= 25 * seconds, (len(video), viewer.skipped)
    assert decoded_frames(info, packets) >= len(video) - 3


@pytest.mark.slow
def test_on_demand_pulls_the_sub_stream_only_while_watched_and_always_keeps_it(
        tmp_path: Path, clip_cache: Path, small_clip: Clip, sub_clip: Clip) -> None:
    log = tmp_path / "cameras.log"
    with sim_cameras(clip_cache, 2, small_clip, sub_clip, log) as cameras:
        config = write_live_config(tmp_path / "nvr.toml", cameras,
                                   {1: "on_demand", 2: "always"})
        on_demand, always = MountLog(log, "/cam1/sub"), MountLog(log, "/cam2/sub")
        with running_supervisor(config) as supervisor:
            hub: LiveHub = supervisor.live
            # "always": cam2's sub is pulled with nobody watching
            always.wait("started", 1, 30)
            wait_for(lambda: hub.stats().get("cam2", {}).get("has_stream"), 20,
                     "cam2's sub stream in the relay")
            MountLog(log, "/cam1/main").wait("started", 1, 30)  # cam1 records meanwhile
            time.sleep(2)
            # "on_demand", nobody watching: cam1's sub is never opened
            assert on_demand.events() == [], on_demand.events()
            assert hub.stats()["cam1"]["packets_in"] == 0, hub.stats()

            # the first viewer opens it, and gets the sub stream from a keyframe
            viewer, packets, first_s = watch_feed(hub, "cam1", 3.0)
            assert first_s is not None, (on_demand.events(), hub.stats())
            print(f"LATENCY on_demand relay: subscribe to first packet {first_s * 1000:.0f} ms "
                  "(the RTSP session opened on demand)")
            assert first_s <= 5.0
            assert on_demand.events() == ["started"]
            check_sub_video(viewer, packets, 3.0)

            # a viewer back within the linger finds the session still open
            time.sleep(3)
            viewer, packets, first_s = watch_feed(hub, "cam1", 1.0)
            assert first_s is not None and first_s <= 2.0, first_s  # at most a GOP away
            check_sub_video(viewer, packets, 1.0)
            assert on_demand.events() == ["started"]
            left = time.monotonic()  # watch_feed unsubscribed: the last viewer left

            # kept while the linger lasts (counted from the last viewer), then released
            stopped = on_demand.wait("stopped", 1, LINGER_S + 15)
            print(f"on_demand relay: sub stream released {stopped - left:.1f} s after the "
                  f"last viewer left (linger {LINGER_S:.0f} s)")
            assert LINGER_S - 0.5 <= stopped - left <= LINGER_S + 5
            assert on_demand.events() == ["started", "stopped"]

            # "always" was never let go, with or without its viewer
            viewer, packets, first_s = watch_feed(hub, "cam2", 1.0)
            assert first_s is not None and first_s <= 1.0, first_s  # from the cached GOP
            check_sub_video(viewer, packets, 1.0)
            assert always.events() == ["started"]
            time.sleep(2)
            assert always.events() == ["started"] and hub.stats()["cam2"]["has_stream"]
            # and cam1's recording went on through all this
            assert supervisor.cameras["cam1"].segments >= 1 or wait_for(
                lambda: supervisor.cameras["cam1"].segments >= 1, 20, "a cam1 segment")


@pytest.mark.slow
def test_a_returning_viewer_gets_no_video_from_before_it_came(
        tmp_path: Path, clip_cache: Path, small_clip: Clip, sub_clip: Clip) -> None:
    log = tmp_path / "cameras.log"
    with sim_cameras(clip_cache, 1, small_clip, sub_clip, log) as cameras:
        config = write_live_config(tmp_path / "nvr.toml", cameras, {1: "on_demand"})
        on_demand = MountLog(log, "/cam1/sub")
        with running_supervisor(config) as supervisor:
            hub: LiveHub = supervisor.live
            # the viewer leaves just after a keyframe: the relay's cached GOP is short
            _, packets, first_s = watch_feed(hub, "cam1", 1.0, leave_on_keyframe=True)
            assert first_s is not None and packets

            time.sleep(3)  # back within the linger: the session is open, not forwarded
            came = time.monotonic()
            resumed, packets, first_s = watch_feed(hub, "cam1", 1.0, leave_on_keyframe=True)
            assert first_s is not None
            resumed_ages = [round(came - p.arrival, 1) for p in packets[:3]]

            on_demand.wait("stopped", 1, LINGER_S + 15)
            came = time.monotonic()
            reopened, packets, first_s = watch_feed(hub, "cam1", 1.0)
            assert first_s is not None
            reopened_ages = [round(came - p.arrival, 1) for p in packets[:3]]
            assert on_demand.events() == ["started", "stopped", "started"]

            print(f"returning viewers: first packets' age at arrival (s): within the linger "
                  f"{resumed_ages} ({resumed.skipped} skipped), after the release "
                  f"{reopened_ages} ({reopened.skipped} skipped)")
            # a live viewer starts at most a GOP (1 s here) back, and without a lag skip
            assert max(resumed_ages) <= GOP_S + 0.5 and resumed.skipped == 0, \
                ("back within the linger", resumed_ages, resumed.skipped)
            assert max(reopened_ages) <= GOP_S + 0.5 and reopened.skipped == 0, \
                ("back after the release", reopened_ages, reopened.skipped)
