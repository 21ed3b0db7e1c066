"""JSON endpoints: cameras, their state, and the recorded segments of one camera."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nvr_edge import SegmentQuery, SegmentRecord, SegmentStatus, iso_utc

from . import live_outputs, params
from .auth import AuthError, Grant, require
from .context import CONTEXT, WebContext
from .download import PLAYABLE
from .errors import ApiError
from .guard import authenticate

LIST_ACTIONS = ("view", "playback")  # a camera is listed when the token allows either
DEFAULT_LIMIT, MAX_LIMIT = 1000, 10_000


def segment_url(segment_id: int) -> str:
    return f"/api/segments/{segment_id}.mp4"


def live_urls(camera: str) -> dict[str, str]:
    """WHEP; LL-HLS of the live view's stream alone (`hls`) and over the rungs (`hls_abr`,
    the multivariant playlist the page plays)."""
    return {"whep": f"/live/{camera}/whep", "hls": f"/live/{camera}/index.m3u8",
            "hls_abr": f"/live/{camera}/abr.m3u8"}


async def visible_cameras(request: web.Request) -> tuple[WebContext, dict[str, list[str]]]:
    """camera id -> what the token allows on it, for the cameras it allows anything on."""
    ctx = request.app[CONTEXT]
    grant = await authenticate(request)
    if not _lists_anything(grant):
        raise AuthError(403, "this token does not allow view or playback")
    visible = {}
    for camera in ctx.camera_ids():
        allowed = [a for a in LIST_ACTIONS if grant.allows(a, camera)]
        if allowed:
            visible[camera] = allowed
    return ctx, visible


def _lists_anything(grant: Grant) -> bool:
    return "admin" in grant.actions or any(a in grant.actions for a in LIST_ACTIONS)


async def cameras(request: web.Request) -> web.Response:
    ctx, visible = await visible_cameras(request)
    configured = {camera.id: camera for camera in ctx.config.cameras}
    states = ctx.status().get("cameras") or {}
    feeds = ctx.appliance.live.stats()
    listed = []
    for camera_id, allowed in visible.items():
        camera = configured.get(camera_id)
        state = states.get(camera_id) or {}
        outputs = {name: output.as_json()
                   for name, output in live_outputs.for_camera(ctx, camera_id).items()}
        live = {**live_urls(camera_id), "mode": ctx.live_mode(camera_id),
                "streaming": bool((feeds.get(camera_id) or {}).get("has_stream")),
                "outputs": outputs, "rungs": ctx.appliance.live.rungs(camera_id)
                if ctx.live_mode(camera_id) != "off" else []}
        listed.append({
            "id": camera_id, "name": camera.name if camera else "",
            "enabled": camera.enabled if camera else True,
            "state": state.get("state", "starting"), "reason": state.get("reason", ""),
            "allowed": allowed, "live": live,
        })
    return web.json_response({"cameras": listed})


async def status(request: web.Request) -> web.Response:
    ctx, visible = await visible_cameras(request)
    snapshot = ctx.status()
    states = snapshot.get("cameras") or {}
    sessions = ctx.live.webrtc_sessions()
    return web.json_response({
        "updated": snapshot.get("updated"),
        "cameras": {camera_id: {**camera_status(states.get(camera_id) or {}),
                                "webrtc": [s for s in sessions if s["camera"] == camera_id]}
                    for camera_id in visible},
    })


def camera_status(state: dict[str, Any]) -> dict[str, Any]:
    """A camera's status without the worker's internals (pid, file paths, counters)."""
    last = state.get("last_segment") or None
    return {
        "state": state.get("state", "starting"), "reason": state.get("reason", ""),
        "segments": state.get("segments", 0), "restarts": state.get("restarts", 0),
        "ingest": state.get("ingest") or {},
        "last_segment": {"start": last["start"], "end": last["end"]} if last else None,
    }


async def segments(request: web.Request) -> web.Response:
    grant = await authenticate(request)  # 401 before anything about the request is told
    query = request.query
    camera = params.camera_id(query.get("camera"))
    since = params.iso_ms(query, "from")
    until = params.iso_ms(query, "to")
    limit = params.bounded_int(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    if since is not None and until is not None and since > until:
        raise ApiError(400, "from must not be after to")
    require(grant, "playback", camera)
    ctx = request.app[CONTEXT]
    # one more than asked: tells whether the answer was cut short
    rows = await ctx.read_catalog(ctx.catalog.segments, SegmentQuery(
        camera=camera, since_ms=since, until_ms=until, status=PLAYABLE, limit=limit + 1))
    return web.json_response({
        "camera": camera,
        "from": iso_utc(since) if since is not None else None,
        "to": iso_utc(until) if until is not None else None,
        "truncated": len(rows) > limit,  # ask again from the last segment's end
        "segments": [segment_json(row) for row in rows[:limit]],
    })


def segment_json(segment: SegmentRecord) -> dict[str, Any]:
    """What a client may know of a segment: not where it lies on disk."""
    assert segment.id is not None
    return {
        "id": segment.id, "camera": segment.camera, "stream": segment.stream,
        "start": segment.start, "end": iso_utc(segment.end_ms),
        "start_ms": segment.start_ms, "end_ms": segment.end_ms,
        "duration_ms": segment.duration_ms, "bytes": segment.bytes, "tier": segment.tier,
        # where the bytes come from: this box's disk, or the copy in object storage
        "location": "object-store" if segment.status == SegmentStatus.REMOTE else "box",
        "video_codec": segment.video_codec, "width": segment.width, "height": segment.height,
        "has_audio": segment.has_audio, "url": segment_url(segment.id),
    }
