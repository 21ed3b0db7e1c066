"""When to end a segment: the first keyframe at or after the target length.

Keyframes can land a few ticks early, so "at or after" allows half a frame. Cameras of one
box start together; a per-camera stagger shortens each camera's first segment by a
different share of the segment length so their rotations (and fsync bursts) do not fall
in the same second.
"""

from __future__ import annotations


def stagger_s(index: int, count: int, segment_seconds: int) -> float:
    """How much shorter camera number `index` (of `count`) makes its first segment: the
    box's cameras rotate evenly spread over one segment length, not all at once."""
    return segment_seconds * (index % max(count, 1)) / max(count, 1)


def should_cut(is_keyframe: bool, elapsed_s: float, target_s: float, frame_s: float) -> bool:
    return is_keyframe and elapsed_s >= target_s - frame_s / 2
