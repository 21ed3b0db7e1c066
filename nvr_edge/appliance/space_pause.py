"""Cameras stopped because the cache refused their next segment, and when they may record
again.

A worker whose space reservation fails (ENOSPC) exits with EXIT_NO_SPACE. Restarting it at
once would only fail again, and counting the exit as a crash let the storm guard disable
the camera for half an hour, past the moment space came back. The camera waits instead,
and the supervisor starts it again as soon as the cache could take its next segment (it
looks on every loop, twice a second).
"""

from __future__ import annotations

from nvr_edge.appliance.workers import CameraRuntime
from nvr_edge.camera.recorder import DEFAULT_BYTES_PER_S
from nvr_edge.models import Tier
from nvr_edge.storage.space_policy import SpacePolicy

RESERVE_MARGIN = 1.1  # the worker reserves its measured rate x segment length x 1.1
PAUSED_REASON = "no space on the cache; recording resumes as soon as there is"


def expected_segment_bytes(runtime: CameraRuntime, segment_seconds: int) -> int:
    """What the camera's worker will try to reserve for its next segment."""
    last = runtime.last_segment
    rate: float = DEFAULT_BYTES_PER_S
    if last is not None and last.duration_ms > 1000:
        rate = last.bytes / (last.duration_ms / 1000)
    return int(rate * segment_seconds * RESERVE_MARGIN)


def short_of_space(policy: SpacePolicy, runtime: CameraRuntime) -> bool:
    """True while the cache could not take this camera's next segment."""
    space = policy.measure(Tier.CACHE)
    needed = expected_segment_bytes(runtime, policy.storage.segment_seconds)
    return space is not None and not policy.can_reserve(space, needed)
