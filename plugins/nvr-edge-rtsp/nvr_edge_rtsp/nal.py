"""NAL units out of the live relay's packets and codec extradata (H.264 and H.265).

FFmpeg hands packets either in Annex B (start codes: what its RTSP demuxer gives) or
length-prefixed (avcC/hvcC: MP4 sources); extradata likewise."""

from __future__ import annotations

import re

H264, H265 = "h264", "hevc"
_START = re.compile(b"\x00\x00\x01")


def nal_type(codec: str, nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F if codec == H265 else nal[0] & 0x1F


def is_parameter_set(codec: str, nal: bytes) -> bool:
    kind = nal_type(codec, nal)
    return kind in (32, 33, 34) if codec == H265 else kind in (7, 8)


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units between start codes (3 or 4 bytes); trailing zeros dropped."""
    starts = [m.end() for m in _START.finditer(data)]
    nals = []
    for i, start in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        nal = data[start:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
    return nals


def split_length_prefixed(data: bytes, size: int = 4) -> list[bytes]:
    nals, at = [], 0
    while at + size <= len(data):
        length = int.from_bytes(data[at:at + size], "big")
        at += size
        if length == 0 or at + length > len(data):
            break  # a broken packet: what came before is still whole
        nals.append(data[at:at + length])
        at += length
    return nals


def is_annexb(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")


def split_packet(data: bytes, length_size: int = 4) -> list[bytes]:
    return split_annexb(data) if is_annexb(data) else split_length_prefixed(data, length_size)


def parameter_sets(codec: str, extradata: bytes) -> tuple[list[bytes], int]:
    """The parameter sets in `extradata` (Annex B, avcC or hvcC) and the NAL length size
    its packets use (4 for Annex B: unused there)."""
    if not extradata:
        return [], 4
    if is_annexb(extradata):
        return [n for n in split_annexb(extradata) if is_parameter_set(codec, n)], 4
    try:
        return (_hvcc(extradata) if codec == H265 else _avcc(extradata))
    except IndexError:
        return [], 4


def _avcc(data: bytes) -> tuple[list[bytes], int]:
    length_size = (data[4] & 3) + 1
    nals, at = [], 6
    for count_mask in (0x1F, 0xFF):  # SPS count (5 bits), then PPS count
        count = data[at - 1] & count_mask
        for _ in range(count):
            size = int.from_bytes(data[at:at + 2], "big")
            nals.append(data[at + 2:at + 2 + size])
            at += 2 + size
        at += 1
    return [n for n in nals if n], length_size


def _hvcc(data: bytes) -> tuple[list[bytes], int]:
    length_size = (data[21] & 3) + 1
    arrays, at, nals = data[22], 23, []
    for _ in range(arrays):
        count = int.from_bytes(data[at + 1:at + 3], "big")
        at += 3
        for _ in range(count):
            size = int.from_bytes(data[at:at + 2], "big")
            nals.append(data[at + 2:at + 2 + size])
            at += 2 + size
    return [n for n in nals if n], length_size
