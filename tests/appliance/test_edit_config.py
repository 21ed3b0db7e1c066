"""appliance.edit_config: read-modify-write changes made at the same moment each keep the
others' (two cameras adopted at once both land), and a refused edit writes nothing."""

from __future__ import annotations

import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from nvr_edge import ControlError

EXTRA = 6


def appended(n: int) -> Any:
    def edit(document: dict[str, Any]) -> dict[str, Any]:
        cameras = document.get("cameras", [])
        time.sleep(0.05)  # the window in which a patch built from an earlier read loses
        return {**document, "cameras": [*cameras, {
            "id": f"extra{n}", "main": f"rtsp://127.0.0.1:9/extra{n}", "enabled": False}]}
    return edit


def test_concurrent_appends_all_land_in_the_running_config_and_the_file(
        nvr_appliance: Any) -> None:
    handle = nvr_appliance.handle
    with ThreadPoolExecutor(EXTRA) as pool:
        changes = list(pool.map(lambda n: handle.edit_config(appended(n)), range(EXTRA)))
    wanted = {f"extra{n}" for n in range(EXTRA)}
    assert sorted(c for change in changes for c in change.added) == sorted(wanted)
    assert wanted | {"cam1"} == {c.id for c in nvr_appliance.config.cameras}
    on_disk = tomllib.loads(nvr_appliance.config_path.read_text())
    assert wanted | {"cam1"} == {c["id"] for c in on_disk["cameras"]}


def test_a_refused_edit_changes_nothing(nvr_appliance: Any) -> None:
    before = nvr_appliance.config_path.read_bytes()

    def refuse(document: dict[str, Any]) -> dict[str, Any]:
        document["cameras"].clear()  # a copy: the running document is not touched
        raise ControlError("camera id 'cam1' is taken")

    with pytest.raises(ControlError, match="'cam1' is taken"):
        nvr_appliance.handle.edit_config(refuse)
    assert nvr_appliance.config_path.read_bytes() == before
    assert [c.id for c in nvr_appliance.config.cameras] == ["cam1"]
    assert nvr_appliance.config.document["cameras"][0]["id"] == "cam1"
