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

from nvr_edge import CatalogError, SegmentQuery, __version__, iso_utc

from .api import camera_status, visible_cameras
from .context import GRANT, WebContext

SYSTEM_ROUTE = "/api/system"
DAY_MS = 86_400_000
HELD_FOR_S = 30.0  # a tier's history changes slowly; its SUM over the catalog is not free
UNKNOWN: dict[str, Any] = {"recorded_bytes": None, "oldest_ms": None}


class HeldCache:
    """Each tier's recordings summary (`_held`), asked of the catalog at most every
    HELD_FOR_S: pages refresh every 3 s, and an archive tier may index millions of rows."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, ctx: WebContext, tier: str) -> dict[str, Any]:
        at, row = self.rows.get(tier, (0.0, UNKNOWN))
        if time.monotonic() - at > HELD_FOR_S:
            try:
                row = await ctx.read_catalog(_held, ctx, tier)
            except CatalogError:  # the page still shows space and cameras; asked again next
                return row
            if row["oldest_ms"] is not None:  # an empty tier is cheap to ask again
                self.rows[tier] = (time.monotonic(), row)
        return row


HELD = web.AppKey("nvr_tier_held", HeldCache)


def add_routes(app: web.Application) -> None:
    app[HELD] = HeldCache()
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
        "tiers": await _tiers(request.app[HELD], ctx, snapshot.get("tiers") or {}, admin),
        "catalog": {"healthy": (snapshot.get("catalog") or {}).get("healthy")},
        "cameras": cameras,
        "alerts": ctx.alerts.recent(lambda camera: camera is None or camera in visible,
                                    paths=admin),
    }
    if admin:
        parts = snapshot.get("plugins") or {}
        body["plugins"] = {k: v for k, v in parts.items() if k != "failures"}
        body["plugin_versions"] = ctx.appliance.plugins()
    return web.json_response(body)


async def _tiers(cache: HeldCache, ctx: WebContext, rows: dict[str, Any], admin: bool,
                 ) -> dict[str, Any]:
    tiers = {}
    for name, row in rows.items():
        held = await cache.get(ctx, name)
        tier = {key: row.get(key) for key in ("free_bytes", "total_bytes", "floor_bytes",
                                             "state", "backlog")}
        if admin:
            tier["path"] = row.get("path")
        tiers[name] = {**tier, **_days(held, row)}
    return tiers


def _held(ctx: WebContext, tier: str) -> dict[str, Any]:
    """The tier's recordings from the catalog: their bytes and the oldest one's start."""
    usage = ctx.catalog.usage(tier)
    oldest = ctx.catalog.segments(SegmentQuery(tier=tier, status="ok", limit=1))
    return {"recorded_bytes": usage.bytes,
            "oldest_ms": oldest[0].start_ms if oldest else None}


def _days(held: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The days the tier holds, its oldest segment to now (what a guard asks: how far back
    can I look?), and about how many it would hold when full at the rate recorded so far
    (None: nothing recorded yet, or the catalog cannot say)."""
    used, oldest = held["recorded_bytes"], held["oldest_ms"]
    days = (time.time() * 1000 - oldest) / DAY_MS if oldest is not None else 0.0
    free, floor = row.get("free_bytes"), row.get("floor_bytes") or 0
    capacity = None
    if days > 0 and used and free is not None:
        capacity = round((used + max(0, free - floor)) / (used / days), 2)
    return {"recorded_bytes": used, "oldest": iso_utc(oldest) if oldest is not None else None,
            # six places (0.09 s): a box minutes old holds a fraction, not zero
            "days_held": round(days, 6), "days_capacity": capacity}
