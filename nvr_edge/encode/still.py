"""One picture of a stream as a JPEG: decoded from a keyframe on, scaled to a width, encoded
once. For snapshots (a camera's tile, a stream tested before it is added, a found camera):
one decoder, one frame, a few tens of KB out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

# A decoder that has given no picture after this many packets from a keyframe never will
# (H.264 with deep reordering gives its first within a handful).
MAX_PACKETS = 120
DEFAULT_WIDTH = 640
MAX_WIDTH = 1920
# MJPEG quantiser range: 2 (best) .. 31; 2-8 reads well on a camera picture at ~30-60 KB
QMIN, QMAX = 2, 8


class NoPicture(ValueError):
    """The packets gave no picture (not decodable, or no keyframe among them)."""


@dataclass(frozen=True)
class Still:
    jpeg: bytes
    width: int   # the source picture's, before scaling
    height: int


def scaled_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """At most `max_width` wide, the aspect kept, both even (4:2:0 chroma), at least 16."""
    w = max(16, min(width, max_width)) & ~1
    h = max(16, round(height * w / max(width, 1))) & ~1
    return w, h


def jpeg_of(frame: Any, max_width: int = DEFAULT_WIDTH) -> Still:
    """`frame` (an av.VideoFrame) as a JPEG at most `max_width` wide."""
    width, height = scaled_size(frame.width, frame.height, max_width)
    picture = frame.reformat(width=width, height=height, format="yuvj420p")
    encoder: Any = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.qmin, encoder.qmax = QMIN, QMAX
    packets = encoder.encode(picture) + encoder.encode(None)
    return Still(b"".join(bytes(p) for p in packets), frame.width, frame.height)


def first_picture(codec: str, extradata: bytes | None, packets: Iterable[bytes],
                  max_width: int = DEFAULT_WIDTH) -> Still:
    """The first picture decoded from `packets` (a keyframe first, then what follows it),
    as a JPEG; NoPicture when none comes within MAX_PACKETS."""
    try:
        decoder: Any = av.CodecContext.create(codec, "r")
    except (av.FFmpegError, ValueError) as exc:
        raise NoPicture(f"no decoder for {codec!r}") from exc
    if extradata:
        decoder.extradata = extradata
    fed = 0
    try:
        for data in packets:
            for frame in decoder.decode(av.Packet(data)):
                return jpeg_of(frame, max_width)
            fed += 1
            if fed >= MAX_PACKETS:
                break
        for frame in decoder.decode(None):  # what the decoder still holds
            return jpeg_of(frame, max_width)
    except av.FFmpegError as exc:
        raise NoPicture(f"the {codec} stream could not be decoded: {exc}") from exc
    raise NoPicture(f"no picture decoded from {fed} {codec} packets")
