"""At most one report per kind and interval, with how many were left out.

A fault that repeats on every tick (a duty failing twice a second, a muxer refusing every
packet of a full disk) must not fill the log: the first report tells what happened, later
ones how often it went on."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

MAX_KINDS = 256  # kinds not seen for an interval are forgotten beyond this many


class Throttle:
    def __init__(self, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s, self.clock = interval_s, clock
        self._last: dict[Hashable, float] = {}
        self._skipped: dict[Hashable, int] = {}

    def allow(self, kind: Hashable) -> int | None:
        """None: stay quiet about `kind` now; else report it, and this many were skipped."""
        now = self.clock()
        if now - self._last.get(kind, float("-inf")) < self.interval_s:
            self._skipped[kind] = self._skipped.get(kind, 0) + 1
            return None
        self._last[kind] = now
        if len(self._last) > MAX_KINDS:
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval_s}
        return self._skipped.pop(kind, 0)
