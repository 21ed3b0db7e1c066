"""H.264 Annex B byte streams: NAL unit types, without decoding anything."""

from __future__ import annotations

import re
from collections.abc import Iterator

_START = re.compile(b"\x00\x00\x01")
IDR, SPS = 5, 7


def nal_types(data: bytes) -> Iterator[int]:
    for match in _START.finditer(data):
        if match.end() < len(data):
            yield data[match.end()] & 0x1F


def has_idr(data: bytes) -> bool:
    return IDR in nal_types(data)
