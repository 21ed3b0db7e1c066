"""H.264 Annex B byte streams: NAL unit types, without decoding anything."""

from __future__ import annotations

import re
from collections.abc import Iterator

_START = re.compile(b"\x00\x00\x01")
IDR, SPS, PPS = 5, 7, 8


def nal_types(data: bytes) -> Iterator[int]:
    for match in _START.finditer(data):
        if match.end() < len(data):
            yield data[match.end()] & 0x1F


def has_idr(data: bytes) -> bool:
    return IDR in nal_types(data)


def parameter_sets(data: bytes) -> bytes:
    """The SPS and PPS NAL units of an access unit, Annex B (4-byte start codes): a
    stream's extradata, as FFmpeg's RTSP demuxer makes it."""
    out = []
    for nal in _START.split(data)[1:]:  # (what precedes the first start code is none)
        nal = nal.rstrip(b"\x00")  # the next 4-byte start code's leading zero
        if nal and nal[0] & 0x1F in (SPS, PPS):
            out.append(b"\x00\x00\x00\x01" + nal)
    return b"".join(out)
