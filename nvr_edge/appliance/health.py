"""When a camera worker is unhealthy: the restart-storm guard, the segment-rate check and
the worker's CPU and memory, as small policies the supervisor applies."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from nvr_edge.procfs import cpu_seconds, rss_mib


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
    should have is stuck (e.g. under 2 in 10 minutes of 180 s segments)."""
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
        cpu_s, rss = cpu_seconds(self.pid), rss_mib(self.pid)
        if cpu_s is None or rss is None:
            return None
        previous, self.last = self.last, (cpu_s, now)
        if previous is None or now <= previous[1]:
            return None
        percent = 100 * (cpu_s - previous[0]) / (now - previous[1])
        return ProcessSample(percent, rss)
