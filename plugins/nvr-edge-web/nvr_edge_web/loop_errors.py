"""The web loop's exception handler: each kind of error logged at most once a minute.

At the file-descriptor limit asyncio reports every failed accept() with a traceback; under
a flood of connections that filled the log by hundreds of MB. One line per kind and
interval, with how many were left out, tells the same."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
INTERVAL_S = 60.0


class RateLimitedErrors:
    def __init__(self, interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s, self.clock = interval_s, clock
        self._last: dict[tuple[str, str], float] = {}
        self._skipped: dict[tuple[str, str], int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        key = (str(context.get("message", "")), type(exc).__name__ if exc else "")
        now = self.clock()
        if now - self._last.get(key, float("-inf")) < self.interval_s:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return
        skipped = self._skipped.pop(key, 0)
        self._last[key] = now
        if len(self._last) > 256:  # bounded: kinds seen once long ago are dropped
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval_s}
        if skipped:
            context = {**context, "message": f"{key[0]} ({skipped} more like it in the last "
                                             f"{self.interval_s:.0f} s not logged)"}
        if isinstance(exc, OSError):  # EMFILE and the like: the errno says it, no traceback
            log.error("web: %s: %s", context["message"], exc)
        else:
            loop.default_exception_handler(context)
