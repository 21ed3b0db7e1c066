"""The configuration over HTTP in the real appliance: read masked, refused with the reason,
and applied at run time: a [webrtc] limit takes effect and [web] moves to another port."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nvr_edge_testing.bench.live.load import open_viewer
from nvr_edge_testing.waiting import free_port
from web_box import Box, answers, error_of
from web_http import Client

from tests.conftest import CAMERA_PASSWORD
from tests.helpers import wait_for

pytestmark = pytest.mark.slow
BOX_WEBRTC = True  # this process's viewer: loopback only
PATCH = {"Content-Type": "application/merge-patch+json"}


def send(box: Box, method: str, body: bytes, token: str | None,
         headers: dict[str, str] | None = None) -> Any:
    return box.http.request("/api/config", method=method, token=token, body=body,
                            headers=PATCH if headers is None else headers)


def test_reading_is_for_admins_and_secrets_stay_masked(box: Box) -> None:
    error_of(box.get("/api/config"), 401)
    error_of(box.get("/api/config", box.token(["view", "playback"], "*")), 403)
    error_of(box.get("/api/config", box.token(["admin"], ["cam1"])), 403)  # not every camera
    reply = box.get("/api/config", box.token(["admin"], "*"))
    assert reply.status == 200
    config = reply.json()["config"]
    assert [c["id"] for c in config["cameras"]] == ["cam1", "cam2"]
    assert "admin:***@" in config["cameras"][0]["main"]
    assert CAMERA_PASSWORD not in reply.body.decode()


def test_a_refused_camera_url_never_quotes_its_password(box: Box) -> None:
    admin = box.token(["admin"], "*")
    before = Path(box.config.source).read_bytes()
    for url in ("rtsp://admin:Zq8/x7Kw-pw@192.0.2.9/main", "http://admin:Zq8x7Kw-pw@h/x",
                "rtsp://admin:Zq8x7Kw-pw@h:port/x", "rtsp://admin:Zq8x7Kw-pw@h/x\n"):
        body = json.dumps({"cameras": [{"id": "cam1", "main": url}]}).encode()
        message = error_of(send(box, "PATCH", body, admin), 400)
        assert "cameras[0].main" in message
        assert not any(piece in message for piece in ("Zq8", "x7Kw", "7Kw-", "-pw"))
    assert Path(box.config.source).read_bytes() == before


def test_bad_changes_are_refused_with_the_reason_and_change_nothing(box: Box) -> None:
    admin = box.token(["admin"], "*")
    path = Path(box.config.source)
    before = path.read_bytes()
    message = error_of(send(box, "PATCH", b'{"web": {"listen": "nowhere"}}', admin), 400)
    assert "listen" in message
    message = error_of(send(box, "PATCH", b'{"cameras": [{"id": "x"}]}', admin), 400)
    assert "main" in message
    assert "JSON" in error_of(send(box, "PATCH", b"{nope", admin), 400)
    assert "object" in error_of(send(box, "PUT", b"[1, 2]", admin,
                                     {"Content-Type": "application/json"}), 400)
    error_of(send(box, "PATCH", b"{}", admin, {"Content-Type": "text/plain"}), 415)
    error_of(send(box, "PATCH", b'{"webrtc": null}', box.token(["view"], "*")), 403)
    assert path.read_bytes() == before
    assert box.get("/healthz").status == 200


def test_a_webrtc_limit_applies_at_once(box: Box) -> None:
    admin = box.token(["admin"], "*")
    reply = send(box, "PATCH", b'{"webrtc": {"max_viewers_per_camera": 1}}', admin)
    assert reply.status == 200, reply.body
    assert reply.json()["change"]["restarted"] == []  # no camera touched
    wait_for(lambda: answers(box.http), 30, "the web server after the change")
    base, token = f"http://127.0.0.1:{box.http.port}", box.token(["view"], ["cam1"])

    async def two_viewers() -> tuple[int, str]:
        async with aiohttp.ClientSession() as http:
            pc, location = await open_viewer(http, base, "cam1", token)
            try:
                second, _ = await asyncio.wait_for(_second_post(http, base, token), 30)
                return second
            finally:
                async with http.delete(base + location,
                                       headers={"Authorization": f"Bearer {token}"}):
                    pass
                await pc.close()

    status, body = asyncio.run(two_viewers())
    assert status == 503 and "maximum of 1 live viewers" in body, (status, body)
    assert 'max_viewers_per_camera = 1' in Path(box.config.source).read_text()  # kept


async def _second_post(http: aiohttp.ClientSession, base: str, token: str
                       ) -> tuple[tuple[int, str], None]:
    from nvr_edge_testing.bench.live.load import h264_offerer

    pc, _ = h264_offerer()
    await pc.setLocalDescription(await pc.createOffer())
    try:
        async with http.post(f"{base}/live/cam1/whep", data=pc.localDescription.sdp,
                             headers={"Content-Type": "application/sdp",
                                      "Authorization": f"Bearer {token}"}) as reply:
            return (reply.status, json.loads(await reply.text())["error"]), None
    finally:
        await pc.close()


def test_the_web_server_moves_to_a_new_port(box: Box) -> None:  # last: the box moves
    admin = box.token(["admin"], "*")
    port = free_port()
    body = json.dumps({"web": {"listen": f"127.0.0.1:{port}"}}).encode()
    reply = send(box, "PATCH", body, admin)
    assert reply.status == 200, reply.body
    moved = Client(port)
    wait_for(lambda: answers(moved), 30, "the web server on its new port")
    assert moved.get("/api/config", admin).json()["config"]["web"]["listen"] \
        == f"127.0.0.1:{port}"
    assert not answers(box.http)  # the old port is closed
