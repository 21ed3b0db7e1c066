"""aiohttp's access log without secrets: the query string's token is masked, the
Authorization header is never written, and the token's subject says who it was."""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from nvr_edge import redact

from .context import GRANT

ACCESS_LOGGER = "nvr_edge_web.access"
MAX_TARGET_CHARS = 300  # a 8 KiB junk URL is one short line, not a page of log
# Polled every few seconds by pages and scrapers: logged only when they fail.
_QUIET_PATHS = frozenset({"/healthz", "/api/status", "/metrics"})


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        quiet = request.path in _QUIET_PATHS and response.status < 400
        level = logging.DEBUG if quiet else logging.INFO
        if not self.logger.isEnabledFor(level):
            return
        grant = request.get(GRANT)
        subject = grant.subject if grant is not None else None
        # path_qs is the raw (percent-encoded) target: no line breaks can be injected
        target = redact(request.path_qs)
        if len(target) > MAX_TARGET_CHARS:
            target = target[:MAX_TARGET_CHARS] + "..."
        self.logger.log(level, '%s "%s %s" %d %d %.3fs sub=%s', request.remote,
                        request.method, target, response.status,
                        response.body_length, time, redact(repr(subject)))
