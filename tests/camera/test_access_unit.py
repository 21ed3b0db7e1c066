"""Telling a picture from a picture-less access unit, in both NAL framings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.camera.access_unit import WINDOW, has_picture, is_length_prefixed

H264_NON_VCL = st.sampled_from([6, 7, 8, 9, 10, 11, 12])  # SEI, SPS, PPS, AUD, ends, filler
H264_VCL = st.sampled_from([1, 5])
HEVC_NON_VCL = st.sampled_from([32, 33, 34, 35, 39, 40])  # VPS, SPS, PPS, AUD, SEI
HEVC_VCL = st.sampled_from([0, 1, 19, 20, 21])
# Payload bytes that never form a start code, as emulation prevention guarantees.
PAYLOAD = st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\x00", b"\x01"))


def h264_nal(kind: int, payload: bytes) -> bytes:
    return bytes([0x60 | kind]) + payload


def hevc_nal(kind: int, payload: bytes) -> bytes:
    return bytes([kind << 1, 0x01]) + payload


def annex_b(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


def length_prefixed(nals: list[bytes]) -> bytes:
    return b"".join(len(nal).to_bytes(4, "big") + nal for nal in nals)


FRAMINGS = st.sampled_from([(annex_b, False), (length_prefixed, True)])


@given(st.lists(st.tuples(H264_NON_VCL, PAYLOAD), max_size=6), H264_VCL, PAYLOAD, FRAMINGS,
       st.integers(0, 6))
def test_h264_unit_with_a_slice_has_a_picture(others, vcl, payload, framing, at) -> None:
    nals = [h264_nal(k, p) for k, p in others]
    nals.insert(min(at, len(nals)), h264_nal(vcl, payload))
    frame, prefixed = framing
    assert has_picture(frame(nals), "h264", prefixed)


@given(st.lists(st.tuples(H264_NON_VCL, PAYLOAD), min_size=1, max_size=6), FRAMINGS)
def test_h264_unit_of_parameter_sets_and_delimiters_has_none(others, framing) -> None:
    frame, prefixed = framing
    assert not has_picture(frame([h264_nal(k, p) for k, p in others]), "h264", prefixed)


@given(st.lists(st.tuples(HEVC_NON_VCL, PAYLOAD), max_size=6), HEVC_VCL, PAYLOAD, FRAMINGS)
def test_hevc_units(others, vcl, payload, framing) -> None:
    frame, prefixed = framing
    nals = [hevc_nal(k, p) for k, p in others]
    assert has_picture(frame([*nals, hevc_nal(vcl, payload)]), "hevc", prefixed)
    if nals:
        assert not has_picture(frame(nals), "hevc", prefixed)


def test_the_delimiter_ffmpeg_flushes_on_hang_up_has_no_picture() -> None:
    assert not has_picture(b"\x00\x00\x00\x01\x09\xf0", "h264", False)


def test_a_slice_beyond_the_window_counts_as_a_picture() -> None:
    sei = h264_nal(6, b"\x05" * (WINDOW + 100))
    assert has_picture(annex_b([sei, h264_nal(1, b"\x88")]), "h264", False)
    assert has_picture(length_prefixed([sei, h264_nal(1, b"\x88")]), "h264", True)


@given(st.binary(max_size=64))
def test_other_codecs_and_garbage_never_raise(data: bytes) -> None:
    assert has_picture(data, "mjpeg", False)
    for prefixed in (False, True):
        has_picture(data, "h264", prefixed)  # must not raise on any bytes
        has_picture(data, "hevc", prefixed)


def test_framing_is_read_from_extradata() -> None:
    assert is_length_prefixed(b"\x01\x64\x00\x1f")  # avcC
    assert not is_length_prefixed(b"\x00\x00\x00\x01\x67")
    assert not is_length_prefixed(None)
