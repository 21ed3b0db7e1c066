"""The plugin's pyudev code against a umockdev device tree: enumeration keeps capture nodes
only, and add/remove uevents from either source (udev, kernel) reach the watcher. Each
scenario runs in a process under `umockdev-wrapper` (v4l2_scenario.py); the plugin's real
ioctl(2) calls are answered by umockdev's ioctl emulation, with the fakes of v4l2_fakes.py
behind it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCENARIO = Path(__file__).resolve().parent / "v4l2_scenario.py"

pytestmark = pytest.mark.skipif(shutil.which("umockdev-wrapper") is None,
                                reason="umockdev is not installed (bash ci/setup)")


def run(scenario: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(["umockdev-wrapper", sys.executable, str(SCENARIO), scenario, *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_enumeration_offers_capture_nodes_only_with_their_modes() -> None:
    result = run("enumerate")
    by_id = {c["id"]: c for c in result["candidates"]}
    # the metadata node and the codec node are no cameras
    assert sorted(by_id) == ["v4l2:usb-Fake_Webcam_A1-video-index0",
                             "v4l2:usb-Liar_L1-video-index0", "v4l2:video2"]
    # udev's ID_V4L_CAPABILITIES kept the metadata node closed; the codec node took a QUERYCAP
    assert result["ioctl_calls"]["meta"] == 0
    assert result["ioctl_calls"]["m2m"] == 1

    webcam = by_id["v4l2:usb-Fake_Webcam_A1-video-index0"]
    assert webcam["kind"] == "v4l2"
    assert webcam["address"] == "/dev/v4l/by-id/usb-Fake_Webcam_A1-video-index0"
    assert (webcam["manufacturer"], webcam["model"]) == ("Fake", "webcam")
    modes = [(s["codec"], s["width"], s["height"], s["fps"]) for s in webcam["streams"]]
    assert sorted(modes) == sorted([
        ("mjpeg", 1920, 1080, 30.0), ("mjpeg", 1920, 1080, 15.0), ("mjpeg", 1280, 720, 30.0),
        ("mjpeg", 640, 480, 30.0), ("yuyv", 640, 480, 30.0), ("yuyv", 320, 240, 30.0)])
    main = [s for s in webcam["streams"] if s["role"] == "main"]
    assert [(s["codec"], s["width"], s["fps"]) for s in main] == [("mjpeg", 1920, 30.0)]
    assert main[0]["url"] == ("v4l2:/dev/v4l/by-id/usb-Fake_Webcam_A1-video-index0"
                              "?fourcc=MJPG&width=1920&height=1080&fps=30")
    assert "needs an encoder" in webcam["problem"]

    # no udev properties (as with kernel events): the node name is the id, H.264 the main
    h264 = by_id["v4l2:video2"]
    assert h264["address"] == "/dev/video2"
    main = [s for s in h264["streams"] if s["role"] == "main"]
    assert [(s["codec"], s["width"], s["fps"]) for s in main] == [("h264", 1920, 30.0)]
    assert "encoder" not in h264["problem"]

    # a driver answering for the wrong index: offered without streams, the problem named
    liar = by_id["v4l2:usb-Liar_L1-video-index0"]
    assert liar["streams"] == []
    assert liar["problem"] == "ENUM_FMT: asked for format 0, got 7"

    # status part "v4l2": only while the appliance runs the watcher
    idle, running, stopped = result["status"]
    assert idle is None and stopped is None
    assert running["v4l2"]["source"] == "kernel"
    assert [(d["id"], d["node"], d["modes"]) for d in running["v4l2"]["devices"]] == [
        ("usb-Fake_Webcam_A1-video-index0", "/dev/video0", 6),
        ("usb-Liar_L1-video-index0", "/dev/video6", 0), ("video2", "/dev/video2", 4)]


@pytest.mark.parametrize("source", ["udev", "kernel"])
def test_the_watcher_follows_add_and_remove(source: str) -> None:
    result = run(source)
    assert result["at_start"] == ["usb-Fake_Webcam_A1-video-index0"]
    # udev names it by ID_SERIAL (no by-id link here); the kernel source knows only the node
    new = "Fake_h264_1-3-video-index0" if source == "udev" else "video4"
    assert result["added"] == ["add", new]
    assert sorted(result["after_add"]) == sorted([new, "usb-Fake_Webcam_A1-video-index0"])
    assert sorted(result["modes"]) == [4, 6]  # probed through ioctls: H.264 camera, webcam
    assert result["removed"] == ["remove", new]
    assert result["after_remove"] == ["usb-Fake_Webcam_A1-video-index0"]
    # the metadata node added beside it and the repeated "add" told nothing
    assert result["other_events"] == []


def test_nvr_edge_discover_lists_them_and_adds_no_credentials(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("hunter2\n")
    result = run("discover", str(password))
    assert result["codes"] == [0, 0]
    found = result["json"]
    assert [c["id"] for c in found] == ["v4l2:usb-Fake_Webcam_A1-video-index0",
                                        "v4l2:usb-Liar_L1-video-index0",
                                        "v4l2:video2"]  # sorted by address
    urls = [s["url"] for c in found for s in c["streams"]]
    assert urls and all(u.startswith("v4l2:/dev/") for u in urls)  # no user, no password
    assert "hunter2" not in json.dumps(found) + result["text"]
    text = result["text"]
    assert ("v4l2 /dev/v4l/by-id/usb-Fake_Webcam_A1-video-index0 'Fake webcam' Fake webcam "
            "(v4l2:usb-Fake_Webcam_A1-video-index0)") in text
    assert ("  main mjpeg 1920x1080@30: mjpeg 1920x1080 30 fps "
            "v4l2:/dev/v4l/by-id/usb-Fake_Webcam_A1-video-index0"
            "?fourcc=MJPG&width=1920&height=1080&fps=30") in text
    assert "problem: ENUM_FMT: asked for format 0, got 7" in text
    assert "3 camera(s) found" in text


def test_an_adopted_webcam_is_woken_when_unplugged_and_plugged_back() -> None:
    """adopt_usb_camera writes the proposed main stream (no credentials); the watcher's
    remove and add events wake that camera's worker (retry_camera: no restart; the worker
    says OFFLINE / camera_unplugged, or records again: tests/camera/test_v4l2_source.py)."""
    result = run("adopted")
    adopted = result["adopted"]
    url = "v4l2:/dev/v4l/by-id/usb-Fake_Webcam_A1-video-index0?fourcc=MJPG"
    assert adopted["main"].startswith(url) and "@" not in adopted["main"]
    assert adopted["added"] == [adopted["camera"]]
    assert "adopted already" in result["adopted_twice"]
    assert result["unplugged"] == adopted["camera"]
    assert result["plugged"] == adopted["camera"]
    assert result["other_retries"] == []
