"""Synthetic test frames (no numpy): a gradient that moves each frame, so the encoder
sees motion and a decoded frame can be told apart from a blank one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av


def frames(width: int, height: int, count: int) -> Iterator[av.VideoFrame]:
    import av

    ramp = bytes(range(256)) * (width // 256 + 4)  # shift + padded line fit
    for i in range(count):
        frame = av.VideoFrame(width, height, "yuv420p")
        for index, plane in enumerate(frame.planes):
            shift = (i * 4 + index * 64) % 256
            row = ramp[shift:shift + plane.line_size]
            plane.update(row * plane.height)
        frame.pts = i
        yield frame
