"""`nvr-edge discover` with plugins that find cameras (no network: fakes only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nvr_edge import CameraCandidate, CandidateStream, DiscoveryRequest, hookimpl
from nvr_edge.candidates import display_url
from nvr_edge.cli import build_parser, discover
from nvr_edge.plugins import make_plugin_manager

STREAM = CandidateStream("Main", "main", "H264", 1920, 1080, 25.0,
                         "rtsp://192.0.2.5:554/Streaming/101")


class Finder:
    def __init__(self, *found: CameraCandidate) -> None:
        self.found = found
        self.requests: list[DiscoveryRequest] = []

    @hookimpl
    def nvr_camera_candidates(self, request: DiscoveryRequest) -> list[CameraCandidate]:
        self.requests.append(request)
        return list(self.found)


class Broken:
    @hookimpl
    def nvr_camera_candidates(self, request: DiscoveryRequest) -> list[CameraCandidate]:
        raise RuntimeError("vendor API down")


def run(tmp_path: Path, *plugins: object, args: tuple[str, ...] = ()) -> int:
    pm = make_plugin_manager(load_entry_points=False)
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"finder{i}")
    return discover.run(build_parser(pm).parse_args(["discover", *args]), pm)


def test_candidates_of_every_plugin_merged_by_id_password_never_shown(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = Finder(CameraCandidate("urn:uuid:1", "onvif", "192.0.2.5", "Door", "Acme", "X1",
                                   (STREAM,)))
    second = Finder(CameraCandidate("urn:uuid:1", "onvif", "192.0.2.5", "dup"),
                    CameraCandidate("usb-cam", "v4l2", "/dev/video0"))
    password = tmp_path / "pw"
    password.write_text("hunter2:@x\n")
    # pluggy calls the last registered first: `first` answers first and wins urn:uuid:1
    code = run(tmp_path, second, Broken(), first,
               args=("--json", "--user", "admin", "--password-file", str(password),
                     "--host", "10.0.0.9", "--timeout", "1.5", "--interface", "eth1"))
    out = capsys.readouterr()
    assert code == 0
    found = json.loads(out.out)
    assert [c["id"] for c in found] == ["usb-cam", "urn:uuid:1"]
    assert found[1]["streams"][0]["url"] == "rtsp://admin:***@192.0.2.5:554/Streaming/101"
    assert "hunter2" not in out.out + out.err
    [request] = first.requests
    assert (request.user, request.password, request.hosts, request.timeout_s,
            request.interfaces) == ("admin", "hunter2:@x", ("10.0.0.9",), 1.5, ("eth1",))
    assert "hunter2" not in repr(request)


def test_text_output_names_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, Finder(
        CameraCandidate("urn:uuid:2", "onvif", "192.0.2.6", "Yard", streams=(STREAM,)),
        CameraCandidate("urn:uuid:3", "onvif", "192.0.2.7", problem="wrong user or password"),
    )) == 0
    out = capsys.readouterr().out
    assert "onvif 192.0.2.6 'Yard'" in out
    assert "main Main: H264 1920x1080 25 fps rtsp://192.0.2.5:554/Streaming/101" in out
    assert "problem: wrong user or password" in out
    assert out.endswith("2 camera(s) found\n")


@pytest.mark.parametrize("args", [("--user", "admin"), ("--timeout", "0"),
                                  ("--user", "a", "--password-file", "/nonexistent/pw")])
def test_bad_arguments_are_refused(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert run(tmp_path, Finder(), args=args) == 2


def test_display_url_adds_the_user_and_masks_any_password() -> None:
    assert display_url("rtsp://h/s", "ad@min") == "rtsp://ad%40min:***@h/s"
    assert display_url("rtsp://u:p@h/s", "other") == "rtsp://u:***@h/s"
    assert display_url("rtsp://h/s", None) == "rtsp://h/s"
