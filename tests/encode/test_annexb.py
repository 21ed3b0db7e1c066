"""Parameter sets out of an Annex B access unit (a rung's extradata, encode/annexb.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.encode.annexb import parameter_sets

# a NAL unit: its header byte (type in the low 5 bits), then a body ending in a non-zero
# byte (the RBSP stop bit) and free of start codes
nals = st.builds(lambda kind, body: bytes([0x60 | kind]) + body + b"\x80",
                 st.integers(1, 23), st.binary(max_size=20).map(lambda b: b.replace(b"\0", b"\1")))


@given(st.lists(st.tuples(nals, st.sampled_from([b"\0\0\1", b"\0\0\0\1"])), max_size=8))
def test_only_the_sps_and_pps_come_out_with_four_byte_start_codes(
        units: list[tuple[bytes, bytes]]) -> None:
    data = b"".join(start + nal for nal, start in units)
    assert parameter_sets(data) == b"".join(
        b"\0\0\0\1" + nal for nal, _ in units if nal[0] & 0x1F in (7, 8))


def test_a_keyframe_access_unit() -> None:
    sps, pps, idr = b"\x67\x64\x00\x1f\xac", b"\x68\xee\x3c\x80", b"\x65\x88\x84\x00\x33"
    au = b"\0\0\0\1" + sps + b"\0\0\0\1" + pps + b"\0\0\1" + idr
    assert parameter_sets(au) == b"\0\0\0\1" + sps + b"\0\0\0\1" + pps
    assert parameter_sets(idr) == b""
