"""Fixtures of the web plugin's tests: the suite's shared ones, and one running appliance
with [web] per test module (`box`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nvr_edge_testing.simcam import Clip
from web_box import WEBRTC, Box, running_box, streaming

from tests.conftest import cameras, clip_cache, small_clip  # noqa: F401 - shared fixtures
from tests.helpers import wait_for
from tests.live.on_demand import make_sub_clip


@pytest.fixture(scope="session")
def sub_clip(clip_cache: Path) -> Clip:  # noqa: F811 - the shared fixture, requested
    return make_sub_clip(clip_cache)


@pytest.fixture(scope="module")
def box(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        clip_cache: Path) -> Iterator[Box]:  # noqa: F811
    """The module's running appliance. A module sets `BOX_WEBRTC = True` (or to more
    `[webrtc]` lines) for live WebRTC viewers on loopback (the box then waits for cam1's
    live stream), `BOX_CLIP` to the name of another clip fixture than `small_clip`,
    `BOX_WEB` to more `[web]` lines and `BOX_EXTRA` to more tables."""
    clip = request.getfixturevalue(getattr(request.module, "BOX_CLIP", "small_clip"))
    webrtc = getattr(request.module, "BOX_WEBRTC", False)
    if webrtc:
        from nvr_edge_web.webrtc import ice

        ice.offer_addresses(("127.0.0.1",))  # the test's own viewers: loopback, like the box
    webrtc_lines = webrtc if isinstance(webrtc, str) else ""
    extra = (WEBRTC + webrtc_lines if webrtc else "") + getattr(request.module, "BOX_EXTRA",
                                                                 "")
    with running_box(tmp_path_factory.mktemp("web"), clip_cache, clip, extra=extra,
                     web=getattr(request.module, "BOX_WEB", "")) as made:
        if webrtc:
            wait_for(lambda: streaming(made), 60, "cam1's live stream")
        yield made
