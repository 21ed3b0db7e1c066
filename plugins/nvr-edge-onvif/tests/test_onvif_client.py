"""The ONVIF client against the simulated camera's ONVIF face, on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from nvr_edge_onvif.candidates import describe
from nvr_edge_onvif.client import OnvifClient
from nvr_edge_onvif.plugin import OnvifDiscovery
from nvr_edge_onvif.probe import ProbeMatch
from nvr_edge_onvif.snapshot import fetch_snapshot
from nvr_edge_onvif.soap import AuthError, Credentials, OnvifError
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.simcam.onvif import (
    OnvifCamera,
    OnvifFace,
    SimProfile,
    onvif_camera_of,
    snapshot_jpeg,
)
from nvr_edge_testing.waiting import free_port

from nvr_edge import DiscoveryRequest

RTSP = "rtsp://127.0.0.1:8554/cam1"
PASSWORD = "pa55:w@rd<&"  # characters that need escaping in XML and URLs


def face_for(**camera: object) -> OnvifFace:
    sim = OnvifCamera(rtsp=RTSP, user="admin", password=PASSWORD, **camera)  # type: ignore[arg-type]
    return OnvifFace(sim, advertise="127.0.0.1", http_host="127.0.0.1",
                     discovery_port=free_port("127.0.0.1"), multicast=False)


@pytest.fixture
def face() -> Iterator[OnvifFace]:
    with face_for(clock_offset_s=0.0) as running:
        yield running


def test_profiles_and_stream_uris_with_digest_auth(face: OnvifFace) -> None:
    client = OnvifClient(face.device_url, Credentials("admin", PASSWORD), time.monotonic() + 10)
    client.sync_clock()
    info = client.device_information()
    client.find_media_service()
    profiles = client.profiles()
    assert (info.manufacturer, info.model) == ("nvr-edge", "simcam")
    assert client.media_url.endswith("/onvif/media_service")
    assert [(p.token, p.width, p.height, p.fps, p.codec) for p in profiles] == [
        ("main", 1920, 1080, 30.0, "H264"), ("sub", 640, 360, 30.0, "H264")]
    assert client.stream_uri("sub") == f"{RTSP}/sub"


H265_MAIN = (SimProfile("main", 2560, 1440, 25, "main", codec="H265"),
             SimProfile("sub", 640, 360, 15, "sub"))


@pytest.mark.parametrize("media2", [True, False])
def test_h265_profiles_come_through_media2(media2: bool) -> None:
    """Media1 cannot say H.265 (the face leaves such profiles out of it, as cameras do)."""
    with face_for(profiles=H265_MAIN, media2=media2) as face:
        match = ProbeMatch(face.camera.urn, (face.device_url,), (), "127.0.0.1")
        candidate = describe(match, Credentials("admin", PASSWORD), budget_s=3)
    streams = {s.name: (s.role, s.codec, s.width, s.fps, s.url) for s in candidate.streams}
    sub = ("sub", "H264", 640, 15.0, f"{RTSP}/sub")
    if media2:
        assert streams == {"main": ("main", "H265", 2560, 25.0, f"{RTSP}/main"), "sub": sub}
    else:
        assert streams == {"sub": ("main", *sub[1:])}  # the only one left: main


def test_a_camera_clock_hours_off_is_corrected() -> None:
    with face_for(clock_offset_s=-3 * 3600 + 17) as face:
        client = OnvifClient(face.device_url, Credentials("admin", PASSWORD), time.monotonic() + 10)
        with pytest.raises(AuthError, match="time check failed"):
            client.device_information()  # signed with our clock: refused
        offset = client.sync_clock()
        assert offset == pytest.approx(-3 * 3600 + 17, abs=1.5)
        assert client.device_information().model == "simcam"


@pytest.mark.parametrize("password", [PASSWORD, "wrong"])
def test_a_camera_that_wants_http_digest(password: str) -> None:
    with face_for(auth="http-digest") as face:
        match = ProbeMatch(face.camera.urn, (face.device_url,), (), "127.0.0.1")
        candidate = describe(match, Credentials("admin", password), budget_s=3)
    if password == PASSWORD:
        assert candidate.problem == ""
        assert [s.url for s in candidate.streams] == [f"{RTSP}/main", f"{RTSP}/sub"]
    else:
        assert candidate.problem.startswith("wrong user or password")


def test_a_wrong_password_is_named_and_never_shown(face: OnvifFace) -> None:
    match = ProbeMatch(face.camera.urn, (face.device_url,), (), "127.0.0.1")
    candidate = describe(match, Credentials("admin", "not-it"), budget_s=2)
    assert candidate.problem.startswith("wrong user or password")
    assert candidate.streams == ()
    assert "not-it" not in repr(candidate)
    anonymous = describe(match, None, budget_s=2)
    assert anonymous.problem.startswith("credentials needed")


@pytest.mark.parametrize("media2", [True, False])
def test_the_sub_profile_s_snapshot_comes_over_http_digest(media2: bool) -> None:
    jpeg = snapshot_jpeg(320, 240)
    with face_for(media2=media2, snapshot=jpeg) as face:
        match = ProbeMatch(face.camera.urn, (face.device_url,), (), "127.0.0.1")
        candidate = describe(match, Credentials("admin", PASSWORD), budget_s=3)
        url = candidate.snapshot_url
        assert url == f"{face.device_url.split('/onvif')[0]}/snapshot/sub.jpg", url
        assert fetch_snapshot(url, Credentials("admin", PASSWORD)) == jpeg
        with pytest.raises(AuthError, match="refused the user or password for its snapshot"):
            fetch_snapshot(url, Credentials("admin", "wrong"))
        with pytest.raises(AuthError):
            fetch_snapshot(url, None)  # no credentials: never Basic, never the password
    assert candidate.public("admin")["snapshot_url"] == url


def test_a_camera_without_a_snapshot_has_none_and_no_problem(face: OnvifFace) -> None:
    match = ProbeMatch(face.camera.urn, (face.device_url,), (), "127.0.0.1")
    candidate = describe(match, Credentials("admin", PASSWORD), budget_s=3)
    assert candidate.snapshot_url == "" and candidate.problem == ""
    assert candidate.streams  # the rest of the answer is whole


def test_a_snapshot_that_is_not_a_jpeg_is_refused() -> None:
    with face_for(snapshot=b"<html>login</html>") as face, \
            pytest.raises(OnvifError, match="not a JPEG"):
        fetch_snapshot(f"http://127.0.0.1:{face.http_port}/snapshot/sub.jpg",
                       Credentials("admin", PASSWORD))


def test_the_hook_finds_a_camera_by_a_directed_probe(face: OnvifFace) -> None:
    """Unicast Probe to a named host (here loopback; no interface is probed)."""
    plugin = OnvifDiscovery(interfaces=list, port=face.discovery_port)
    found = plugin.nvr_camera_candidates(DiscoveryRequest(
        timeout_s=1.0, user="admin", password=PASSWORD, hosts=("127.0.0.1",)))
    assert [c.id for c in found] == [face.camera.urn]
    public = found[0].public("admin")
    assert PASSWORD not in str(public)
    streams = {s["role"]: s for s in public["streams"]}
    assert streams["main"]["url"] == "rtsp://admin:***@127.0.0.1:8554/cam1/main"
    assert (streams["sub"]["width"], streams["sub"]["height"]) == (640, 360)
    assert public["name"] == "SimCam" and public["address"] == "127.0.0.1"


def test_an_unreachable_camera_is_a_problem_not_an_error() -> None:
    dead = f"http://127.0.0.1:{free_port('127.0.0.1')}/onvif/device_service"
    match = ProbeMatch("urn:uuid:dead", (dead,), (), "127.0.0.1")
    candidate = describe(match, None, budget_s=1)
    assert "refused" in candidate.problem.lower()


def test_a_camera_that_never_answers_costs_its_budget_only() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/onvif/device_service"
        match = ProbeMatch("urn:uuid:silent", (url, url.replace("/onvif", "/x")), (),
                           "127.0.0.1")
        started = time.monotonic()
        candidate = describe(match, None, budget_s=1.0)
    assert time.monotonic() - started < 2.0
    assert "timed out" in candidate.problem or "too slowly" in candidate.problem


@pytest.mark.slow
def test_the_proposed_main_stream_plays(nvr_camera: SimCameraServer) -> None:
    """The simulated camera's ONVIF face names its own RTSP streams: the proposed main
    stream, with the credentials added, gives video."""
    import av

    sim = onvif_camera_of(nvr_camera)
    with OnvifFace(sim, http_host="127.0.0.1", discovery_port=free_port("127.0.0.1"),
                   multicast=False) as face:
        [found] = OnvifDiscovery(interfaces=list, port=face.discovery_port) \
            .nvr_camera_candidates(DiscoveryRequest(timeout_s=1.0, user=nvr_camera.user,
                                                    password=nvr_camera.password,
                                                    hosts=("127.0.0.1",)))
    main = next(s for s in found.streams if s.role == "main")
    assert main.url == nvr_camera.url(1, with_credentials=False)
    assert (main.width, main.height) == (nvr_camera.main.width, nvr_camera.main.height)
    with av.open(nvr_camera.url(1), options={"rtsp_transport": "tcp"}, timeout=10) as media:
        packet = next(p for p in media.demux(video=0) if p.size)
    assert packet.stream.codec_context.name == "h264"
