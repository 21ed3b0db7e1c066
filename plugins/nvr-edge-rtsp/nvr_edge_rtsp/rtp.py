"""RTP packetization: H.264 (RFC 6184: single NAL unit, FU-A), H.265 (RFC 7798: single
NAL unit, FU), AAC (RFC 3640 AAC-hbr, one access unit per packet); RTCP sender reports
(RFC 3550) so clients line audio up with video; interleaved framing (RFC 2326 10.12)."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator

from .nal import H265

MAX_PAYLOAD = 1400  # fits an Ethernet MTU with IP/UDP/RTP headers, for UDP later
_RTP = struct.Struct("!BBHII")
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds 1900 -> 1970


def fragment(codec: str, nal: bytes, max_payload: int = MAX_PAYLOAD) -> Iterator[bytes]:
    """The RTP payloads of one NAL unit: itself when it fits, else FU-A (H.264) or FU
    (H.265) fragments whose reassembly is `nal`."""
    if len(nal) <= max_payload:
        yield nal
        return
    if codec == H265:
        head = bytes(((nal[0] & 0x81) | (49 << 1), nal[1]))
        kind, body = (nal[0] >> 1) & 0x3F, nal[2:]
    else:
        head = bytes(((nal[0] & 0xE0) | 28,))
        kind, body = nal[0] & 0x1F, nal[1:]
    step = max_payload - len(head) - 1
    for at in range(0, len(body), step):
        start = 0x80 if at == 0 else 0
        end = 0x40 if at + step >= len(body) else 0
        yield head + bytes((start | end | kind,)) + body[at:at + step]


def reassemble(codec: str, payloads: list[bytes]) -> bytes:
    """The NAL unit `fragment` cut into `payloads` (the receiving side; tests use it)."""
    if len(payloads) == 1:
        return payloads[0]
    if codec == H265:
        first = payloads[0]
        kind = first[2] & 0x3F
        head = bytes(((first[0] & 0x81) | (kind << 1), first[1]))
        return head + b"".join(p[3:] for p in payloads)
    first = payloads[0]
    head = bytes(((first[0] & 0xE0) | (first[1] & 0x1F),))
    return head + b"".join(p[2:] for p in payloads)


def aac_payload(frame: bytes) -> bytes:
    """One AAC access unit (ADTS header stripped) under an RFC 3640 AU header section."""
    if len(frame) > 7 and frame[0] == 0xFF and frame[1] & 0xF0 == 0xF0:
        frame = frame[9 if not frame[1] & 1 else 7:]  # CRC present: 9-byte header
    return struct.pack("!HH", 16, (len(frame) << 3) & 0xFFFF) + frame


class RtpStream:
    """One track of one client: sequence numbers, timestamps, counts for its reports."""

    def __init__(self, payload_type: int, clock: int, ssrc: int, ts_offset: int,
                 seq: int) -> None:
        self.payload_type, self.clock, self.ssrc = payload_type, clock, ssrc
        self.ts_offset, self.seq = ts_offset, seq
        self.packets = self.octets = 0
        self.last_ts: int | None = None       # RTP time of the last packet sent
        self.last_wall: float = 0.0           # its wall-clock (presentation) time

    def timestamp(self, seconds: float) -> int:
        return (self.ts_offset + round(seconds * self.clock)) & 0xFFFFFFFF

    def packet(self, payload: bytes, ts: int, marker: bool) -> bytes:
        head = _RTP.pack(0x80, (0x80 if marker else 0) | self.payload_type, self.seq, ts,
                         self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        self.packets += 1
        self.octets += len(payload)
        self.last_ts = ts
        return head + payload

    def sender_report(self, cname: bytes = b"nvr-edge") -> bytes:
        """RTCP SR + SDES (a compound packet): the last sent RTP time against the wall
        clock it stands for, so clients line tracks up."""
        wall = self.last_wall or time.time()
        seconds = int(wall) + NTP_EPOCH_OFFSET
        fraction = int((wall % 1) * (1 << 32)) & 0xFFFFFFFF
        sr = struct.pack("!BBHIIIIII", 0x80, 200, 6, self.ssrc, seconds & 0xFFFFFFFF,
                         fraction, self.last_ts or 0, self.packets & 0xFFFFFFFF,
                         self.octets & 0xFFFFFFFF)
        item = bytes((1, len(cname))) + cname + b"\x00"
        item += b"\x00" * (-(len(item) + 4) % 4)
        sdes = struct.pack("!BBHI", 0x81, 202, (len(item) + 4) // 4, self.ssrc) + item
        return sr + sdes


def interleaved(channel: int, data: bytes) -> bytes:
    return struct.pack("!cBH", b"$", channel, len(data)) + data
