"""The live routes' paths. WHEP is served by `webrtc/whep.py`; LL-HLS is reserved: checked
like the real thing, answered 501 until it is there (its handler replaces `not_yet`)."""

from __future__ import annotations

from aiohttp import web

from .context import CONTEXT
from .errors import ApiError
from .guard import authorize

CAMERA = r"{camera:[A-Za-z0-9][A-Za-z0-9_-]{0,63}}"
WHEP_ROUTE = f"/live/{CAMERA}/whep"
HLS_ROUTE = f"/live/{CAMERA}/index.m3u8"


async def not_yet(request: web.Request) -> web.StreamResponse:
    camera = request.match_info["camera"]
    await authorize(request, "view", camera)
    if camera not in request.app[CONTEXT].camera_ids():
        raise ApiError(404, f"there is no camera {camera!r}")
    raise ApiError(501, "live view is not available on this appliance yet")
