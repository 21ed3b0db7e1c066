"""Fake V4L2 devices that answer the four discovery ioctls from a table, as a driver would
(EINVAL past the end of each list)."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field

from nvr_edge_v4l2 import structs as s
from nvr_edge_v4l2.probe import Ioctl

CAPTURE = s.CAP_VIDEO_CAPTURE | s.CAP_DEVICE_CAPS
META = s.CAP_META_CAPTURE | s.CAP_DEVICE_CAPS
M2M = s.CAP_VIDEO_M2M | s.CAP_VIDEO_CAPTURE | s.CAP_VIDEO_OUTPUT | s.CAP_DEVICE_CAPS

# fourcc -> (width, height) -> frame rates (discrete intervals 1/fps)
Formats = dict[str, dict[tuple[int, int], list[int]]]


def _einval() -> OSError:
    return OSError(errno.EINVAL, os.strerror(errno.EINVAL))


@dataclass
class FakeDevice:
    card: str
    caps: int
    formats: Formats = field(default_factory=dict)
    calls: int = 0

    def answer(self, request: int, buf: bytes) -> bytes:
        self.calls += 1
        if request == s.VIDIOC_QUERYCAP:
            return s.CAPABILITY.pack(b"fakecam", self.card.encode(), b"usb-0000:00:14.0-1",
                                     0x60000, self.caps | s.CAP_DEVICE_CAPS, self.caps)
        if request == s.VIDIOC_ENUM_FMT:
            index, kind, *_ = s.FMTDESC.unpack(buf)
            fourccs = list(self.formats)
            if index >= len(fourccs) or kind != s.BUF_TYPE_VIDEO_CAPTURE:
                raise _einval()
            return s.FMTDESC.pack(index, kind, 0, fourccs[index].encode(),
                                  s.fourcc_code(fourccs[index]), 0)
        if request == s.VIDIOC_ENUM_FRAMESIZES:
            index, code, *_ = s.FRMSIZE.unpack(buf)
            sizes = list(self.formats.get(s.fourcc_text(code), {}))
            if index >= len(sizes):
                raise _einval()
            return s.FRMSIZE.pack(index, code, s.DISCRETE, *sizes[index], 0, 0, 0, 0)
        if request == s.VIDIOC_ENUM_FRAMEINTERVALS:
            index, code, width, height, *_ = s.FRMIVAL.unpack(buf)
            rates = self.formats.get(s.fourcc_text(code), {}).get((width, height), [])
            if index >= len(rates):
                raise _einval()
            return s.FRMIVAL.pack(index, code, width, height, s.DISCRETE, 1, rates[index],
                                  0, 0, 0, 0)
        raise OSError(errno.ENOTTY, os.strerror(errno.ENOTTY))


def usb_webcam() -> FakeDevice:
    """A typical UVC webcam: MJPEG up to 1080p, YUYV at small sizes."""
    return FakeDevice("USB Webcam", CAPTURE, {
        "MJPG": {(1920, 1080): [30, 15], (1280, 720): [30], (640, 480): [30]},
        "YUYV": {(640, 480): [30], (320, 240): [30]},
    })


def h264_camera() -> FakeDevice:
    return FakeDevice("H264 Camera", CAPTURE, {
        "MJPG": {(3840, 2160): [15]},
        "H264": {(1920, 1080): [30], (1280, 720): [60, 30]},
    })


def metadata_node() -> FakeDevice:
    return FakeDevice("USB Webcam", META)


def codec_node() -> FakeDevice:
    return FakeDevice("stateful-decoder", M2M, {"H264": {(1920, 1080): [30]}})


@dataclass
class LyingDevice(FakeDevice):
    """A capture node whose format list answers for the wrong index."""

    def answer(self, request: int, buf: bytes) -> bytes:
        out = super().answer(request, buf)
        if request == s.VIDIOC_ENUM_FMT:
            return s.FMTDESC.pack(7, *s.FMTDESC.unpack(out)[1:])
        return out


def liar() -> FakeDevice:
    return LyingDevice("Liar", CAPTURE, {"MJPG": {(640, 480): [30]}})


FAKES = {"webcam": usb_webcam, "h264": h264_camera, "meta": metadata_node,
         "m2m": codec_node, "liar": liar}


def fake_for_fd(fd: int, fakes: dict[str, FakeDevice]) -> FakeDevice:
    """The fake a node file names: its first bytes are a key of FAKES (the umockdev tree's
    `N:` line, or a plain file in the in-process tests)."""
    return fakes[os.pread(fd, 32, 0).decode().strip("\0\n ")]


def file_ioctl(fakes: dict[str, FakeDevice]) -> Ioctl:
    """An ioctl function answering for whichever fake the opened file names."""
    def ioctl(fd: int, request: int, buf: bytes) -> bytes:
        return fake_for_fd(fd, fakes).answer(request, buf)
    return ioctl
