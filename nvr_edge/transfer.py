"""Copying segment files at a steady pace and proving the copy: the tier mover and
off-box archive plugins share these."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

CHUNK = 1 << 20


def crc32_text(value: int) -> str:
    """How the catalog writes a checksum: "crc32:<8 hex digits>"."""
    return f"crc32:{value:08x}"


def file_crc32(path: Path) -> str:
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            crc = zlib.crc32(block, crc)
    return crc32_text(crc)


class RateLimiter:
    """Spreads `rate` bytes per second evenly, so a copy never bursts past it."""

    def __init__(self, bytes_per_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bytes_per_s, self.clock = bytes_per_s, clock
        self.start = clock()
        self.sent = 0

    def pace(self, n: int, stop: threading.Event) -> None:
        self.sent += n
        ahead = self.sent / self.bytes_per_s - (self.clock() - self.start)
        if ahead > 0:
            stop.wait(ahead)
