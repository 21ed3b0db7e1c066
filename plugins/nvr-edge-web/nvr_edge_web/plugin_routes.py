"""Routes other plugins add (`nvr_web_routes`), served behind the same token check and
error shape as the web plugin's own.

Asked once per server start, through `appliance.call_hook`: a plugin whose hook raises is
logged and counted by the appliance and simply adds no route. A route that would shadow
one already served, or that aiohttp refuses, is logged and left out."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web

from nvr_edge import Appliance, WebRoute

from .errors import Handler
from .guard import authorize

log = logging.getLogger(__name__)
HOOK = "nvr_web_routes"


def plugin_routes(appliance: Appliance) -> list[WebRoute]:
    routes: list[WebRoute] = []
    for answer in appliance.call_hook(HOOK, appliance=appliance):
        for route in answer:
            if isinstance(route, WebRoute):
                routes.append(route)
            else:
                log.error("web: %s gave %r, not a WebRoute; left out", HOOK, route)
    return routes


def add_routes(app: web.Application, routes: Iterable[WebRoute]) -> None:
    taken = {(r.method, r.resource.canonical) for r in app.router.routes()
             if r.resource is not None}
    for route in routes:
        method, handler = route.method.upper(), guarded(route)
        try:  # a scratch router first: the canonical path, and aiohttp's own checks
            trial = web.UrlDispatcher().add_route(method, route.path, handler)
        except (ValueError, RuntimeError, TypeError) as exc:
            log.error("web: plugin route %s %s left out: %s", method, route.path, exc)
            continue
        key = (method, trial.resource.canonical if trial.resource else route.path)
        if key in taken:
            log.error("web: plugin route %s %s is served already; left out", *key)
            continue
        taken.add(key)
        app.router.add_route(method, route.path, handler)


def guarded(route: WebRoute) -> Handler:
    """The plugin's handler behind the token check: `route.action` on the path's
    `{camera}`, or on every camera when the path names none."""
    async def handler(request: web.Request) -> web.StreamResponse:
        await authorize(request, route.action, request.match_info.get("camera"))
        return await route.handler(request)

    handler.__name__ = getattr(route.handler, "__name__", "plugin_route")
    return handler
