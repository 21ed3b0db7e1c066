"""A request as it arrives: its action (from the topic) and its JSON payload, bounded.

Anyone who may publish on the broker reaches this code, so every request is held to a
size, a nesting depth and an action-name length before anything else looks at it; a
request past a limit gets an error answer naming the limit, like any other bad request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nvr_edge import nesting_depth

MAX_REQUEST_BYTES = 1_000_000
# A whole config fits in 6 levels ({"config": {"rtmp": {"push": [{...}]}}}); deeper is no
# request, and the config code below walks documents recursively.
MAX_DEPTH = 32
MAX_ACTION_CHARS = 64


class RequestError(Exception):
    """A request the box understood but cannot honour; the text goes back to the sender."""


@dataclass(frozen=True)
class Request:
    action: str
    transaction: Any
    args: Mapping[str, Any]


def parse_request(action: str, payload: bytes) -> Request:
    """The request in `payload`; RequestError (with what transaction could be read) if bad."""
    if len(action) > MAX_ACTION_CHARS:
        raise RequestError(f"action name too long ({len(action)} characters, at most "
                           f"{MAX_ACTION_CHARS})")
    if len(payload) > MAX_REQUEST_BYTES:
        raise RequestError(f"request too large ({len(payload)} bytes, at most "
                           f"{MAX_REQUEST_BYTES})")
    if not payload.strip():
        return Request(action, None, {})
    try:
        body = json.loads(payload)
    except RecursionError:
        raise RequestError(f"payload nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # bad JSON, bad UTF-8, an integer of 5000 digits
        raise RequestError(f"payload is not JSON: {shorten(str(exc))}") from None
    if nesting_depth(body) > MAX_DEPTH:
        raise RequestError(f"payload nested too deeply (at most {MAX_DEPTH} levels)")
    if not isinstance(body, dict):
        raise RequestError(f"payload must be a JSON object, got {type(body).__name__}")
    transaction = body.pop("transaction", None)
    return Request(action, transaction, body)


def shorten(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters: what answers and logs quote of a sender's input."""
    return text if len(text) <= limit else text[:limit - 3] + "..."
