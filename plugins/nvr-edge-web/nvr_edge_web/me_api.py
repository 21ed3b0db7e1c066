"""`GET /api/me`: what the request's token allows, so the page shows only what it may use
(no admin controls for a `view` token) and warns before the token expires."""

from __future__ import annotations

import time

from aiohttp import web

from nvr_edge import iso_utc

from .auth import ALL_CAMERAS
from .guard import authenticate

ME_ROUTE = "/api/me"


def add_routes(app: web.Application) -> None:
    app.router.add_get(ME_ROUTE, me)


async def me(request: web.Request) -> web.Response:
    """Any valid token: it only describes itself (no camera state, nothing of the box)."""
    grant = await authenticate(request)
    cameras = ALL_CAMERAS if grant.cameras is None else sorted(grant.cameras)
    return web.json_response({
        "subject": grant.subject, "actions": sorted(grant.actions), "cameras": cameras,
        # admin over every camera: the cameras page and /api/config are for this token
        "admin": grant.allows("admin", None),
        "expires": iso_utc(grant.expires_at * 1000),
        "expires_in_s": max(0, grant.expires_at - int(time.time())),
    })
