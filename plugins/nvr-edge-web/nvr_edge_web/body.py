"""Request bodies read whole and bounded: a size limit (413 naming it), a time limit, and
JSON with a nesting limit (400), so no body costs more than a bounded amount of work."""

from __future__ import annotations

import asyncio
import json
import re
from itertools import accumulate
from typing import Any

from aiohttp import web

from .context import CONTEXT
from .errors import ApiError

MAX_JSON_DEPTH = 32  # far beyond any real document
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)  # linear: one way to match each byte
_OPENING = frozenset(b"[{")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is larger than the limit of {limit} bytes")


async def read_body(request: web.Request, limit: int | None = None) -> bytes:
    """The whole body, at most `limit` bytes (default: `web.max_request_bytes`); 413 past it.
    A declared Content-Length over the limit is refused before a byte is read; a body that
    does not arrive within `web.idle_timeout_s` is a 408 (a slow sender holds no handler)."""
    settings = request.app[CONTEXT].settings
    limit = settings.max_request_bytes if limit is None else limit
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(settings.idle_timeout_s):
            while chunk := await request.content.read(64 * 1024):
                size += len(chunk)
                if size > limit:  # chunked, or a Content-Length that lied
                    raise too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, f"the request body did not arrive within "
                            f"{settings.idle_timeout_s:g} s") from None
    return b"".join(chunks)


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The body's JSON; 400 when it is not JSON or nests deeper than `max_depth` (checked
    before parsing: Python's json recurses per level, and past its limit it raises
    RecursionError or, with a raised limit, crashes)."""
    if nesting(body) > max_depth:
        raise ApiError(400, f"the JSON body nests deeper than {max_depth} levels")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from None


def nesting(body: bytes) -> int:
    """How deep arrays and objects nest, strings left out; linear in the body's size."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(1 if b in _OPENING else -1 for b in brackets), default=0)
