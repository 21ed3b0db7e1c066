"""The worker-to-hub wire: length-prefixed messages over an AF_UNIX stream socket pair.

A stream socket, not SEQPACKET: the kernel caps a datagram socket's queue at
`net.unix.max_dgram_qlen` datagrams (10 on Debian), which one 100 ms batch of packets can
fill; a stream socket is bounded by bytes only. The sender never blocks: it keeps what the
socket cannot take yet in a bounded buffer of its own (forwarder.py).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # a keyframe is far smaller; more is a broken peer
_HEAD = struct.Struct("!BI")         # kind, body length
_PACKET = struct.Struct("!BBqqiII")  # audio?, keyframe?, pts, dts, duration, tb num, den
NO_TS = -(2**63)

INFO, PACKET, CONTROL = 1, 2, 3


@dataclass(frozen=True)
class LivePacket:
    audio: bool
    keyframe: bool
    pts: int | None
    dts: int | None
    duration: int
    time_base: tuple[int, int]
    data: bytes
    arrival: float = 0.0  # set by the hub (monotonic)

    @property
    def pts_s(self) -> float | None:
        return None if self.pts is None else self.pts * self.time_base[0] / self.time_base[1]


@dataclass(frozen=True)
class StreamInfo:
    """What a viewer needs before the first packet: codecs and their parameters."""

    video_codec: str
    width: int
    height: int
    video_time_base: tuple[int, int]
    video_extradata: bytes = b""
    has_b_frames: bool = False
    audio_codec: str | None = None
    sample_rate: int = 0
    channels: int = 0
    audio_extradata: bytes = b""
    source: str = "main"  # which camera stream feeds the live view

    def to_json(self) -> bytes:
        data = dict(self.__dict__)
        data["video_extradata"] = self.video_extradata.hex()
        data["audio_extradata"] = self.audio_extradata.hex()
        return json.dumps(data).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> StreamInfo:
        data = json.loads(raw)
        data["video_extradata"] = bytes.fromhex(data["video_extradata"])
        data["audio_extradata"] = bytes.fromhex(data["audio_extradata"])
        data["video_time_base"] = tuple(data["video_time_base"])
        return cls(**data)


def encode_packet(packet: LivePacket) -> bytes:
    return _PACKET.pack(packet.audio, packet.keyframe,
                        NO_TS if packet.pts is None else packet.pts,
                        NO_TS if packet.dts is None else packet.dts,
                        packet.duration, *packet.time_base) + packet.data


def decode_packet(body: bytes | memoryview, arrival: float) -> LivePacket:
    audio, key, pts, dts, duration, num, den = _PACKET.unpack_from(body)
    return LivePacket(bool(audio), bool(key), None if pts == NO_TS else pts,
                      None if dts == NO_TS else dts, duration, (num, den),
                      bytes(body[_PACKET.size:]), arrival)


def frame(kind: int, body: bytes) -> bytes:
    return _HEAD.pack(kind, len(body)) + body


def control_message(want: bool) -> bytes:
    """The hub's word to a worker: send packets (a viewer is watching) or stop."""
    return frame(CONTROL, json.dumps({"want": want}).encode())


class WireError(ValueError):
    """The peer sent something that is not our wire format."""


class FrameReader:
    """Whole messages out of a byte stream, however it was cut."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        messages = []
        while len(self.buffer) >= _HEAD.size:
            kind, length = _HEAD.unpack_from(self.buffer)
            if length > MAX_MESSAGE_BYTES or kind not in (INFO, PACKET, CONTROL):
                raise WireError(f"bad message header (kind {kind}, {length} bytes)")
            end = _HEAD.size + length
            if len(self.buffer) < end:
                break
            messages.append((kind, bytes(self.buffer[_HEAD.size:end])))
            del self.buffer[:end]
        return messages
