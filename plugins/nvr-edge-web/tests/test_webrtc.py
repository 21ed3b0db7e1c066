"""WebRTC live view over WHEP in the real appliance: a Python aiortc viewer decodes the
simulated camera's H.264 (passed through, never re-encoded), on loopback only."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nvr_edge_testing.chromium.cdp import CHROMIUM, chromium_page
from web_box import Box, base, error_of, offer_sdp, viewers_now
from web_whep import Viewing, watch

from tests.helpers import wait_for

pytestmark = pytest.mark.slow
# the conftest's box: live WebRTC viewers on loopback, at most 3 per camera
MAX_VIEWERS = 3
BOX_WEBRTC = f"max_viewers_per_camera = {MAX_VIEWERS}\n"
WATCH_S = 3.0


def check_viewing(seen: Viewing) -> None:
    assert seen.status == 201, seen.error
    assert seen.location and re.fullmatch(r"/live/cam\d/whep/[A-Za-z0-9_-]+", seen.location)
    assert "H264/90000" in seen.answer
    candidates = re.findall(r"a=candidate:\S+ \d \w+ \d+ (\S+) \d+ typ (\w+)", seen.answer)
    assert candidates and all(c == ("127.0.0.1", "host") for c in candidates), candidates
    assert seen.sizes == {(640, 360)}
    # ~30 fps, plus the catch-up: a viewer starts from the cached keyframe, so the frames
    # since it (up to one GOP, 1 s here) arrive in a burst, and on a loaded machine those
    # queued behind the first decode make a second GOP's worth (125 for 123 seen once).
    # Twice the camera's frames (a duplicate) is still far outside.
    frames, watched = seen.frames - 1, seen.watched_s
    assert seen.frames >= 60 and 25 * watched <= frames <= 30 * watched + 62, \
        (seen.frames, watched)
    assert not seen.error, seen.error  # the DELETE answered 200/204


def test_whep_viewer_decodes_the_camera(box: Box) -> None:
    seen = asyncio.run(watch(base(box), "cam1", box.token(["view"], ["cam1"]), WATCH_S))
    check_viewing(seen)
    assert seen.first_frame_s is not None
    print(f"LATENCY whep POST to first decoded frame: {seen.first_frame_s * 1000:.0f} ms "
          f"({seen.frames} frames in {seen.watched_s:.1f} s)")
    assert seen.first_frame_s <= 1.0
    wait_for(lambda: viewers_now(box) == 0, 10, "the session's viewer to be gone")


def test_two_viewers_at_once(box: Box) -> None:
    token = box.token(["view"], "*")

    async def both() -> list[Viewing]:
        return list(await asyncio.gather(watch(base(box), "cam1", token, WATCH_S),
                                         watch(base(box), "cam1", token, WATCH_S),
                                         watch(base(box), "cam2", token, WATCH_S)))

    for seen in asyncio.run(both()):
        check_viewing(seen)
    wait_for(lambda: viewers_now(box) == 0 and viewers_now(box, "cam2") == 0, 10,
             "every viewer to be gone")


def test_session_is_counted_while_open_and_gone_after_delete(box: Box) -> None:
    token = box.token(["view"], ["cam1"])

    async def open_session() -> Viewing:
        return await watch(base(box), "cam1", token, 1.0, delete=False)

    seen = asyncio.run(open_session())  # the client closed its side, without DELETE
    assert seen.status == 201 and seen.location
    reply = box.http.request(seen.location, method="DELETE", token=token)
    # Either DELETE closed it, or it was already closed when the client's DTLS went away.
    assert reply.status in (200, 204, 404), reply.body
    wait_for(lambda: viewers_now(box) == 0, 30, "the session's viewer to be gone")
    error_of(box.http.request(seen.location, method="DELETE", token=token), 404)


def test_parallel_offers_never_exceed_the_viewer_limit(box: Box) -> None:
    """100 WHEP POSTs at once: each takes its viewer slot before anything is awaited, so
    exactly the limit's sessions open and the rest are told why."""
    token = box.token(["view"], ["cam1"])
    sdp = offer_sdp()

    async def post_all() -> list[tuple[int, str, str | None]]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            async def post() -> tuple[int, str, str | None]:
                async with http.post(f"{base(box)}/live/cam1/whep", data=sdp, headers={
                        "Content-Type": "application/sdp",
                        "Authorization": f"Bearer {token}"}) as reply:
                    return reply.status, await reply.text(), reply.headers.get("Location")

            return list(await asyncio.gather(*(post() for _ in range(100))))

    replies = asyncio.run(post_all())
    try:
        assert Counter(status for status, _, _ in replies) == \
            {201: MAX_VIEWERS, 503: 100 - MAX_VIEWERS}, [r[:2] for r in replies if r[0] != 503]
        refusal = next(json.loads(body)["error"] for status, body, _ in replies
                       if status == 503)
        assert f"maximum of {MAX_VIEWERS} live viewers" in refusal
        assert viewers_now(box) == MAX_VIEWERS
    finally:
        for status, _, location in replies:
            if status == 201 and location:
                box.http.request(location, method="DELETE", token=token)
    wait_for(lambda: viewers_now(box) == 0, 30, "every session to be gone")


def test_whep_refusals(box: Box) -> None:
    sdp = offer_sdp().encode()
    sdp_type = {"Content-Type": "application/sdp"}

    def post(camera: str = "cam1", token: str | None = None, body: bytes = sdp,
             headers: dict[str, str] | None = None) -> Any:
        return box.http.request(f"/live/{camera}/whep", method="POST", token=token,
                                body=body, headers=sdp_type if headers is None else headers)

    viewer = box.token(["view"], ["cam1"])
    error_of(post(), 401)
    error_of(post(token=box.token(["view"], ["cam2"])), 403)
    error_of(post(token=box.token(["playback"], ["cam1"])), 403)
    error_of(post("cam9", box.token(["view"], "*")), 404)
    error_of(post(token=viewer, headers={"Content-Type": "text/plain"}), 415)
    error_of(post(token=viewer, headers={}), 415)
    assert "SDP" in error_of(post(token=viewer, body=b"hello"), 400)
    vp8_only = re.sub(rb"m=video (\d+) ([A-Z/]+) [\d ]+", rb"m=video \1 \2 96", sdp)
    vp8_only = re.sub(rb"a=(rtpmap|fmtp|rtcp-fb):(?!96 )\d+ [^\r\n]*\r\n", b"", vp8_only)
    vp8_only = vp8_only.replace(b"a=rtpmap:96 H264/90000", b"a=rtpmap:96 VP8/90000")
    error_of(post(token=viewer, body=vp8_only), 400)
    error_of(box.http.request("/live/cam1/whep/nosuchsession", method="DELETE",
                              token=viewer), 404)
    error_of(box.http.request("/live/cam1/whep/nosuchsession", method="DELETE"), 401)
    assert viewers_now(box) == 0


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_the_page_plays_live_in_chromium(box: Box, tmp_path: Path) -> None:
    url = f"{base(box)}/#token={box.token(['view'], ['cam1'])}"
    probe = "(() => { const v = document.querySelector('.live video'); " \
            "const p = document.querySelector('.live p'); " \
            "return v ? [v.videoWidth, v.videoHeight, v.currentTime] : (p && p.textContent) })()"

    async def play() -> list[Any]:
        async with chromium_page(url, tmp_path / "profile") as page:
            seen: list[Any] = []
            for _ in range(60):
                seen.append(await page.evaluate(probe))
                if isinstance(seen[-1], list) and seen[-1][2] > 2.0:
                    break
                await asyncio.sleep(0.25)
            await page.call("Page.navigate", url="about:blank")  # pagehide: the DELETE
            await asyncio.sleep(1)
            return seen

    seen = asyncio.run(play())
    last = seen[-1]
    assert isinstance(last, list), seen[-5:]  # otherwise the tile's message says why
    assert last[:2] == [640, 360] and last[2] > 2.0, seen[-5:]
    wait_for(lambda: viewers_now(box) == 0, 30, "the browser's session to end")
