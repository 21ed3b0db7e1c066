"""`GET /api/system`: what the system page shows. Each storage tier's space and the days of
recording it holds, the mover's backlog, every camera's state, reason and continuity,
the recent alerts, version and uptime; for an admin over every camera also the plugins'
status parts (object store, discovery) and versions.

Any token that lists cameras (`view` or `playback`) may read it: cameras and alerts are
filtered to the ones it covers; paths, plugin parts and versions are left out for it."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from nvr_edge import SegmentQuery, __version__, iso_utc

from .api import camera_status, visible_cameras
from .context import GRANT, WebContext

SYSTEM_ROUTE = "/api/system"
DAY_MS = 86_400_000


def add_routes(app: web.Application) -> None:
    app.router.add_get(SYSTEM_ROUTE, system)


async def system(request: web.Request) -> web.Response:
    ctx, visible = await visible_cameras(request)
    admin = request[GRANT].allows("admin", None)  # the grant visible_cameras verified
    snapshot = ctx.status()
    states = snapshot.get("cameras") or {}
    cameras = {}
    for camera_id in visible:
        state = states.get(camera_id) or {}
        cameras[camera_id] = {**camera_status(state), "recorded_s": state.get("recorded_s", 0)}
    body: dict[str, Any] = {
        "device": snapshot.get("device"), "version": __version__,
        "updated": snapshot.get("updated"), "uptime_s": snapshot.get("uptime_s"),
        "tiers": await _tiers(ctx, snapshot.get("tiers") or {}, admin),
        "catalog": {"healthy": (snapshot.get("catalog") or {}).get("healthy")},
        "cameras": cameras,
        "alerts": ctx.alerts.recent(lambda camera: camera is None or camera in visible),
    }
    if admin:
        parts = snapshot.get("plugins") or {}
        body["plugins"] = {k: v for k, v in parts.items() if k != "failures"}
        body["plugin_versions"] = ctx.appliance.plugins()
    return web.json_response(body)


async def _tiers(ctx: WebContext, rows: dict[str, Any], admin: bool) -> dict[str, Any]:
    tiers = {}
    for name, row in rows.items():
        held = await ctx.read_catalog(_held, ctx, name)
        tier = {key: row.get(key) for key in ("free_bytes", "total_bytes", "floor_bytes",
                                             "state", "backlog")}
        if admin:
            tier["path"] = row.get("path")
        tiers[name] = {**tier, **held, **_capacity(held, row)}
    return tiers


def _held(ctx: WebContext, tier: str) -> dict[str, Any]:
    """The tier's recordings from the catalog: bytes, and the days from its oldest segment
    to now (what a guard asks: how far back can I look?)."""
    usage = ctx.catalog.usage(tier)
    oldest = ctx.catalog.segments(SegmentQuery(tier=tier, status="ok", limit=1))
    if not oldest:
        return {"recorded_bytes": usage.bytes, "oldest": None, "days_held": 0.0}
    start = oldest[0].start_ms
    return {"recorded_bytes": usage.bytes, "oldest": iso_utc(start),
            "days_held": round((time.time() * 1000 - start) / DAY_MS, 4)}


def _capacity(held: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Days the tier would hold when full at the rate recorded so far (None: too early)."""
    days, used = held["days_held"], held["recorded_bytes"]
    free, floor = row.get("free_bytes"), row.get("floor_bytes") or 0
    if not days or not used or free is None:
        return {"days_capacity": None}
    per_day = used / days
    return {"days_capacity": round((used + max(0, free - floor)) / per_day, 2)}
