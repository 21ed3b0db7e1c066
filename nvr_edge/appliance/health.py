"""The spec's RecordingProcessMonitor, as small policies the supervisor applies."""

from __future__ import annotations

import math
import os
from collections import deque
from dataclasses import dataclass, field

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class RestartGuard:
    """More than `limit` restarts within `window_s` means the camera is unstable."""

    limit: int
    window_s: float
    times: deque[float] = field(default_factory=deque)

    def record(self, now: float) -> bool:
        """Count a restart; True when this one makes it a storm."""
        self.times.append(now)
        while self.times and now - self.times[0] > self.window_s:
            self.times.popleft()
        return len(self.times) > self.limit

    def clear(self) -> None:
        self.times.clear()


def too_few_segments(closed_at: list[float], online_since: float | None, now: float,
                     window_s: float, segment_seconds: float) -> bool:
    """A camera online for the whole window that closed fewer than half the segments it
    should have is stuck (the spec: under 2 in 10 minutes of 180 s segments)."""
    if online_since is None or now - online_since < window_s:
        return False
    recent = sum(1 for t in closed_at if now - t <= window_s)
    expected = window_s / segment_seconds
    return recent < max(1, math.ceil(expected * 0.5))


@dataclass
class ProcessSample:
    cpu_percent: float  # of one core, since the previous sample
    rss_mb: float


class ProcessSampler:
    """CPU and memory of one process from /proc, without extra dependencies."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.last: tuple[float, float] | None = None  # (cpu seconds, wall seconds)

    def sample(self, now: float) -> ProcessSample | None:
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{self.pid}/statm") as f:
                rss_pages = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            return None
        cpu_s = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
        previous, self.last = self.last, (cpu_s, now)
        if previous is None or now <= previous[1]:
            return None
        percent = 100 * (cpu_s - previous[0]) / (now - previous[1])
        return ProcessSample(percent, rss_pages * _PAGE / 2**20)
