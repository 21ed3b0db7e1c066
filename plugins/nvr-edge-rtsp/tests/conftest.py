"""Fixtures of the RTSP plugin's tests: one appliance with simulated cameras per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nvr_edge_testing.simcam.clip import Clip
from rtsp_box import Restream, running_restream


@pytest.fixture(scope="module")
def restream(tmp_path_factory: pytest.TempPathFactory, nvr_clip_cache: Path,
             nvr_clip: Clip) -> Iterator[Restream]:
    with running_restream(tmp_path_factory.mktemp("rtsp"), nvr_clip_cache, nvr_clip,
                          {"max_buffer_bytes": 65536, "stall_timeout_s": 2.0}) as box:
        yield box
