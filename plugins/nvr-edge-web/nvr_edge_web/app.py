"""The aiohttp application: routes, the error middleware, per-response bookkeeping."""

from __future__ import annotations

from aiohttp import web

from . import (
    api,
    commands_api,
    config_api,
    exports,
    me_api,
    playback_api,
    plugin_routes,
    system_api,
)
from .connections import ConnectionLimiter
from .context import CONTEXT, LIMITER, WebContext
from .download import ID_PATTERN, segment_file
from .errors import json_errors
from .exposition import CONTENT_TYPE as METRICS_TYPE
from .guard import authorize
from .hls import routes as hls
from .metrics import render_metrics
from .page import Page
from .webrtc import whep

UNMATCHED = "unmatched"  # the route label of requests no route took (bounded cardinality)


def make_app(ctx: WebContext) -> web.Application:
    app = web.Application(middlewares=[json_errors],
                          client_max_size=ctx.settings.max_request_bytes)
    app[CONTEXT] = ctx
    app[LIMITER] = ConnectionLimiter(ctx.settings.max_unauthenticated_connections)
    page = Page()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", page.index)
    app.router.add_get("/static/{name}", page.static)
    app.router.add_get("/api/cameras", api.cameras)
    app.router.add_get("/api/status", api.status)
    app.router.add_get("/api/segments", api.segments)
    app.router.add_get(f"/api/segments/{{id:{ID_PATTERN}}}.mp4", segment_file)
    app.router.add_get("/metrics", metrics)
    whep.add_routes(app)  # POST the offer, DELETE the session
    hls.add_routes(app)  # LL-HLS: the playlist, init, segments and parts
    config_api.add_routes(app)  # read, replace or patch the configuration (admin)
    commands_api.add_routes(app)  # every plugin's commands (nvr_commands)
    me_api.add_routes(app)  # what the token allows (the page hides what it may not use)
    system_api.add_routes(app)  # the system page: tiers, cameras, alerts
    playback_api.add_routes(app)  # the timeline's gaps and their causes
    exports.add_routes(app, ctx.config.storage.state_dir)  # a range as one MP4, with progress
    # Last: other plugins' routes (nvr_web_routes) never shadow the ones above.
    plugin_routes.add_routes(app, plugin_routes.plugin_routes(ctx.appliance))
    app.on_response_prepare.append(_count_and_harden)
    return app


async def healthz(request: web.Request) -> web.Response:
    """Open (no token): says only that the HTTP side answers."""
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    await authorize(request, "admin", None)
    ctx = request.app[CONTEXT]
    text = render_metrics(ctx.status(), ctx.camera_ids(), ctx.http, ctx.live,
                          request.app[LIMITER])
    return web.Response(text=text, headers={"Content-Type": METRICS_TYPE})


async def _count_and_harden(request: web.Request, response: web.StreamResponse) -> None:
    """Runs when the status is final (FileResponse picks 206/416 only at this point)."""
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else UNMATCHED
    request.app[CONTEXT].http.count(route, response.status)
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")  # URLs may carry ?token=
    if response.content_type == "application/json":
        headers.setdefault("Cache-Control", "no-store")
