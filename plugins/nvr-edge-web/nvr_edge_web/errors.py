"""Every error is JSON `{"error": "..."}` with its status; nothing unexpected leaks out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from nvr_edge import CatalogError, redact

from .auth import AuthError
from .context import CONTEXT

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_KEPT_HEADERS = ("Allow", "Content-Range", "WWW-Authenticate")


class ApiError(Exception):
    """A refusal the client caused (400, 404, 416 ...); `message` is safe to send back."""

    def __init__(self, status: int, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})


def error_response(status: int, message: str,
                   headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.headers)
    except AuthError as exc:
        return error_response(exc.status, exc.reason,
                              {"WWW-Authenticate": exc.www_authenticate})
    except CatalogError as exc:
        log.warning("%s %s: %s", request.method, request.path, exc)  # CatalogError: redacted
        return error_response(503, "the catalog is not reachable now; try again later")
    except web.HTTPException as exc:  # the router's 404 and 405, a body over the limit
        if exc.status < 400:
            raise
        kept = {k: v for k, v in exc.headers.items() if k in _KEPT_HEADERS}
        if isinstance(exc, web.HTTPRequestEntityTooLarge):  # request.read() past the limit
            limit = request.app[CONTEXT].settings.max_request_bytes  # the app's client_max_size
            return error_response(413, f"the request body is larger than the limit of "
                                       f"{limit} bytes", kept)
        return error_response(exc.status, exc.reason, kept)
    except asyncio.CancelledError:
        raise
    except Exception:
        # The details go to the log (redacted by the appliance's formatter and here), never
        # to the client.
        log.exception("%s %s failed", request.method, redact(request.path_qs))
        return error_response(500, "internal error")
