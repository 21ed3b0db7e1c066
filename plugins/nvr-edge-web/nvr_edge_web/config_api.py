"""The configuration over HTTP (admin on every camera): read it with secrets masked, replace
it or change part of it. A change is validated like the file, written atomically and
applied at once (nvr_edge.appliance.control); what it did comes back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from nvr_edge import ConfigChange, ConfigError, ControlError, redact

from .body import parse_json, read_body
from .context import CONTEXT
from .errors import ApiError
from .guard import authorize

CONFIG_ROUTE = "/api/config"
MERGE_PATCH = "application/merge-patch+json"
MAX_BODY = 1 << 20  # a whole configuration may exceed web.max_request_bytes


def add_routes(app: web.Application) -> None:
    app.router.add_get(CONFIG_ROUTE, read_config)
    app.router.add_put(CONFIG_ROUTE, replace_config)
    app.router.add_patch(CONFIG_ROUTE, patch_config)


async def read_config(request: web.Request) -> web.Response:
    await authorize(request, "admin", None)
    return web.json_response({"config": request.app[CONTEXT].appliance.public_config()})


async def replace_config(request: web.Request) -> web.Response:
    """The whole document; masked secrets (***) keep their running values."""
    await authorize(request, "admin", None)
    document = await _object(request, ("application/json",))
    appliance = request.app[CONTEXT].appliance
    return await _apply(lambda: appliance.set_config(document))


async def patch_config(request: web.Request) -> web.Response:
    """An RFC 7386 merge patch: `{"webrtc": {"max_viewers_per_camera": 4}}`; null removes
    a key. `cameras` is an array, so a patch replaces it whole."""
    await authorize(request, "admin", None)
    patch = await _object(request, (MERGE_PATCH, "application/json"))
    appliance = request.app[CONTEXT].appliance
    return await _apply(lambda: appliance.patch_config(patch))


async def _object(request: web.Request, types: tuple[str, ...]) -> Mapping[str, Any]:
    if request.content_type not in types:
        raise ApiError(415, f"send the configuration as {' or '.join(types)}")
    document = parse_json(await read_body(request, MAX_BODY))
    if not isinstance(document, dict):
        raise ApiError(400, "the body must be a JSON object (the configuration's tables)")
    return document


async def _apply(change: Callable[[], ConfigChange]) -> web.Response:
    try:
        done = await asyncio.to_thread(change)
    except (ConfigError, ControlError) as exc:
        message = redact(str(exc))  # a bad camera URL may carry its password
        # Nothing was applied; a refused document was not written either.
        raise ApiError(500 if message.startswith("cannot write") else 400, message) from None
    return web.json_response({"change": done.as_dict()})
