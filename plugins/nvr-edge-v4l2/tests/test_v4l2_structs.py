"""The V4L2 struct parsers and the bounded ioctl loops: what a driver writes back is
untrusted, so any bytes give a parsed value or a V4l2Error, never another exception."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_v4l2 import structs as s
from nvr_edge_v4l2.probe import MAX_SIZES, probe
from v4l2_fakes import FAKES, FakeDevice, file_ioctl, usb_webcam

u32 = st.integers(0, 2**32 - 1)
fourccs = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=4,
                  max_size=4)


def test_request_numbers_are_the_kernels() -> None:
    # linux/videodev2.h as compiled: _IOR('V', 0, struct v4l2_capability) and so on
    assert s.VIDIOC_QUERYCAP == 0x80685600
    assert s.VIDIOC_ENUM_FMT == 0xC0405602
    assert s.VIDIOC_ENUM_FRAMESIZES == 0xC02C564A
    assert s.VIDIOC_ENUM_FRAMEINTERVALS == 0xC034564B


@given(st.binary(max_size=200), st.integers(0, 64))
def test_any_bytes_parse_or_raise_v4l2error(data: bytes, index: int) -> None:
    for parse in (s.parse_capability, lambda b: s.parse_fmtdesc(b, index),
                  lambda b: s.parse_frmsize(b, index), lambda b: s.parse_frmival(b, index)):
        with contextlib.suppress(s.V4l2Error):
            parse(data)


@given(st.binary(min_size=s.CAPABILITY.size, max_size=s.CAPABILITY.size))
def test_any_capability_struct_parses(data: bytes) -> None:
    cap = s.parse_capability(data)
    assert len(cap.card) <= 32 and cap.caps < 2**32


@given(st.integers(0, 63), fourccs, st.integers(1, s.MAX_DIMENSION),
       st.integers(1, s.MAX_DIMENSION))
def test_discrete_sizes_round_trip(index: int, fourcc: str, width: int, height: int) -> None:
    buf = s.FRMSIZE.pack(index, s.fourcc_code(fourcc), s.DISCRETE, width, height, 0, 0, 0, 0)
    assert s.parse_frmsize(buf, index) == [(width, height)]
    assert s.fourcc_text(s.fourcc_code(fourcc)) == fourcc.rstrip()


@given(st.integers(0, 31), u32, u32)
def test_intervals_are_rates_or_errors(index: int, numerator: int, denominator: int) -> None:
    buf = s.FRMIVAL.pack(index, s.fourcc_code("MJPG"), 640, 480, s.DISCRETE, numerator,
                         denominator, 0, 0, 0, 0)
    try:
        [fps] = s.parse_frmival(buf, index)
    except s.V4l2Error:
        assert numerator == 0 or denominator == 0 or not 0.01 <= denominator / numerator <= 1000
    else:
        assert fps == pytest.approx(denominator / numerator, abs=1e-3)  # 3 decimals


def test_a_range_of_sizes_gives_its_ends_only() -> None:
    buf = s.FRMSIZE.pack(0, s.fourcc_code("YUYV"), s.STEPWISE, 16, 4096, 2, 16, 2160, 2)
    assert s.parse_frmsize(buf, 0) == [(16, 16), (4096, 2160)]


def test_an_answer_for_another_index_is_refused() -> None:
    buf = s.FMTDESC.pack(3, 1, 0, b"x", s.fourcc_code("MJPG"), 0)
    with pytest.raises(s.V4l2Error, match="asked for format 0, got 3"):
        s.parse_fmtdesc(buf, 0)


def node(tmp_path: Path, fake: str) -> str:
    path = tmp_path / fake
    path.write_text(fake)
    return str(path)


def test_probe_lists_the_modes_of_a_capture_node(tmp_path: Path) -> None:
    fakes = {name: make() for name, make in FAKES.items()}
    report = probe(node(tmp_path, "webcam"), file_ioctl(fakes))
    assert report.capability.is_capture and report.capability.card == "USB Webcam"
    assert len(report.modes) == 6
    assert probe(node(tmp_path, "meta"), file_ioctl(fakes)).modes == ()
    assert not probe(node(tmp_path, "m2m"), file_ioctl(fakes)).capability.is_capture


def test_a_driver_that_never_ends_a_list_is_stopped(tmp_path: Path) -> None:
    endless = usb_webcam()

    def ioctl(fd: int, request: int, buf: bytes) -> bytes:
        if request == s.VIDIOC_ENUM_FRAMESIZES:  # every index answers, each a new size
            index, code, *_ = s.FRMSIZE.unpack(buf)
            return s.FRMSIZE.pack(index, code, s.DISCRETE, 16 + index, 16, 0, 0, 0, 0)
        return endless.answer(request, buf)

    report = probe(node(tmp_path, "webcam"), ioctl)
    assert report.problem == (f"ENUM_FRAMESIZES MJPG: more than {MAX_SIZES} entries: "
                              f"the first {MAX_SIZES} modes listed"), report.problem
    # the sizes read before the cap are kept (each without a rate: the fake knows none)
    assert [(m.width, m.fps) for m in report.modes] == [(16 + i, None) for i in range(MAX_SIZES)]
    assert endless.calls <= 2 * MAX_SIZES + 3  # QUERYCAP, ENUM_FMT, sizes, a rate query each


def test_an_ioctl_failure_and_a_missing_node_are_clear_errors(tmp_path: Path) -> None:
    def broken(fd: int, request: int, buf: bytes) -> bytes:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with pytest.raises(s.V4l2Error, match="QUERYCAP: Input/output error"):
        probe(node(tmp_path, "webcam"), broken)
    with pytest.raises(s.V4l2Error, match=r"cannot open .*gone"):
        probe(str(tmp_path / "gone"), broken)


def test_a_format_without_sizes_or_rates_is_not_an_error(tmp_path: Path) -> None:
    fake = FakeDevice("odd", usb_webcam().caps, {"GREY": {}, "MJPG": {(640, 480): []}})
    report = probe(node(tmp_path, "odd"), file_ioctl({"odd": fake}))
    assert [(m.fourcc, m.width, m.fps) for m in report.modes] == [("MJPG", 640, None)]
