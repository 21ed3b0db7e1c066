from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.storage.mp4box import ZERO_TAIL, iter_boxes, playable_length, playable_length_of
from nvr_edge.storage.recovery import repair_part

from ..media import fragmented_mp4


def box(kind: bytes, payload: bytes = b"", large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def fragment(n: int, large: bool = False) -> bytes:
    return box(b"moof", b"m" * (n % 7 + 1)) + box(b"mdat", b"d" * (n % 50 + 1), large)


HEADER = box(b"ftyp", b"iso5") + box(b"moov", b"x" * 20)


@given(st.lists(st.booleans(), min_size=0, max_size=12), st.data())
def test_truncation_anywhere_keeps_exactly_the_complete_fragments(larges: list[bool],
                                                                  data: st.DataObject) -> None:
    frags = [fragment(i, large) for i, large in enumerate(larges)]
    whole = HEADER + b"".join(frags)
    cut = data.draw(st.integers(0, len(whole)))
    tail = data.draw(st.sampled_from([b"", b"\0" * 64]))  # pre-allocated zeros after a crash
    blob = whole[:cut] + tail
    ends = [len(HEADER) + sum(len(f) for f in frags[: i + 1]) for i in range(len(frags))]
    expected = max([e for e in ends if e <= cut], default=0)
    # Zeros may complete the fragment cut short by size; its zero tail gives it away
    # unless fewer than ZERO_TAIL of its bytes were lost.
    completed = [e for e in ends if cut < e <= len(blob)]
    if completed and completed[0] - cut < ZERO_TAIL and _mdat_started(whole, completed[0], cut):
        expected = completed[0]
    assert playable_length(io.BytesIO(blob), len(blob)) == expected


def _mdat_started(whole: bytes, end: int, cut: int) -> bool:
    """Did the cut fall inside the mdat payload (not in its header or the moof)?"""
    start = whole.rfind(b"mdat", 0, end) - 4
    header = 16 if whole[start : start + 4] == b"\0\0\0\1" else 8
    return cut >= start + header


@given(st.binary(max_size=400))
def test_random_bytes_never_crash_and_stay_in_bounds(blob: bytes) -> None:
    n = playable_length(io.BytesIO(blob), len(blob))
    assert 0 <= n <= len(blob)
    for b in iter_boxes(io.BytesIO(blob), len(blob)):
        assert b.end <= len(blob)


def test_a_fragment_without_its_header_is_not_playable() -> None:
    blob = fragment(1) + fragment(2)
    assert playable_length(io.BytesIO(blob), len(blob)) == 0


def test_real_fmp4_cut_mid_fragment_is_repaired_to_a_playable_file(tmp_path: Path) -> None:
    src = tmp_path / "src.mp4"
    data = fragmented_mp4(src, 6)
    part = tmp_path / "cam" / "2026-01-01" / "120000.mp4.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[: len(data) * 2 // 3] + b"\0" * 4096)
    keep = playable_length_of(str(part))
    assert 0 < keep <= len(data) * 2 // 3
    final = repair_part(part)
    assert final is not None and final.name == "120000.mp4" and not part.exists()
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v",
                            "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0",
                            str(final)], capture_output=True, text=True, check=True)
    frames = int(probe.stdout.strip())
    assert 60 <= frames < 180  # whole fragments of the first two-thirds survive
    decode = subprocess.run(["ffmpeg", "-v", "error", "-i", str(final), "-f", "null", "-"],
                            capture_output=True, text=True)
    assert decode.returncode == 0 and decode.stderr == ""
