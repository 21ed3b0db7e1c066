"""The LL-HLS routes: the playlist (with blocking reload), the init segment, segments and
parts, of the live view's stream (`/live/<camera>/index.m3u8`) or of one rung of the
camera's ladder (`/live/<camera>/<rung>/index.m3u8`, listed by the multivariant playlist:
abr_routes.py). Every one wants `view` on the camera; names are only ever the server's own
(`init<n>.mp4`, `seg<msn>.m4s`, `part<n>.m4s`), matched whole by the router: no paths."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from aiohttp import web

from ..context import CONTEXT, GRANT
from ..errors import ApiError
from ..guard import authorize
from ..live_outputs import for_camera
from ..live_paths import CAMERA, HLS_ABR_ROUTE, HLS_ROUTE, HLS_RUNG_ROUTE, RUNG
from .abr_routes import multivariant, rung_stream
from .muxer import PART_TARGET_S
from .packager import Packager
from .playlist import render
from .registry import Packagers
from .responses import playlist_response
from .vendor import add_route as add_player_route

PACKAGERS = web.AppKey("nvr_hls_packagers", Packagers)
NAME = "{name:init[0-9]{1,12}\\.mp4|(?:seg|part)[0-9]{1,12}\\.m4s}"
MEDIA_ROUTE = f"/live/{CAMERA}/{NAME}"
RUNG_MEDIA_ROUTE = f"/live/{CAMERA}/{RUNG}/{NAME}"
MEDIA_TYPE = "video/mp4"     # fMP4 init and media segments (RFC 8216bis 3.3)
READY_S = 8.0                # a first request waits this long for a complete segment
MAX_DIGITS = 12


def add_routes(app: web.Application) -> None:
    app[PACKAGERS] = Packagers(app[CONTEXT].appliance.live)
    app.router.add_get(HLS_ROUTE, playlist)
    app.router.add_get(MEDIA_ROUTE, media)
    app.router.add_get(HLS_ABR_ROUTE, multivariant)
    app.router.add_get(HLS_RUNG_ROUTE, playlist)
    app.router.add_get(RUNG_MEDIA_ROUTE, media)
    app.on_shutdown.append(app[PACKAGERS].close)
    add_player_route(app)  # hls.js for the page, when setup-js.sh installed it


def _unavailable(request: web.Request, camera: str, packager: Packager) -> ApiError:
    """Why there is nothing to serve: the camera's stream is not there (and why not) or
    cannot be packaged (409), or the packager still waits for something from it."""
    output = for_camera(request.app[CONTEXT], camera)["hls"]
    if output.available is not True:
        return output.error()
    rung = request.match_info.get("rung")
    what = f"camera {camera!r}" + (f", rung {rung}" if rung else "")
    return ApiError(503, f"{what}: {packager.waiting_for()}; try again shortly",
                    {"Retry-After": "2"})


async def _packager(request: web.Request) -> tuple[str, Packager]:
    """Authorized, an existing camera, and its packager with a first segment made."""
    camera = request.match_info["camera"]
    await authorize(request, "view", camera)
    ctx = request.app[CONTEXT]
    if camera not in ctx.camera_ids():
        raise ApiError(404, f"there is no camera {camera!r}")
    output = for_camera(ctx, camera)["hls"]
    if output.available is False:
        output.refuse()  # a stream LL-HLS cannot carry: waiting would not help
    rung = request.match_info.get("rung", "")
    packagers = request.app[PACKAGERS]
    running = packagers.running.get((camera, rung))
    if rung and (running is None or running.closed):  # judged once, when it starts
        stream = await rung_stream(ctx, camera, rung)
    else:
        stream = running.stream if running is not None else "live"
    packager = packagers.get(camera, rung, stream)
    if not await packager.wait_until(lambda: packager.init is not None
                                     and packager.window.ready, READY_S):
        raise _unavailable(request, camera, packager)
    return camera, packager


def _number(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS):
        raise ApiError(400, f"{name} must be a non-negative integer")
    return int(text)


def _target_s(packager: Packager) -> float:
    return float(max(1, math.ceil(packager.window.max_segment_s)))


async def playlist(request: web.Request) -> web.Response:
    camera, packager = await _packager(request)
    grant = request[GRANT]
    request.app[CONTEXT].live.hls_request(
        camera, (request.remote, grant.subject, grant.expires_at), time.monotonic())
    window = packager.window
    msn = _number(request.query, "_HLS_msn")
    part = _number(request.query, "_HLS_part")
    if part is not None and msn is None:
        raise ApiError(400, "_HLS_part needs _HLS_msn")
    if msn is not None:
        # The spec: more than two segments past the playlist's last is a client error.
        if msn > window.next_msn + 1:
            raise ApiError(400, "_HLS_msn is too far ahead of the live edge")
        # ... and a request not satisfiable within 3 target durations a 503.
        if not await packager.wait_until(lambda: window.has(msn, part),
                                         3 * _target_s(packager)):
            raise _unavailable(request, camera, packager)
    rung = request.match_info.get("rung", "")
    reports = request.app[PACKAGERS].reports(camera, rung) if rung else []
    text = render(window, PART_TARGET_S, request.query.get("token"), reports)
    return playlist_response(text)


async def media(request: web.Request) -> web.Response:
    camera, packager = await _packager(request)
    name = request.match_info["name"]
    window = packager.window
    found: Callable[[], bytes | None]
    if name.startswith("init"):
        stream = int(name[4:-4])

        def found() -> bytes | None:  # only the current stream's
            return packager.init if stream == window.discontinuity_sequence else None

        future = False
    elif name.startswith("seg"):
        msn = int(name[3:-4])

        def found() -> bytes | None:
            segment = window.segment(msn)
            return segment.data if segment is not None and segment.complete else None

        # the open segment: held until it is complete
        future = bool(window.segments) and msn == window.segments[-1].msn
    else:
        number = int(name[4:-4])

        def found() -> bytes | None:
            made = window.part(number)
            return made.data if made is not None else None

        future = number == window.next_part  # the preload hint: held until it exists
    if future:
        await packager.wait_until(lambda: found() is not None, 3 * _target_s(packager))
    body = found()
    if body is None:
        raise ApiError(404, f"{name} is not in camera {camera!r}'s live window")
    request.app[CONTEXT].live.add_bytes_out(camera, len(body))
    return web.Response(body=body, content_type=MEDIA_TYPE,
                        headers={"Cache-Control": "private, max-age=60"})
