"""H.264/H.265 NAL units, without decoding anything: types, and the units out of a packet
or extradata in either form FFmpeg hands them (Annex B start codes from RTSP, or
length-prefixed avcC/hvcC from MP4 and RTMP sources). The one splitter the live outputs
(WebRTC, LL-HLS, RTSP restream) share."""

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


def is_annex_b(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")


def split_annex_b(data: bytes) -> list[bytes]:
    """NAL units without their start codes (3- or 4-byte); trailing zeros dropped."""
    nals, i = [], data.find(b"\x00\x00\x01")
    while i != -1:
        begin = i + 3
        i = data.find(b"\x00\x00\x01", begin)
        nal = (data[begin:] if i == -1 else data[begin:i]).rstrip(b"\x00")
        if nal:
            nals.append(nal)
    return nals


def split_length_prefixed(data: bytes, length_size: int = 4) -> list[bytes]:
    """NAL units of an avcC/hvcC packet; a truncated unit ends the list (what came before
    it is still whole)."""
    nals, i = [], 0
    while i + length_size <= len(data):
        size = int.from_bytes(data[i:i + length_size], "big")
        i += length_size
        if size == 0 or i + size > len(data):
            break
        nals.append(data[i:i + size])
        i += size
    return nals


def parameter_sets(data: bytes) -> bytes:
    """The SPS and PPS NAL units of an access unit, Annex B (4-byte start codes): a
    stream's extradata, as FFmpeg's RTSP demuxer makes it."""
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in split_annex_b(data)
                    if nal[0] & 0x1F in (SPS, PPS))


SLICES = frozenset(range(1, 6))  # NAL types that carry a picture (5: IDR)


class HeaderRepeater:
    """An encoder's Annex B packets made so that any keyframe starts a stream (a segment,
    a viewer): SPS/PPS go before each keyframe that lacks them, and a packet of headers
    alone (a V4L2 encoder's first buffer) is kept for the next keyframe instead of being
    passed on as if it were a frame's. x264 repeats its headers itself; hardware
    encoders often send them once."""

    def __init__(self, extradata: bytes | None = None) -> None:
        self.headers = parameter_sets(extradata) if extradata else b""

    def packet(self, data: bytes, flagged: bool) -> tuple[bytes, bool] | None:
        """(`data` with the headers it needs, whether it is a keyframe: `flagged` by the
        encoder, or an IDR inside); None: headers only, kept. One scan of the packet."""
        types = set(nal_types(data))
        if SPS in types:
            self.headers = parameter_sets(data)
        if not types & SLICES:
            return None
        keyframe = flagged or IDR in types
        if keyframe and SPS not in types and self.headers:
            return self.headers + data, True
        return data, keyframe
