"""The `[v4l2]` section (declared keys, their docs) and what the plugin offers without a
device tree: candidates and the choice of main stream."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nvr_edge_v4l2.candidates import candidate, proposed_main
from nvr_edge_v4l2.nodes import VideoNode, video_node
from nvr_edge_v4l2.probe import DeviceReport, Mode
from nvr_edge_v4l2.settings import V4l2Settings, read_v4l2
from nvr_edge_v4l2.structs import Capability
from nvr_edge_v4l2.watcher import Present

from nvr_edge import ConfigError, ConfigTable, describe_section

CONFIG_MD = Path(__file__).resolve().parents[3] / "docs" / "CONFIG.md"


def table(data: dict[str, object]) -> ConfigTable:
    return ConfigTable(data, "v4l2", "box.toml", Path("/"))


def test_the_section_reads_its_keys_and_refuses_others() -> None:
    assert read_v4l2(table({})) == V4l2Settings(watch=True, source="udev")
    assert read_v4l2(table({"source": "kernel", "watch": False})) == V4l2Settings(False,
                                                                               "kernel")
    with pytest.raises(ConfigError, match=r"v4l2\.source"):
        read_v4l2(table({"source": "hal"}))
    with pytest.raises(ConfigError, match=r"v4l2\.devices"):
        read_v4l2(table({"devices": []}))


def test_config_md_documents_every_declared_key_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(v4l2\.[a-z_]+)` \| ([^|]+) \|", CONFIG_MD.read_text(),
                           re.MULTILINE))
    declared = {doc.key: doc.default for doc in describe_section(V4l2Settings, "v4l2")}
    assert sorted(rows) == sorted(declared)
    shown = {"true": True, "false": False}
    for key, default in declared.items():
        cell = rows[key].strip()
        assert shown.get(cell, cell.strip('"')) == default, key


def node(**properties: str) -> VideoNode:
    made = video_node("/sys/devices/x/video4linux/video0", "/dev/video0", properties,
                      "Cam", "0")
    assert made is not None
    return made


def test_stable_ids_prefer_by_id_then_serial_then_path() -> None:
    links = "/dev/v4l/by-path/p-video-index0 /dev/v4l/by-id/usb-Acme_C1_42-video-index0"
    assert node(DEVLINKS=links, ID_SERIAL="s").stable_id == "usb-Acme_C1_42-video-index0"
    assert node(DEVLINKS=links).link == "/dev/v4l/by-id/usb-Acme_C1_42-video-index0"
    assert node(ID_SERIAL="Acme_C1_42", ID_PATH="p").stable_id == "Acme_C1_42-video-index0"
    assert node(ID_PATH="pci-0:14.0-usb-0:1").stable_id == "pci-0:14.0-usb-0:1-video-index0"
    # no by-id link (vivid, a CSI camera): the by-path one, stable across rebinds, is
    # what a stream URL names, never /dev/videoN, which another device may take meanwhile
    by_path = node(DEVLINKS="/dev/v4l/by-path/platform-vivid.0-video-index0",
                   ID_PATH="platform-vivid.0")
    assert by_path.stable_id == "platform-vivid.0-video-index0"
    assert by_path.link == "/dev/v4l/by-path/platform-vivid.0-video-index0"
    assert node().stable_id == "video0" and node().link == "/dev/video0"
    assert video_node("/sys/x", None, {}) is None  # no device file: nothing to open


def modes(*items: tuple[str, int, int, float | None]) -> tuple[Mode, ...]:
    return tuple(Mode(*item) for item in items)


def test_main_stream_is_h264_when_offered_else_the_largest_mjpeg() -> None:
    offered = modes(("MJPG", 3840, 2160, 15.0), ("H264", 1280, 720, 30.0),
                    ("H264", 1920, 1080, 30.0), ("YUYV", 3840, 2160, 5.0))
    assert proposed_main(offered) == Mode("H264", 1920, 1080, 30.0)
    offered = modes(("YUYV", 3840, 2160, 5.0), ("MJPG", 1280, 720, 30.0),
                    ("MJPG", 1920, 1080, 15.0), ("MJPG", 1920, 1080, 30.0))
    assert proposed_main(offered) == Mode("MJPG", 1920, 1080, 30.0)
    assert proposed_main(modes(("YUYV", 640, 480, 30.0))) == Mode("YUYV", 640, 480, 30.0)
    assert proposed_main(()) is None


def test_a_device_that_would_not_answer_is_offered_with_its_problem() -> None:
    found = candidate(Present(node(ID_VENDOR="Acme"), None, "QUERYCAP: Input/output error"))
    assert (found.id, found.kind, found.streams) == ("v4l2:video0", "v4l2", ())
    assert found.problem == "QUERYCAP: Input/output error"
    assert found.manufacturer == "Acme"


def test_a_candidate_shows_its_streams_through_the_public_form() -> None:
    report = DeviceReport(Capability("uvcvideo", "Card", "usb-1", 1),
                          modes(("MJPG", 640, 480, None)))
    public = candidate(Present(node(), report)).public(user="admin")
    assert public["streams"] == [{
        "name": "mjpeg 640x480", "role": "main", "codec": "mjpeg", "width": 640,
        "height": 480, "fps": None, "url": "v4l2:/dev/video0?fourcc=MJPG&width=640&height=480"}]
