"""The web plugin in the real appliance (simulated cameras, [web] on a loopback port), seen
through plain HTTP: auth on every endpoint, segments whole and by Range, metrics, the page,
and no secret in the log."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from web_box import Box, closed_segment, error_of, file_bytes
from web_promtext import parse, value
from web_tokens import claims, forge

from tests.conftest import CAMERA_PASSWORD
from tests.helpers import wait_for

pytestmark = pytest.mark.slow
ALL = {"actions": ["view", "playback", "admin"], "cameras": "*"}


# --- auth -------------------------------------------------------------------------------

def test_health_probe_is_open(box: Box) -> None:
    reply = box.get("/healthz")
    assert reply.status == 200 and reply.json() == {"status": "ok"}


BAD_TOKENS = ["missing", "garbage", "basic header", "expired", "not yet valid", "wrong key",
              "alg none", "RS256 at a local box", "tampered payload", "no nvr claim"]


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def bad_request(box: Box, kind: str, rsa_key: rsa.RSAPrivateKey) -> dict[str, str]:
    """Headers of a request carrying the `kind` of bad credentials."""
    now = int(time.time())
    token = {
        "missing": None,
        "garbage": "not.a-token",
        "expired": lambda: box.signed(claims(iat=now - 7200, exp=now - 3600, nvr=ALL)),
        "not yet valid": lambda: box.signed(claims(nbf=now + 3600, nvr=ALL)),
        "wrong key": lambda: box.signed(claims(nvr=ALL), key=b"k" * 64),
        "alg none": lambda: forge({"alg": "none", "typ": "JWT"}, claims(nvr=ALL)),
        "RS256 at a local box": lambda: box.signed(claims(nvr=ALL), rsa_key, "RS256"),
        "tampered payload": lambda: _tampered(box),
        "no nvr claim": lambda: box.signed(claims(nvr=None)),
    }.get(kind)
    if kind == "basic header":
        return {"Authorization": "Basic YWRtaW46YWRtaW4="}
    made = token() if callable(token) else token
    return {} if made is None else {"Authorization": f"Bearer {made}"}


def _tampered(box: Box) -> str:
    """A view token for cam2 whose payload was rewritten to every camera and action."""
    header, _, signature = box.token(["view"], ["cam2"]).split(".")
    payload = forge({}, claims(nvr=ALL)).split(".")[1]
    return f"{header}.{payload}.{signature}"


PROTECTED = ["/api/cameras", "/api/status", "/api/segments?camera=cam1",
             "/api/segments/1.mp4", "/metrics", "/live/cam1/index.m3u8"]


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_bad_credentials_are_401_on_every_endpoint(box: Box, kind: str,
                                                   rsa_key: rsa.RSAPrivateKey) -> None:
    headers = bad_request(box, kind, rsa_key)
    for path in PROTECTED:
        error_of(box.http.request(path, headers=headers), 401)
    error_of(box.http.request("/live/cam1/whep", method="POST", headers=headers,
                              body=b"v=0"), 401)


def test_token_by_header_or_by_query(box: Box) -> None:
    token = box.token(["view"], "*")
    assert box.get("/api/cameras", token).status == 200
    assert box.get(f"/api/cameras?token={token}").status == 200
    # the header wins, and a bad header is not rescued by a good ?token=
    error_of(box.http.request(f"/api/cameras?token={token}",
                              headers={"Authorization": "Bearer x.y.z"}), 401)


def test_wrong_action_or_camera_is_403(box: Box) -> None:
    view_cam2 = box.token(["view"], ["cam2"])
    playback_cam2 = box.token(["playback"], ["cam2"])
    assert "playback" in error_of(box.get("/api/segments?camera=cam2", view_cam2), 403)
    assert "camera" in error_of(box.get("/api/segments?camera=cam1", playback_cam2), 403)
    error_of(box.get("/metrics", playback_cam2), 403)
    error_of(box.get("/metrics", box.token(["admin"], ["cam1", "cam2"])), 403)  # box-wide: *
    error_of(box.get("/live/cam1/index.m3u8", view_cam2), 403)
    error_of(box.get("/live/cam2/index.m3u8", playback_cam2), 403)


def test_cameras_and_status_list_what_the_token_covers(box: Box) -> None:
    def listed(token: str) -> dict[str, list[str]]:
        return {c["id"]: c["allowed"] for c in box.get("/api/cameras", token).json()["cameras"]}

    assert listed(box.token(["view"], ["cam2"])) == {"cam2": ["view"]}
    assert listed(box.token(["playback"], ["cam1", "nope"])) == {"cam1": ["playback"]}
    assert listed(box.token(["admin"], "*")) == {"cam1": ["view", "playback"],
                                                 "cam2": ["view", "playback"]}
    camera = box.get("/api/cameras", box.token(["view"], ["cam1"])).json()["cameras"][0]
    assert camera["live"] | {"streaming": None, "outputs": None, "rungs": None} == {
        "whep": "/live/cam1/whep", "hls": "/live/cam1/index.m3u8",
        "hls_abr": "/live/cam1/abr.m3u8", "mode": "always",
        "streaming": None, "outputs": None, "rungs": None}
    assert camera["live"]["rungs"] and all(  # the ladder (tests/live/test_rungs.py)
        set(rung) == {"name", "width", "height", "kbps", "transcoded", "available", "reason",
                      "stream"}
        for rung in camera["live"]["rungs"]), camera["live"]["rungs"]
    wait_for(lambda: box.get("/api/cameras", box.token(["view"], ["cam1"])).json()
             ["cameras"][0]["live"]["streaming"] is True, 60, "cam1's live stream listed")
    live = box.get("/api/cameras", box.token(["view"], ["cam1"])).json()["cameras"][0]["live"]
    assert live["outputs"] == {"whep": {"available": True, "reason": ""},
                               "hls": {"available": True, "reason": ""}}
    wait_for(lambda: box.get("/api/status", box.token(["view"], "*")).json()["cameras"]
             .get("cam1", {}).get("state") == "online", 60, "cam1 online in /api/status")
    status = box.get("/api/status", box.token(["view"], ["cam1"])).json()
    assert list(status["cameras"]) == ["cam1"] and "pid" not in status["cameras"]["cam1"]


# --- segments ---------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "named"), [
    ("", "camera"), ("camera=", "camera"), ("camera=../etc", "camera"),
    ("camera=cam1&from=yesterday", "from"), ("camera=cam1&to=2026-13-45", "to"),
    ("camera=cam1&from=2026-01-02T00:00Z&to=2026-01-01T00:00Z", "from"),
    ("camera=cam1&limit=0", "limit"), ("camera=cam1&limit=10001", "limit"),
    ("camera=cam1&limit=ten", "limit"), ("camera=cam1&limit=%EF%BC%91", "limit"),
    ("camera=%00", "camera"), ("camera=cam1&from=%FF%FE", "from"),
])
def test_bad_segment_queries_are_400_naming_the_parameter(box: Box, query: str,
                                                          named: str) -> None:
    token = box.token(["playback"], "*")
    assert named in error_of(box.get(f"/api/segments?{query}", token), 400)


def test_segments_in_a_time_window(box: Box) -> None:
    first = closed_segment(box)
    token = box.token(["playback"], ["cam1"])
    assert first["url"] == f"/api/segments/{first['id']}.mp4" and "path" not in first
    assert first["duration_ms"] >= 1000 and first["camera"] == "cam1"
    window = box.get(f"/api/segments?camera=cam1&from={first['start']}&to={first['end']}"
                     "&limit=1", token).json()
    assert window["segments"][0]["id"] == first["id"]
    before = box.get("/api/segments?camera=cam1&to=2001-01-01T00:00:00", token).json()
    assert before["segments"] == [] and before["truncated"] is False


def test_segment_download_whole_and_by_range(box: Box) -> None:
    segment = closed_segment(box)
    url, token = segment["url"], box.token(["playback"], ["cam1"])
    expected = file_bytes(box, segment["id"])
    whole = box.get(url, token)
    assert whole.status == 200 and whole.body == expected
    assert whole.headers["Content-Type"] == "video/mp4"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert re.fullmatch(r'attachment; filename="cam1-\d{8}T\d{6}Z\.mp4"',
                        whole.headers["Content-Disposition"])
    part = box.get(f"{url}?token={token}", Range="bytes=100-1123")
    assert part.status == 206 and part.body == expected[100:1124]
    assert part.headers["Content-Range"] == f"bytes 100-1123/{len(expected)}"
    tail = box.get(url, token, Range="bytes=-500")
    assert tail.status == 206 and tail.body == expected[-500:]
    rest = box.get(url, token, Range=f"bytes={len(expected) - 10}-")
    assert rest.status == 206 and rest.body == expected[-10:]
    for bad in (f"bytes={len(expected)}-", "bytes=5-1", "bytes=abc", "bytes=0-1,5-6",
                "items=0-10"):
        reply = box.get(url, token, Range=bad)
        error_of(reply, 416)
        assert reply.headers["Content-Range"] == f"bytes */{len(expected)}"
    assert box.http.request(url, token=token, method="HEAD").status == 200


def test_unknown_and_traversing_segment_ids_never_reach_a_file(box: Box) -> None:
    token = box.token(["playback"], "*")
    error_of(box.get("/api/segments/999999999.mp4", token), 404)
    for path in ("/api/segments/../../etc/passwd", "/api/segments/%2e%2e/%2e%2e/etc/passwd",
                 "/api/segments/..%2f..%2fetc%2fpasswd", "/api/segments/1.mp4/../../x",
                 "/api/segments/abc.mp4", "/api/segments/-1.mp4", "/api/segments/1e3.mp4",
                 "/api/segments/99999999999999999999999.mp4", "/api/segments/1",
                 "/api/segments/%00.mp4", "/static/..%2fplugin.py", "/static/../plugin.py",
                 f"/api/segments/{'9' * 5000}.mp4"):
        reply = box.get(path, token)
        assert reply.status in (400, 404), (path, reply.status)
        assert b"root:" not in reply.body and b"import" not in reply.body, path
    # a playback token for another camera learns nothing more than 403
    segment = closed_segment(box)
    error_of(box.get(segment["url"], box.token(["playback"], ["cam2"])), 403)


# --- metrics, live, page ----------------------------------------------------------------

def test_metrics_are_prometheus_text_with_camera_rates(box: Box) -> None:
    token = box.token(["admin"], "*")

    def rates() -> tuple[dict[str, str], list[Any]] | None:
        reply = box.get("/metrics", token)
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        types, samples = parse(reply.body.decode())
        fps = value(samples, "nvr_camera_ingest_fps", camera="cam1")
        return (types, samples) if fps and fps > 0 else None

    types, samples = wait_for(rates, 60, "cam1 fps > 0 on /metrics")
    assert value(samples, "nvr_camera_state", camera="cam1", state="online") == 1
    for name in ("nvr_camera_ingest_kbps", "nvr_camera_ingest_continuity",
                 "nvr_camera_segments_total", "nvr_camera_restarts_total"):
        assert value(samples, name, camera="cam2") is not None, name
    assert value(samples, "nvr_tier_free_bytes", tier="cache") > 0
    assert value(samples, "nvr_live_viewers", camera="cam1") == 0
    assert value(samples, "nvr_live_bytes_out_total", camera="cam2") == 0
    assert types["nvr_http_requests_total"] == "counter"
    assert value(samples, "nvr_http_requests_total", route="/healthz", status="200") >= 1


def test_live_routes_check_before_reading(box: Box) -> None:
    token = box.token(["view"], ["cam1"])
    # WHEP wants an SDP offer (tests/web/test_webrtc.py plays it); LL-HLS answers its
    # playlist once the camera's first segment is made (tests/web/test_hls.py plays it)
    assert "application/sdp" in error_of(box.http.request(
        "/live/cam1/whep", token=token, method="POST", body=b"v=0"), 415)
    playlist = wait_for(lambda: (r := box.get(f"/live/cam1/index.m3u8?token={token}"))
                        .status == 200 and r, 60, "cam1's LL-HLS playlist")
    assert playlist.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    assert playlist.body.startswith(b"#EXTM3U\n")
    error_of(box.get("/live/cam9/index.m3u8", box.token(["view"], "*")), 404)


def test_the_page_and_its_files(box: Box) -> None:
    page = box.get("/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    html = page.body.decode()
    assert '<script type="module" src="/static/app.js"></script>' in html
    assert "live view: coming" in html
    referenced = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    modules = re.findall(r'from "\./([^"]+)"', box.get("/static/app.js").body.decode())
    assert {"api.js", "live.js", "timeline.js"} <= set(modules)
    for path in referenced + [f"/static/{m}" for m in modules]:
        reply = box.get(path)
        assert reply.status == 200 and reply.body, path
    assert box.get("/static/app.js").headers["Content-Type"].startswith("text/javascript")
    error_of(box.get("/static/nope.js"), 404)


def test_unknown_paths_and_methods_answer_json(box: Box) -> None:
    error_of(box.get("/nope"), 404)
    error_of(box.http.request("/api/cameras", method="DELETE"), 405)
    error_of(box.http.request("/live/cam1/whep", method="POST", body=b"x" * 200_000,
                              token=box.token(["view"], ["cam1"])), 415)  # body never read


def test_no_token_or_camera_password_in_the_log(box: Box) -> None:
    token = box.token(["view"], "*")
    box.get(f"/api/cameras?token={token}")
    box.get("/api/cameras", token)
    box.get(f"/nope?token={token}")
    wait_for(lambda: "/nope?token=***" in box.app.log, 10, "the access log line")
    log = box.app.log
    assert CAMERA_PASSWORD not in log
    leaked = [t for t in box.tokens if t.split(".")[2] and t.split(".")[2] in log]
    assert not leaked, f"{len(leaked)} token(s) in the appliance log"
    assert "sub='tester'" in log and "Traceback" not in log
