"""Ask one device node what it is and what it can capture, with bounded ioctl loops."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from nvr_edge_v4l2.structs import (
    CAPABILITY,
    VIDIOC_ENUM_FMT,
    VIDIOC_ENUM_FRAMEINTERVALS,
    VIDIOC_ENUM_FRAMESIZES,
    VIDIOC_QUERYCAP,
    Capability,
    V4l2Error,
    pack_fmtdesc,
    pack_frmival,
    pack_frmsize,
    parse_capability,
    parse_fmtdesc,
    parse_frmival,
    parse_frmsize,
)

# (fd, request, buffer in) -> buffer out; raises OSError as ioctl(2) fails. Tests inject one.
Ioctl = Callable[[int, int, bytes], bytes]

# A driver that never says EINVAL must not keep discovery busy: real cameras stay far below.
MAX_FORMATS = 32
MAX_SIZES = 64
MAX_INTERVALS = 32
MAX_PROFILES = 512  # per device, formats x sizes x rates

T = TypeVar("T")


class TooMany(V4l2Error):
    """A list went past its cap: the modes read until then are kept, the cap is the
    device's problem (vivid, the kernel's test driver, offers about 80 formats)."""


def system_ioctl(fd: int, request: int, buf: bytes) -> bytes:
    out = bytearray(buf)
    fcntl.ioctl(fd, request, out, True)  # the GIL is let go during the call
    return bytes(out)


@dataclass(frozen=True)
class Mode:
    """One way the device can capture."""

    fourcc: str
    width: int
    height: int
    fps: float | None


@dataclass(frozen=True)
class DeviceReport:
    capability: Capability
    modes: tuple[Mode, ...]
    problem: str = ""  # a cap reached: `modes` are the first ones only


def probe(node: str, ioctl: Ioctl = system_ioctl) -> DeviceReport:
    """What `node` is and, if it is a capture node, its modes. V4l2Error on any failure but
    a cap reached (TooMany), which keeps the modes read so far and names the cap."""
    try:
        fd = os.open(node, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise V4l2Error(f"cannot open {node}: {exc.strerror}") from exc
    try:
        capability = parse_capability(_call(ioctl, fd, VIDIOC_QUERYCAP, bytes(CAPABILITY.size),
                                            "QUERYCAP"))
        modes: list[Mode] = []
        problem = ""
        if capability.is_capture:
            try:
                modes.extend(_modes(ioctl, fd, capability))
            except TooMany as exc:
                problem = f"{exc}: the first {len(modes)} modes listed"
        return DeviceReport(capability, tuple(modes), problem)
    finally:
        os.close(fd)


def _call(ioctl: Ioctl, fd: int, request: int, buf: bytes, what: str) -> bytes:
    try:
        return ioctl(fd, request, buf)
    except OSError as exc:
        raise V4l2Error(f"{what}: {exc.strerror or exc}") from exc


def _enumerate(ask: Callable[[int], T], limit: int, what: str) -> Iterator[T]:
    """ask(0), ask(1), ... until the driver says EINVAL (the end of the list; ENOTTY: it
    keeps no such list)."""
    for index in range(limit):
        try:
            yield ask(index)
        except V4l2Error as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError) and cause.errno in (errno.EINVAL, errno.ENOTTY):
                return
            raise
    raise TooMany(f"{what}: more than {limit} entries")


def _modes(ioctl: Ioctl, fd: int, capability: Capability) -> Iterator[Mode]:
    def fmt(i: int) -> str:
        buf = _call(ioctl, fd, VIDIOC_ENUM_FMT, pack_fmtdesc(i, capability.buffer_type),
                    "ENUM_FMT")
        return parse_fmtdesc(buf, i).fourcc

    count = 0
    for fourcc in _unique(_enumerate(fmt, MAX_FORMATS, "ENUM_FMT")):
        for width, height in _unique(_sizes(ioctl, fd, fourcc)):
            for fps in _rates(ioctl, fd, fourcc, width, height):
                count += 1
                if count > MAX_PROFILES:
                    raise TooMany(f"more than {MAX_PROFILES} modes")
                yield Mode(fourcc, width, height, fps)


def _sizes(ioctl: Ioctl, fd: int, fourcc: str) -> Iterator[tuple[int, int]]:
    def size(i: int) -> list[tuple[int, int]]:
        buf = _call(ioctl, fd, VIDIOC_ENUM_FRAMESIZES, pack_frmsize(i, fourcc),
                    "ENUM_FRAMESIZES")
        return parse_frmsize(buf, i)

    for sizes in _enumerate(size, MAX_SIZES, f"ENUM_FRAMESIZES {fourcc}"):
        yield from sizes


def _rates(ioctl: Ioctl, fd: int, fourcc: str, width: int, height: int) -> list[float | None]:
    """The size's frame rates, fastest first; [None] when the driver lists none."""
    def rate(i: int) -> list[float]:
        buf = _call(ioctl, fd, VIDIOC_ENUM_FRAMEINTERVALS,
                    pack_frmival(i, fourcc, width, height), "ENUM_FRAMEINTERVALS")
        return parse_frmival(buf, i)

    rates = sorted({fps for found in _enumerate(rate, MAX_INTERVALS, "ENUM_FRAMEINTERVALS")
                    for fps in found}, reverse=True)
    return list(rates) or [None]


def _unique(items: Iterator[T]) -> Iterator[T]:
    seen: set[T] = set()
    for item in items:
        if item not in seen:
            seen.add(item)
            yield item
