"""What check-config accepts must run: camera URLs with an upper-case scheme, or a password
written unencoded with quotes, blanks, ':' and '@', record."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nvr_edge_testing.appliance import running_supervisor
from nvr_edge_testing.configs import appliance_document, write_toml
from nvr_edge_testing.simcam import Clip, SimCameraServer
from nvr_edge_testing.waiting import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any]) -> dict[str, Any]:
    camera = nvr_config["cameras"][0]
    camera["main"] = "RTSP" + camera["main"].removeprefix("rtsp")
    return nvr_config


def test_an_upper_case_scheme_is_recorded(nvr_appliance: Any) -> None:
    assert nvr_appliance.config.document["cameras"][0]["main"].startswith("RTSP://")
    wait_for(lambda: nvr_appliance.status().get("cameras", {}).get("cam1", {})
             .get("state") == "online", 60, "cam1 online")


@pytest.mark.parametrize("password", ["p@ss w'rd:x", 'q"u o@te'])
def test_a_password_of_any_shape_written_as_is_is_recorded(
        tmp_path: Path, nvr_clip_cache: Path, nvr_clip: Clip, password: str) -> None:
    with SimCameraServer(nvr_clip_cache, user="admin", password=password, main=nvr_clip,
                         sub=nvr_clip) as cameras:
        url = cameras.url(1).replace(quote(password, safe=""), password)
        assert password in url  # unencoded, as an operator would write it
        config = write_toml(tmp_path / "nvr.toml",
                            appliance_document({"cam1": url}, segment_seconds=10))
        with running_supervisor(config) as supervisor:
            wait_for(lambda: supervisor.status().get("cameras", {}).get("cam1", {})
                     .get("state") == "online", 60, "cam1 online")
