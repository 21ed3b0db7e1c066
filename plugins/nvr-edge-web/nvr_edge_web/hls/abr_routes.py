"""LL-HLS over a camera's ladder: `GET /live/<camera>/abr.m3u8` lists the rungs LL-HLS can
serve now (the live view's stream first, where a player starts; then the rest, best
first), each at `<rung>/index.m3u8`; `?rung=<name>` lists only that one (a viewer's pin).
With the live view's AAC audio, every variant shares the audio rendition `audio/index.m3u8`
(multivariant.py).
A rung's media playlist and files are served by routes.py with the rung in the path, each
by a packager of its own, started by its first request (a transcoded rung's encoder runs
only while some player asks for it)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..context import CONTEXT, WebContext
from ..errors import ApiError
from ..guard import authorize
from ..live_outputs import Output, for_camera, hls_rungs
from ..live_wake import wake_stream
from .multivariant import Variant, avc1_codec, mp4a_codec, render_multivariant
from .registry import AUDIO
from .responses import playlist_response


async def _ladder(ctx: WebContext, camera: str) -> list[tuple[dict[str, Any], Output]]:
    """The camera's rungs judged for LL-HLS, with its live stream woken first (the ladder
    is measured against that stream: before it is seen, only the configured rungs)."""
    waker = await wake_stream(ctx.appliance.live, camera)
    try:
        for_camera(ctx, camera)["hls"].refuse()  # no stream (503, why) or not carried (409)
        return hls_rungs(ctx, camera)
    finally:
        if waker is not None:
            ctx.appliance.live.unsubscribe(waker)


def _named(ladder: list[tuple[dict[str, Any], Output]], camera: str,
           rung: str) -> tuple[dict[str, Any], Output]:
    found = next((entry for entry in ladder if entry[0]["name"] == rung), None)
    if found is None:
        names = ", ".join(r["name"] for r, _ in ladder) or "none"
        raise ApiError(404, f"camera {camera!r} has no rung {rung!r} (its rungs: {names})")
    return found


def _refuse(camera: str, rung: str, output: Output) -> None:
    """The rung's refusal (e.g. the encoding budget's, 503), naming the rung."""
    error = output.error()
    raise ApiError(error.status, f"camera {camera!r}, rung {rung}: {output.reason}",
                   error.headers)


async def rung_stream(ctx: WebContext, camera: str, rung: str) -> str:
    """The hub stream carrying the camera's `rung`, once LL-HLS can serve it (404 naming
    the ladder for an unknown one); the audio rendition's is the live view's stream."""
    if rung == AUDIO:
        await _ladder(ctx, camera)  # the stream woken, or why not
        if mp4a_codec(ctx.appliance.live.info(camera, "live")) is None:
            raise ApiError(404, f"camera {camera!r} has no AAC audio in its live stream")
        return "live"
    entry, output = _named(await _ladder(ctx, camera), camera, rung)
    if output.available is False:
        _refuse(camera, rung, output)
    return str(entry["stream"])


def _variant(ctx: WebContext, camera: str, rung: dict[str, Any]) -> Variant:
    info = ctx.appliance.live.info(camera, rung["stream"])
    return Variant(rung["name"], rung["width"], rung["height"], rung["kbps"],
                   avc1_codec(info.video_extradata) if info is not None else None)


async def multivariant(request: web.Request) -> web.Response:
    camera = request.match_info["camera"]
    await authorize(request, "view", camera)
    ctx = request.app[CONTEXT]
    if camera not in ctx.camera_ids():
        raise ApiError(404, f"there is no camera {camera!r}")
    ladder = await _ladder(ctx, camera)
    pinned = request.query.get("rung")
    if pinned is not None:
        entry = _named(ladder, camera, pinned)
        if entry[1].available is not True:  # an answer, not an empty list
            _refuse(camera, pinned, entry[1])
        listed, left_out = [entry[0]], []
    else:
        listed = [r for r, output in ladder if output.available is True]
        left_out = [(r["name"], output.reason) for r, output in ladder
                    if output.available is not True]
    # the live view's stream first: hls.js starts on the first variant listed
    listed.sort(key=lambda r: r["stream"] != "live")
    text = render_multivariant([_variant(ctx, camera, r) for r in listed],
                               request.query.get("token"), left_out,
                               mp4a_codec(ctx.appliance.live.info(camera, "live")))
    return playlist_response(text)
