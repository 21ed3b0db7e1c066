"""H.264 access units as WebRTC wants them: Annex-B, with SPS/PPS before every IDR.

The relay gives what FFmpeg's demuxer gives: Annex-B from RTSP, but length-prefixed (AVCC)
from MP4 or RTMP sources, and SPS/PPS sometimes only in the extradata (the SDP's
sprop-parameter-sets). A browser cannot start decoding an IDR it has no SPS/PPS for, so
both forms are normalised here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nvr_edge import is_annex_b, split_annex_b, split_length_prefixed

START = b"\x00\x00\x00\x01"
NAL_IDR, NAL_SPS, NAL_PPS = 5, 7, 8


def nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F if nal else 0


@dataclass(frozen=True)
class ParameterSets:
    """SPS/PPS NAL units and the AVCC length size, from a stream's extradata."""

    nals: tuple[bytes, ...] = ()
    length_size: int = 4
    # avcC extradata means length-prefixed packets; sniffing a packet is not enough (a
    # 256-511 byte AVCC unit starts 00 00 01, like an Annex-B start code)
    avcc: bool = False


def parse_extradata(extradata: bytes) -> ParameterSets:
    """avcC (ISO 14496-15, first byte 1) or Annex-B (what FFmpeg's RTSP demuxer makes of
    sprop-parameter-sets); anything else: no parameter sets."""
    if is_annex_b(extradata):
        return ParameterSets(tuple(n for n in split_annex_b(extradata)
                                   if nal_type(n) in (NAL_SPS, NAL_PPS)))
    if len(extradata) < 7 or extradata[0] != 1:
        return ParameterSets()
    length_size = (extradata[4] & 0x03) + 1
    nals: list[bytes] = []
    i = 6
    count = extradata[5] & 0x1F
    for group in range(2):  # SPS, then PPS
        for _ in range(count):
            if i + 2 > len(extradata):
                return ParameterSets(tuple(nals), length_size, avcc=True)
            size = int.from_bytes(extradata[i:i + 2], "big")
            nals.append(extradata[i + 2:i + 2 + size])
            i += 2 + size
        if group == 0:
            if i >= len(extradata):
                break
            count, i = extradata[i], i + 1
    return ParameterSets(tuple(n for n in nals if n), length_size, avcc=True)


class AnnexBWriter:
    """One stream's access units to Annex-B. Remembers the latest in-band SPS/PPS (a camera
    may change them) and puts them before each IDR that lacks them."""

    def __init__(self, params: ParameterSets) -> None:
        self.params = params
        self.sps_pps = {nal_type(n): n for n in params.nals}

    def convert(self, data: bytes) -> bytes:
        if self.params.avcc:
            nals = split_length_prefixed(data, self.params.length_size)
        else:
            nals = split_annex_b(data) if is_annex_b(data) else split_length_prefixed(data, 4)
        types = [nal_type(n) for n in nals]
        for nal, kind in zip(nals, types, strict=True):
            if kind in (NAL_SPS, NAL_PPS):
                self.sps_pps[kind] = nal
        if NAL_IDR in types:
            first_idr = types.index(NAL_IDR)
            missing = [self.sps_pps[k] for k in (NAL_SPS, NAL_PPS)
                       if k in self.sps_pps and k not in types[:first_idr]]
            nals[first_idr:first_idr] = missing
        return join_annex_b(nals)


def join_annex_b(nals: Iterable[bytes]) -> bytes:
    return b"".join(START + nal for nal in nals)
