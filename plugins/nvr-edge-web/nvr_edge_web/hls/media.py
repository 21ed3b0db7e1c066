"""The relay's packets as MP4 samples: H.264 to 4-byte length-prefixed NAL units (what
`avc1` wants, whatever the camera sent) and its `avcC`; AAC without ADTS headers."""

from __future__ import annotations

from nvr_edge import is_annex_b, split_annex_b, split_length_prefixed

from ..webrtc.h264 import NAL_PPS, NAL_SPS, ParameterSets, nal_type

NAL_AUD = 9  # access unit delimiters mean nothing inside MP4


def h264_nals(data: bytes, params: ParameterSets) -> list[bytes]:
    if params.avcc:
        nals = split_length_prefixed(data, params.length_size)
    else:
        nals = split_annex_b(data) if is_annex_b(data) else split_length_prefixed(data, 4)
    return [n for n in nals if nal_type(n) != NAL_AUD]


def length_prefixed(nals: list[bytes]) -> bytes:
    return b"".join(len(n).to_bytes(4, "big") + n for n in nals)


def avcc(nals: list[bytes]) -> bytes | None:
    """An AVCDecoderConfigurationRecord from SPS/PPS units; None without both."""
    sps = [n for n in nals if nal_type(n) == NAL_SPS]
    pps = [n for n in nals if nal_type(n) == NAL_PPS]
    if not sps or not pps or len(sps[0]) < 4:
        return None
    out = bytearray([1, sps[0][1], sps[0][2], sps[0][3], 0xFF, 0xE0 | len(sps[:31])])
    for unit in sps[:31]:
        out += len(unit).to_bytes(2, "big") + unit
    out.append(len(pps[:255]))
    for unit in pps[:255]:
        out += len(unit).to_bytes(2, "big") + unit
    return bytes(out)


def raw_aac(data: bytes) -> bytes:
    """An ADTS frame's payload (7- or 9-byte header); raw AAC is returned as it is."""
    if len(data) > 7 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:
        return data[7 if data[1] & 0x01 else 9:]
    return data

