"""The player library setup-js.sh fetched from npm (hls.js), served next to the page's own
files when it is there; a 404 otherwise, and the page falls back to native HLS.

Served from here, not by page.py: the page's set is its own committed files, read from
the static folder's top level; this one is optional and lives in static/vendor/."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from ..errors import ApiError

ROUTE = "/static/vendor/hls.mjs"


def add_route(app: web.Application) -> None:
    found = resources.files("nvr_edge_web") / "static" / "vendor" / "hls.mjs"
    body = found.read_bytes() if found.is_file() else None

    async def hls_js(request: web.Request) -> web.Response:
        if body is None:
            raise ApiError(404, "hls.js is not installed on this appliance (setup-js.sh)")
        return web.Response(body=body, content_type="text/javascript", charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    app.router.add_get(ROUTE, hls_js)
