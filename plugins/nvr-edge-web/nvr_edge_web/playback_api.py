"""`GET /api/gaps?camera=C&from=T1&to=T2`: the holes in a camera's recording, each with its
cause where the box knows it (gaps.py), for the playback timeline."""

from __future__ import annotations

import asyncio

from aiohttp import web

from nvr_edge import SegmentQuery, iso_utc, now_ms, read_history

from . import gaps, params
from .auth import require
from .context import CONTEXT, WebContext
from .download import PLAYABLE
from .guard import authenticate

MAX_SPAN_MS = 31 * 86_400_000  # a month of holes at most per question
MAX_SEGMENTS = 100_000


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/gaps", gaps_route)


async def gaps_route(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    query = request.query
    camera = params.camera_id(query.get("camera"))
    since, until = params.time_range(query, MAX_SPAN_MS, "31 days")
    require(grant, "playback", camera)
    ctx = request.app[CONTEXT]
    rows = await ctx.read_catalog(ctx.catalog.segments, SegmentQuery(
        camera=camera, since_ms=since, until_ms=until, status=PLAYABLE,
        limit=MAX_SEGMENTS))
    now = now_ms()
    state = (ctx.status().get("cameras") or {}).get(camera) or {}
    events = await asyncio.to_thread(camera_events, ctx, camera, until)
    found = [gaps.explain(hole, events, _state(ctx, camera, state),
                          state.get("reason", ""), now)
             for hole in gaps.holes(((r.start_ms, r.end_ms) for r in rows), since,
                                    min(until, now))]
    return web.json_response({"camera": camera, "from": iso_utc(since), "to": iso_utc(until),
                              "gaps": [gap.as_json() for gap in found]})


def _state(ctx: WebContext, camera: str, state: dict[str, object]) -> str:
    configured = next((c for c in ctx.config.cameras if c.id == camera), None)
    if configured is not None and not configured.enabled:
        return "disabled"
    return str(state.get("state", ""))


def camera_events(ctx: WebContext, camera: str, until_ms: int) -> list[gaps.Event]:
    """What the box's history tells of the camera's holes: its states and alerts, and the
    box's own (disk full, off)."""
    found = (gaps.event_of(e.at_ms, e.kind, e.code, e.detail)
             for e in read_history(ctx.config.storage.state_dir, camera, until_ms=until_ms))
    return [e for e in found if e is not None]
