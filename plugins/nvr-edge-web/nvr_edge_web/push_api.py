"""Emergency broadcast over HTTP: start, stop and list RTMP pushes at run time (admin).

The pushes themselves belong to the plugin that provides them (nvr-edge-rtmp), reached
through `appliance.push_control`; they are not written to the config."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from nvr_edge import ControlError

from .context import CONTEXT
from .errors import ApiError
from .guard import authorize
from .live import CAMERA

PUSHES_ROUTE = "/api/live/pushes"
PUSH_ROUTE = f"/api/live/{CAMERA}/push"


def add_routes(app: web.Application) -> None:
    app.router.add_get(PUSHES_ROUTE, pushes)
    app.router.add_post(PUSH_ROUTE, start_push)
    app.router.add_delete(PUSH_ROUTE, stop_push)


async def pushes(request: web.Request) -> web.Response:
    await authorize(request, "admin", None)
    return web.json_response({"pushes": await _control(request, "list", None, None)})


async def start_push(request: web.Request) -> web.Response:
    camera = request.match_info["camera"]
    await authorize(request, "admin", camera)
    running = await _control(request, "start", camera, await _url(request))
    return web.json_response({"pushes": running}, status=201)


async def stop_push(request: web.Request) -> web.Response:
    camera = request.match_info["camera"]
    await authorize(request, "admin", camera)
    running = await _control(request, "stop", camera, await _url(request))
    return web.json_response({"pushes": running})


async def _url(request: web.Request) -> str:
    """The target: `{"url": "rtmp://..."}` in the body (a stream key never sits in a
    query string, where access logs would keep it)."""
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise ApiError(400, "the body must be JSON: {\"url\": \"rtmp://...\"}") from None
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url:
        raise ApiError(400, "`url` (rtmp://host/app/stream) is required")
    return url


async def _control(request: web.Request, action: str, camera: str | None,
                   url: str | None) -> list[dict[str, Any]]:
    appliance = request.app[CONTEXT].appliance
    try:
        return await asyncio.to_thread(appliance.push_control, action, camera, url)
    except ControlError as exc:
        text = str(exc)
        status = 404 if text.startswith(("unknown camera", "no push of")) else \
            503 if text.startswith("no plugin") else 400
        raise ApiError(status, text) from None
