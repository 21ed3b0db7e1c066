"""WHEP (RFC 9725) for the live view: POST an SDP offer, get the answer and a session URL;
GET it for the session's state, DELETE it to stop. Media is the relay's H.264, passed
through: the camera's live stream or a transcoded rung, chosen per session by its
receiver's reports (abr.py);
`?rung=<name>` on the POST, or a POST to `<session URL>/rung`, pins one."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import OperationError

from ..body import parse_json, read_body
from ..context import CONTEXT, WebContext
from ..errors import ApiError
from ..guard import authorize
from ..live_outputs import Output, for_camera
from ..live_paths import WHEP_ROUTE
from ..live_wake import wake_stream
from . import ice
from .abr import ViewerAbr, webrtc_ladder
from .feedback import Feedback, listen
from .sessions import Session, Sessions
from .track import RelayTrack

SESSION_ROUTE = WHEP_ROUTE + "/{session:[A-Za-z0-9_-]{1,64}}"
RUNG_ROUTE = SESSION_ROUTE + "/rung"
SDP = "application/sdp"
SESSIONS = web.AppKey("nvr_whep_sessions", Sessions)
GATHER_TIMEOUT_S = 5.0


def add_routes(app: web.Application) -> None:
    ctx = app[CONTEXT]
    ice.offer_addresses(ctx.webrtc.host_addresses)
    app[SESSIONS] = Sessions(ctx.live)
    ctx.live.webrtc_sessions = app[SESSIONS].status
    app.router.add_post(WHEP_ROUTE, post)
    app.router.add_get(SESSION_ROUTE, status)
    app.router.add_delete(SESSION_ROUTE, delete)
    app.router.add_post(RUNG_ROUTE, pin_rung)
    app.on_shutdown.append(_close_all)


async def _close_all(app: web.Application) -> None:
    await app[SESSIONS].close_all()


async def post(request: web.Request) -> web.Response:
    camera = request.match_info["camera"]
    await authorize(request, "view", camera)
    ctx = request.app[CONTEXT]
    sessions = request.app[SESSIONS]
    _reserve_viewer(ctx, sessions, camera)  # no await since the check: the slot is ours
    added = False
    try:
        if request.content_type != SDP:
            raise ApiError(415, f"a WHEP offer is {SDP}, not {request.content_type!r}")
        offer = (await read_body(request)).decode("utf-8", "replace")
        if not offer.startswith("v=0") or "m=video" not in offer:
            raise ApiError(400, "the body is not an SDP offer with a video section")
        waker = await wake_stream(ctx.appliance.live, camera)
        try:
            _check_stream(ctx, camera)
            session = await _answer(ctx, camera, offer, request.query.get("rung"))
        finally:
            if waker is not None:  # the session's own subscription holds the stream now
                ctx.appliance.live.unsubscribe(waker)
        sessions.add(session)
        added = True
    finally:
        if not added:
            sessions.release(camera)
    location = f"/live/{camera}/whep/{session.id}"
    return web.Response(status=201, text=session.pc.localDescription.sdp, content_type=SDP,
                        headers={"Location": location, "Cache-Control": "no-store"})


def _reserve_viewer(ctx: WebContext, sessions: Sessions, camera: str) -> None:
    """404 for the camera, 409/422 for a stream WebRTC cannot carry, else a viewer slot,
    or 503 when its limit is taken."""
    if camera not in ctx.camera_ids():
        raise ApiError(404, f"there is no camera {camera!r}")
    output = _judge(ctx, camera)
    if output.available is False:
        output.refuse()
    limit = ctx.webrtc.max_viewers_per_camera
    if not sessions.reserve(camera, limit):
        raise ApiError(503, f"camera {camera!r} has its maximum of {limit} live viewers "
                            "(open or being set up)", {"Retry-After": "10"})


def _check_stream(ctx: WebContext, camera: str) -> None:
    """The stream is there and WebRTC can carry it (its codec and B-frames are known only
    once it is there)."""
    _judge(ctx, camera).refuse()


def _judge(ctx: WebContext, camera: str) -> Output:
    return for_camera(ctx, camera)["whep"]


def _viewer_abr(ctx: WebContext, camera: str, rung: str | None) -> ViewerAbr:
    try:
        return ViewerAbr(webrtc_ladder(ctx.appliance.live.rungs(camera)), rung or None)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


async def _answer(ctx: WebContext, camera: str, offer: str, rung: str | None) -> Session:
    abr = _viewer_abr(ctx, camera, rung)
    track = RelayTrack(ctx.appliance.live, camera,
                       lambda count: ctx.live.add_bytes_out(camera, count), abr.current.stream)
    if track.viewer.closed:  # a pinned rung the relay refuses (over the encoding budget ...)
        track.stop()
        raise ApiError(503, f"rung {abr.current.name} of camera {camera!r} is "
                            f"{track.viewer.closed}")
    pc = RTCPeerConnection(ice.no_ice_servers())
    try:
        transceiver = pc.addTransceiver(track, direction="sendonly")
        # Before the offer is applied: aiortc otherwise takes the browser's first codec
        # (VP8), which passed-through H.264 cannot be.
        transceiver.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("video").codecs
             if c.mimeType.lower() in ("video/h264", "video/rtx")])
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        except OperationError:
            raise ApiError(400, "the offer has no H.264 (packetization-mode 1) video") from None
        except Exception as exc:  # aiortc's SDP parser raises many kinds on a bad offer
            raise ApiError(400, f"the SDP offer cannot be used: {exc}") from None
        # setLocalDescription waits for ICE gathering: the answer carries every candidate
        # (WHEP without trickle).
        await asyncio.wait_for(pc.setLocalDescription(await pc.createAnswer()),
                               GATHER_TIMEOUT_S)
    except BaseException:
        track.stop()
        await pc.close()
        raise
    feedback = Feedback()
    listen(transceiver.sender, feedback)
    return Session(camera, pc, track, abr, feedback)


async def _session_of(request: web.Request) -> Session:
    camera = request.match_info["camera"]
    await authorize(request, "view", camera)
    session = request.app[SESSIONS].open.get(request.match_info["session"])
    if session is None or session.camera != camera:
        raise ApiError(404, "there is no such live session")
    return session


async def status(request: web.Request) -> web.Response:
    """The session's state: its rung, the one pinned, what was refused, its switches and
    the receiver's last loss and RTT (as in /api/status), for a player that asks."""
    return web.json_response((await _session_of(request)).status())


async def delete(request: web.Request) -> web.Response:
    session = await _session_of(request)
    await request.app[SESSIONS].close(session, "viewer left (DELETE)")
    return web.Response(status=200)


async def pin_rung(request: web.Request) -> web.Response:
    """`{"rung": "<name>"}` pins the session to that rung (switched at its next keyframe),
    `{"rung": null}` lets its network choose again; answers the session's ABR status."""
    session = await _session_of(request)
    body = parse_json(await read_body(request, 1024))
    if not isinstance(body, dict) or not isinstance(body.get("rung", ""), str | None) \
            or "rung" not in body:
        raise ApiError(400, 'the body is {"rung": "<name>"} or {"rung": null}')
    try:
        session.abr.pin(body["rung"])
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    session.adapt(None, asyncio.get_running_loop().time())
    return web.json_response(session.status())
