"""Who is asking, and may they: .auth applied to a request."""

from __future__ import annotations

import asyncio

from aiohttp import web

from .auth import Grant, require
from .context import CONTEXT, GRANT, LIMITER


async def authenticate(request: web.Request) -> Grant:
    """The request's grant (AuthError 401 without a valid token). Verification runs in a
    thread: in jwks mode it may fetch the key set."""
    auth = request.app[CONTEXT].auth
    grant = await asyncio.to_thread(auth.authenticate, request.headers, request.query)
    request[GRANT] = grant  # the access log names the subject
    request.app[LIMITER].authenticated(request.transport)  # no longer held to the cap
    return grant


async def authorize(request: web.Request, action: str, camera: str | None) -> Grant:
    """authenticate, then AuthError 403 unless `action` on `camera` is allowed."""
    grant = await authenticate(request)
    require(grant, action, camera)
    return grant
