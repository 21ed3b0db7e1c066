"""Whether a video packet carries a picture.

When a camera hangs up between an access unit's delimiter and its slices, FFmpeg's parser
flushes what it holds as one last packet: an access unit without a picture (seen: 6 bytes,
start code + AUD). Muxed into a segment it makes every decoder report "missing picture in
access unit", so the recorder drops such packets instead of writing them.

Only packets of at most `WINDOW` bytes are read (the hot path sees one comparison for the
rest): a picture-less unit is a delimiter, parameter sets or an SEI, all small; a larger
packet is taken to hold a picture.
"""

from __future__ import annotations

from collections.abc import Iterator

WINDOW = 512
_START = b"\x00\x00\x01"


def is_vcl(codec: str, header: int) -> bool:
    """`header`: a NAL unit's first byte. Unknown codecs count as pictures (never dropped)."""
    if codec == "h264":
        return 1 <= header & 0x1F <= 5
    if codec == "hevc":
        return (header >> 1) & 0x3F <= 31
    return True


def annex_b_units(data: bytes) -> Iterator[bytes]:
    """Each NAL unit in start-code (Annex B) framing, without its start code."""
    at = data.find(_START)
    while at >= 0 and at + 3 < len(data):
        end = data.find(_START, at + 3)
        # a 4-byte start code's leading zero belongs to no unit (units end in a stop bit)
        yield data[at + 3:len(data) if end < 0 else end].rstrip(b"\x00")
        at = end


def annex_b_headers(data: bytes) -> Iterator[int]:
    """First byte of each NAL unit in start-code (Annex B) framing."""
    return (unit[0] for unit in annex_b_units(data) if unit)


def length_prefixed_headers(data: bytes, size_bytes: int = 4) -> Iterator[int]:
    """First byte of each NAL unit in MP4 (length-prefixed) framing."""
    at = 0
    while at + size_bytes < len(data):
        length = int.from_bytes(data[at:at + size_bytes], "big")
        if length == 0:
            return
        yield data[at + size_bytes]
        at += size_bytes + length


def has_picture(packet_data: bytes | memoryview, codec: str, length_prefixed: bool) -> bool:
    if codec not in ("h264", "hevc") or len(packet_data) > WINDOW:
        return True  # a larger unit is taken to hold its picture: nothing to read
    data = bytes(packet_data)
    headers = length_prefixed_headers(data) if length_prefixed else annex_b_headers(data)
    return any(is_vcl(codec, header) for header in headers)


def is_length_prefixed(extradata: bytes | None) -> bool:
    """avcC/hvcC extradata starts with configurationVersion 1; Annex B with a start code."""
    return bool(extradata) and extradata[:1] == b"\x01"
