"""NAL units out of the live relay's packets and codec extradata (H.264 and H.265).

FFmpeg hands packets either in Annex B (start codes: what its RTSP demuxer gives) or
length-prefixed (avcC/hvcC: MP4 sources); extradata likewise."""

from __future__ import annotations

from nvr_edge import is_annex_b, split_annex_b, split_length_prefixed

H264, H265 = "h264", "hevc"


def nal_type(codec: str, nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F if codec == H265 else nal[0] & 0x1F


def is_parameter_set(codec: str, nal: bytes) -> bool:
    kind = nal_type(codec, nal)
    return kind in (32, 33, 34) if codec == H265 else kind in (7, 8)


def split_packet(data: bytes, length_size: int = 4) -> list[bytes]:
    return split_annex_b(data) if is_annex_b(data) else split_length_prefixed(data, length_size)


def parameter_sets(codec: str, extradata: bytes) -> tuple[list[bytes], int]:
    """The parameter sets in `extradata` (Annex B, avcC or hvcC) and the NAL length size
    its packets use (4 for Annex B: unused there)."""
    if not extradata:
        return [], 4
    if is_annex_b(extradata):
        return [n for n in split_annex_b(extradata) if is_parameter_set(codec, n)], 4
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
