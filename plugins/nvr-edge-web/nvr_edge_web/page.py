"""The live-view page: a fixed set of files from the package's static folder, read once.

The page and its modules are the same public code on every box and carry no data, so
they are served without a token (like /healthz); everything they show comes from the API,
which wants one. A request names a file of the set, never a path."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from .errors import ApiError

CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                 ".svg": "image/svg+xml"}
INDEX = "index.html"
# Only this origin's own files; media from segment URLs; the relay's WHEP is same-origin.
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str


def load_static() -> dict[str, StaticFile]:
    folder = resources.files("nvr_edge_web") / "static"
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in CONTENT_TYPES:
            files[entry.name] = StaticFile(entry.read_bytes(), CONTENT_TYPES[suffix])
    return files


class Page:
    def __init__(self) -> None:
        self.files = load_static()

    async def index(self, request: web.Request) -> web.Response:
        return self._respond(INDEX)

    async def static(self, request: web.Request) -> web.Response:
        return self._respond(request.match_info["name"])

    def _respond(self, name: str) -> web.Response:
        found = self.files.get(name)
        if found is None:
            raise ApiError(404, "no such file")
        headers = {"Cache-Control": "no-cache"}
        if found.content_type == "text/html":
            headers["Content-Security-Policy"] = PAGE_POLICY
        return web.Response(body=found.body, content_type=found.content_type,
                            charset="utf-8", headers=headers)
