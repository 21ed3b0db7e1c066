"""The four V4L2 structs discovery uses, packed and parsed by hand (linux/videodev2.h).

Every field is a u32 or a byte array, so the layouts are the same on arm64, armhf and
x86_64. What a driver writes back is untrusted: parsers check sizes and values and raise
`V4l2Error`, never anything else."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any


class V4l2Error(Exception):
    """A device answered something discovery cannot use (or did not answer)."""


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("V") << 8) | nr


_READ, _READ_WRITE = 2, 3
CAPABILITY = struct.Struct("<16s32s32sIII12x")       # struct v4l2_capability: 104 bytes
FMTDESC = struct.Struct("<III32sII12x")              # struct v4l2_fmtdesc: 64 bytes
FRMSIZE = struct.Struct("<III6I8x")                  # struct v4l2_frmsizeenum: 44 bytes
FRMIVAL = struct.Struct("<IIIII6I8x")                # struct v4l2_frmivalenum: 52 bytes

VIDIOC_QUERYCAP = _ioc(_READ, 0, CAPABILITY.size)
VIDIOC_ENUM_FMT = _ioc(_READ_WRITE, 2, FMTDESC.size)
VIDIOC_ENUM_FRAMESIZES = _ioc(_READ_WRITE, 74, FRMSIZE.size)
VIDIOC_ENUM_FRAMEINTERVALS = _ioc(_READ_WRITE, 75, FRMIVAL.size)

CAP_VIDEO_CAPTURE = 0x1
CAP_VIDEO_OUTPUT = 0x2
CAP_VIDEO_CAPTURE_MPLANE = 0x1000
CAP_VIDEO_OUTPUT_MPLANE = 0x2000
CAP_VIDEO_M2M_MPLANE = 0x4000
CAP_VIDEO_M2M = 0x8000
CAP_META_CAPTURE = 0x00800000
CAP_DEVICE_CAPS = 0x80000000

BUF_TYPE_VIDEO_CAPTURE = 1
BUF_TYPE_VIDEO_CAPTURE_MPLANE = 9

DISCRETE, CONTINUOUS, STEPWISE = 1, 2, 3
MAX_DIMENSION = 16384  # pixels; larger is a broken driver, not a camera


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def _exact(buf: bytes, layout: struct.Struct, what: str) -> tuple[Any, ...]:
    if len(buf) != layout.size:
        raise V4l2Error(f"{what}: {len(buf)} bytes, expected {layout.size}")
    return layout.unpack(buf)


@dataclass(frozen=True)
class Capability:
    driver: str
    card: str
    bus_info: str
    caps: int  # the node's own capabilities (device_caps when the driver sets them)

    @property
    def is_capture(self) -> bool:
        """A camera: video capture, and neither a codec (M2M) nor an output node."""
        capture = self.caps & (CAP_VIDEO_CAPTURE | CAP_VIDEO_CAPTURE_MPLANE)
        other = self.caps & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE | CAP_VIDEO_OUTPUT
                             | CAP_VIDEO_OUTPUT_MPLANE)
        return bool(capture) and not other

    @property
    def buffer_type(self) -> int:
        return (BUF_TYPE_VIDEO_CAPTURE if self.caps & CAP_VIDEO_CAPTURE
                else BUF_TYPE_VIDEO_CAPTURE_MPLANE)


def parse_capability(buf: bytes) -> Capability:
    driver, card, bus_info, _version, caps, device_caps = _exact(buf, CAPABILITY, "QUERYCAP")
    node_caps = device_caps if caps & CAP_DEVICE_CAPS else caps
    return Capability(_text(driver), _text(card), _text(bus_info), node_caps)


def pack_fmtdesc(index: int, buffer_type: int) -> bytes:
    return FMTDESC.pack(index, buffer_type, 0, b"", 0, 0)


@dataclass(frozen=True)
class Format:
    fourcc: str
    description: str


def parse_fmtdesc(buf: bytes, index: int) -> Format:
    got, _type, _flags, description, pixelformat, _mbus = _exact(buf, FMTDESC, "ENUM_FMT")
    if got != index:
        raise V4l2Error(f"ENUM_FMT: asked for format {index}, got {got}")
    return Format(fourcc_text(pixelformat), _text(description))


def fourcc_text(code: int) -> str:
    raw = code.to_bytes(4, "little")
    if not all(0x20 <= b < 0x7F for b in raw):
        raise V4l2Error(f"pixel format {code:#010x} is not a FourCC")
    return raw.decode("ascii").rstrip()


def fourcc_code(text: str) -> int:
    return int.from_bytes(text.encode("ascii").ljust(4), "little")


def pack_frmsize(index: int, fourcc: str) -> bytes:
    return FRMSIZE.pack(index, fourcc_code(fourcc), 0, 0, 0, 0, 0, 0, 0)


def _dimension(value: int, what: str) -> int:
    if not 1 <= value <= MAX_DIMENSION:
        raise V4l2Error(f"{what}: {value} is no frame dimension")
    return value


def parse_frmsize(buf: bytes, index: int) -> list[tuple[int, int]]:
    """The sizes one ENUM_FRAMESIZES answer names: one when discrete; the smallest and the
    largest of a stepwise or continuous range (a range can hold millions of sizes)."""
    got, _fmt, kind, *u = _exact(buf, FRMSIZE, "ENUM_FRAMESIZES")
    if got != index:
        raise V4l2Error(f"ENUM_FRAMESIZES: asked for size {index}, got {got}")
    if kind == DISCRETE:
        return [(_dimension(u[0], "width"), _dimension(u[1], "height"))]
    if kind in (CONTINUOUS, STEPWISE):
        min_w, max_w, _step_w, min_h, max_h, _step_h = u
        return sorted({(_dimension(min_w, "width"), _dimension(min_h, "height")),
                       (_dimension(max_w, "width"), _dimension(max_h, "height"))})
    raise V4l2Error(f"ENUM_FRAMESIZES: unknown type {kind}")


def pack_frmival(index: int, fourcc: str, width: int, height: int) -> bytes:
    return FRMIVAL.pack(index, fourcc_code(fourcc), width, height, 0, 0, 0, 0, 0, 0, 0)


def _fps(numerator: int, denominator: int) -> float:
    """Frames per second of an interval of numerator/denominator seconds."""
    if numerator == 0 or denominator == 0:
        raise V4l2Error(f"frame interval {numerator}/{denominator}")
    fps = denominator / numerator
    if not 0.01 <= fps <= 1000:
        raise V4l2Error(f"frame interval {numerator}/{denominator} is no camera's")
    return round(fps, 3)


def parse_frmival(buf: bytes, index: int) -> list[float]:
    """Frame rates one ENUM_FRAMEINTERVALS answer names: one when discrete; the fastest and
    the slowest of a range."""
    got, _fmt, _w, _h, kind, *u = _exact(buf, FRMIVAL, "ENUM_FRAMEINTERVALS")
    if got != index:
        raise V4l2Error(f"ENUM_FRAMEINTERVALS: asked for interval {index}, got {got}")
    if kind == DISCRETE:
        return [_fps(u[0], u[1])]
    if kind in (CONTINUOUS, STEPWISE):
        return sorted({_fps(u[0], u[1]), _fps(u[2], u[3])}, reverse=True)
    raise V4l2Error(f"ENUM_FRAMEINTERVALS: unknown type {kind}")
