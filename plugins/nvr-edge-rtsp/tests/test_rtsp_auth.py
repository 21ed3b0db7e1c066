"""Who gets in: users (Basic, Digest), viewer tokens (?token=, Basic password), and the
refusals with their codes; no secret in any answer or log line."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import subprocess

import pytest
from nvr_edge_testing.waiting import wait_for
from rtsp_box import PASSWORD, USER, Restream
from rtsp_raw import RawClient

pytestmark = pytest.mark.slow


def describe(restream: Restream, path: str, **headers: str) -> tuple[int, dict[str, str]]:
    client = RawClient(restream.port)
    try:
        return client.request("DESCRIBE", path, **headers)
    finally:
        client.close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_options_is_open_and_describe_needs_credentials(restream: Restream) -> None:
    client = RawClient(restream.port)
    try:
        status, found = client.request("OPTIONS", "cam1/main")
        assert status == 200 and "DESCRIBE" in found["public"]
    finally:
        client.close()
    status, found = describe(restream, "cam1/main")
    assert status == 401
    assert "Digest realm=" in found["www-authenticate"]
    assert "Basic realm=" in found["www-authenticate"]
    assert "credentials or a token are required" in found["body"]


def test_basic_user_gets_an_sdp_with_parameter_sets_and_audio(restream: Restream) -> None:
    status, found = describe(restream, "cam1/main", Authorization=basic(USER, PASSWORD))
    assert status == 200, found["body"]
    sdp = found["body"]
    assert "a=rtpmap:96 H264/90000" in sdp and "sprop-parameter-sets=" in sdp
    assert "MPEG4-GENERIC/" in sdp and "a=control:trackID=1" in sdp
    assert found["content-base"].endswith("/cam1/main/")


def test_digest_user_is_let_in_and_a_wrong_response_is_not(restream: Restream) -> None:
    client = RawClient(restream.port)
    try:
        _, found = client.request("DESCRIBE", "cam2/main")
        nonce = found["www-authenticate"].split('nonce="')[1].split('"')[0]
        uri = f"rtsp://127.0.0.1:{restream.port}/cam2/main"

        def digest(password: str) -> str:
            ha1 = hashlib.md5(f"{USER}:nvr-edge:{password}".encode()).hexdigest()
            ha2 = hashlib.md5(f"DESCRIBE:{uri}".encode()).hexdigest()
            answer = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
            return (f'Digest username="{USER}", realm="nvr-edge", nonce="{nonce}", '
                    f'uri="{uri}", response="{answer}"')

        assert client.request("DESCRIBE", "cam2/main", Authorization=digest("nope"))[0] == 401
        assert client.request("DESCRIBE", "cam2/main", Authorization=digest(PASSWORD))[0] == 200
    finally:
        client.close()


@pytest.mark.parametrize(("path", "code", "words"), [
    ("cam9/main", 404, "no camera 'cam9'"),
    ("cam2/sub", 404, "has no stream 'sub' (main, 360p, 240p)"),
    ("cam1", 404, "paths are /<camera>/<stream>"),
    ("cam2/240p", 503, "cam2/240p: unavailable: no encoder passed its probe"),
])
def test_unknown_paths_are_404_with_what_exists(restream: Restream, path: str, code: int,
                                                words: str) -> None:
    status, found = describe(restream, path, Authorization=basic(USER, PASSWORD))
    assert (status, words in found["body"]) == (code, True), found["body"]


def test_tokens_in_the_url_or_as_the_password(restream: Restream) -> None:
    token = restream.token(["cam1"])
    probe = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp",
                            "-show_streams", "-of", "json",
                            restream.url("cam1/sub", user=None, query=f"?token={token}")],
                           capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout)["streams"][0]["codec_name"] == "h264"
    assert describe(restream, "cam1/main", Authorization=basic("anyone", token))[0] == 200

    status, found = describe(restream, "cam2/main", Authorization=basic("anyone", token))
    assert status == 403 and "does not cover this camera" in found["body"]
    status, found = describe(restream, f"cam1/main?token={restream.token('*', ('playback',))}")
    assert status == 403 and "does not allow view" in found["body"]
    status, found = describe(restream, "cam1/main?token=a.b.c")
    assert status == 401 and found["body"].startswith("token refused")
    status, found = describe(restream, "cam1/main", Authorization=basic(USER, "wrong"))
    assert status == 401 and "wrong user name or password" in found["body"]


def test_no_password_or_token_in_answers_or_logs(restream: Restream,
                                                caplog: pytest.LogCaptureFixture) -> None:
    token = restream.token(["cam2"])
    with caplog.at_level(logging.INFO):
        ok = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp",
                             "-show_streams", restream.url("cam2/main", user=None,
                                                           query=f"?token={token}")],
                            capture_output=True, text=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
        describe(restream, f"cam1/main?token={token}")  # refused: 403, logged
        describe(restream, "cam1/main", Authorization=basic(USER, PASSWORD + "x"))
    text = caplog.text
    assert "rtsp " in text  # the server did log these requests
    assert token not in text and PASSWORD not in text


def test_a_changed_user_list_applies_without_a_restart(restream: Restream) -> None:
    """Last in this module: it replaces the users the other tests log in with."""
    restream.supervisor.control.patch_config(
        {"rtsp": {"users": [{"name": "second", "password": "second-Pw-9"}]}})

    def new_user_in() -> bool:
        try:
            return describe(restream, "cam2/main",
                            Authorization=basic("second", "second-Pw-9"))[0] == 200
        except OSError:  # between the old server's close and the new one's listen
            return False

    wait_for(new_user_in, 30, "the new user to get in")
    status, found = describe(restream, "cam2/main", Authorization=basic(USER, PASSWORD))
    assert status == 401 and "wrong user name or password" in found["body"]
