"""`live = "on_demand"` in the real appliance: a camera with a sub stream that nobody watches
is not pulled; a live viewer (WHEP, or LL-HLS) makes the appliance open it, and it is let go
a linger after the last viewer left; `live = "always"` keeps its sub stream open. The
simulated camera server's log says when each /camN/sub media runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from nvr_edge_testing.simcam import Clip
from nvr_edge_testing.waiting import free_port
from web_box import WEBRTC, Box, base, probe, started_box, streaming, viewers_now, web_table
from web_hls import fetch_segment
from web_whep import Viewing, watch

from nvr_edge.camera.sub_relay import LINGER_S
from tests.helpers import wait_for
from tests.live.on_demand import SUB_SIZE, MountLog, sim_cameras, write_live_config

pytestmark = pytest.mark.slow
RETRY_S = 2.0        # what the 503's Retry-After asks
WATCH_S = 2.0


@dataclass
class Site:
    box: Box
    on_demand: MountLog   # /cam1/sub: live = "on_demand"
    always: MountLog      # /cam2/sub: live = "always"


@contextmanager
def running_site(folder: Path, clip_cache: Path, main: Clip, sub: Clip) -> Iterator[Site]:
    """The appliance with [web] and [webrtc] on loopback; cam1 on demand, cam2 always,
    both with a sub stream (a 320x180 clip, so a picture shows which stream it is)."""
    from nvr_edge_web.webrtc import ice

    ice.offer_addresses(("127.0.0.1",))
    port = free_port()
    log = folder / "cameras.log"
    with sim_cameras(clip_cache, 2, main, sub, log) as cameras:
        path = write_live_config(folder / "nvr.toml", cameras, {1: "on_demand", 2: "always"},
                                 extra=web_table(port) + WEBRTC)
        with started_box(path, port) as box:
            site = Site(box, MountLog(log, "/cam1/sub"), MountLog(log, "/cam2/sub"))
            # cam2's sub is pulled with nobody watching; cam1 records its main meanwhile
            site.always.wait("started", 1, 30)
            wait_for(lambda: streaming(site.box, "cam2"), 30, "cam2's sub stream in the relay")
            MountLog(log, "/cam1/main").wait("started", 1, 30)
            yield site


@pytest.fixture
def site(tmp_path: Path, clip_cache: Path, small_clip: Clip, sub_clip: Clip) -> Iterator[Site]:
    with running_site(tmp_path, clip_cache, small_clip, sub_clip) as made:
        yield made


async def watch_when_ready(box: Box, camera: str, seconds: float,
                           patience: float) -> tuple[Viewing, float | None, int]:
    """Like a browser's page: POST the offer, and again after Retry-After while the answer
    is a 503 (no stream yet), for up to `patience` s. Returns the last viewing, the time
    from the first POST to the first decoded frame, and how many POSTs it took."""
    token = box.token(["view"], [camera])
    started = time.monotonic()
    posts = 0
    while True:
        posted = time.monotonic()
        seen = await watch(base(box), camera, token, seconds)
        posts += 1
        if seen.status != 503 or time.monotonic() - started > patience:
            break
        await asyncio.sleep(RETRY_S)
    first = None if seen.first_frame_s is None else posted - started + seen.first_frame_s
    return seen, first, posts


def test_a_whep_viewer_opens_the_on_demand_sub_stream_which_lingers_then_closes(
        site: Site) -> None:
    box = site.box
    time.sleep(2)
    assert site.on_demand.events() == [], "cam1's sub stream was pulled with no viewer"
    listed = box.get("/api/cameras", box.token(["view"], ["cam1"])).json()["cameras"][0]
    assert listed["live"]["mode"] == "on_demand" and listed["live"]["streaming"] is False

    seen, first_s, posts = asyncio.run(watch_when_ready(box, "cam1", WATCH_S, patience=10))
    assert seen.status == 201, (posts, seen.status, seen.error[:300], site.on_demand.events())
    left = time.monotonic()  # watch() DELETEd the session
    assert first_s is not None
    print(f"LATENCY on_demand whep: first POST to first decoded frame {first_s * 1000:.0f} ms "
          f"({posts} POST(s); the sub stream's RTSP session opened on demand)")
    assert first_s <= 5.0
    assert posts == 1  # the POST waited for the stream it woke, no 503 and retry
    assert seen.sizes == {SUB_SIZE}, seen.sizes  # the sub stream, not the main
    assert seen.frames >= 25 * WATCH_S and not seen.error, (seen.frames, seen.error)
    assert site.on_demand.events() == ["started"]

    stopped = site.on_demand.wait("stopped", 1, LINGER_S + 15)
    print(f"on_demand whep: sub stream released {stopped - left:.1f} s after the viewer left")
    assert LINGER_S - 0.5 <= stopped - left <= LINGER_S + 5
    assert viewers_now(box) == 0
    assert site.always.events() == ["started"]  # "always" never let go of cam2's


def test_always_keeps_the_sub_stream_and_a_viewer_starts_at_once(site: Site) -> None:
    box = site.box
    seen, first_s, posts = asyncio.run(watch_when_ready(box, "cam2", WATCH_S, patience=10))
    assert seen.status == 201, (posts, seen.status, seen.error[:300])
    left = time.monotonic()
    assert first_s is not None
    print(f"LATENCY always whep: first POST to first decoded frame {first_s * 1000:.0f} ms")
    assert posts == 1 and first_s <= 1.0  # the session was open: the cached GOP at once
    assert seen.sizes == {SUB_SIZE}, seen.sizes
    assert seen.frames >= 25 * WATCH_S and not seen.error, (seen.frames, seen.error)
    # longer than the linger after its viewer left: cam2's sub is still open
    wait_for(lambda: time.monotonic() - left > LINGER_S + 3, LINGER_S + 10, "the linger")
    assert site.always.events() == ["started"], site.always.events()
    assert viewers_now(box, "cam2") == 0
    # nobody watched cam1 all along: its sub was never opened
    assert site.on_demand.events() == [], site.on_demand.events()


def test_an_ll_hls_request_opens_the_on_demand_sub_stream(site: Site, tmp_path: Path) -> None:
    box = site.box
    time.sleep(2)
    assert site.on_demand.events() == [], "cam1's sub stream was pulled with no viewer"
    listed = box.get("/api/cameras", box.token(["view"], ["cam1"])).json()["cameras"][0]
    assert listed["live"]["mode"] == "on_demand" and listed["live"]["streaming"] is False
    token = box.token(["view"], ["cam1"])
    segment = fetch_segment(box, "cam1", token, timeout=20)
    print(f"LATENCY on_demand ll-hls: first playlist request to a playlist "
          f"{segment.waited_s * 1000:.0f} ms (the sub stream's RTSP session opened on demand)")
    assert segment.waited_s <= 8.0
    assert site.on_demand.events() == ["started"]
    video = probe(segment.init + segment.media, tmp_path)["h264"]
    assert (video["width"], video["height"]) == SUB_SIZE, video
    assert abs(int(video["nb_read_frames"]) - segment.duration * 30) <= 1, video
