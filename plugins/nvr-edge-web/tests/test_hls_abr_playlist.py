"""The LL-HLS ladder's playlists and timeline without a box: the multivariant playlist
read back by the tests' own parser (any ladder: every variant, its bit rate in bit/s, its
size and codec, the reasons of those left out as comments), a rung's rendition reports,
and the timeline that lets a player switch rungs (every rung of one source family at the
same media time for the same frame, whenever its packager started)."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_web.hls.multivariant import Variant, avc1_codec, render_multivariant
from nvr_edge_web.hls.playlist import render
from nvr_edge_web.hls.timeline import LEAD_S, Timeline
from nvr_edge_web.hls.window import Window
from web_m3u8 import attributes, parse_multivariant, parse_playlist

NAMES = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=16)
VARIANTS = st.lists(st.builds(
    Variant, NAMES, st.integers(16, 8192), st.integers(16, 4320), st.integers(1, 100_000),
    st.none() | st.from_regex(r"avc1\.[0-9a-f]{6}", fullmatch=True)),
    min_size=1, max_size=6, unique_by=lambda v: v.name)
REASONS = st.lists(st.tuples(NAMES, st.text(min_size=1, max_size=80)), max_size=3)
TOKENS = st.none() | st.text(string.ascii_letters + string.digits + "._-+/=", min_size=1,
                             max_size=40)


AUDIO = st.none() | st.sampled_from(["mp4a.40.2", "mp4a.40.5"])


@given(VARIANTS, REASONS, TOKENS, AUDIO)
def test_the_multivariant_playlist_reads_back_as_written(
        variants: list[Variant], left_out: list[tuple[str, str]], token: str | None,
        audio: str | None) -> None:
    read = parse_multivariant(render_multivariant(variants, token, left_out, audio))
    assert read.tags["EXT-X-VERSION"] == "6" and "EXT-X-INDEPENDENT-SEGMENTS" in read.tags
    assert "EXT-X-STREAM-INF" not in read.tags  # every one was followed by its URI
    assert len(read.variants) == len(variants)
    for variant, entry in zip(variants, read.variants, strict=True):
        assert int(entry.attributes["BANDWIDTH"]) == variant.kbps * 1000  # bit/s
        assert entry.attributes["RESOLUTION"] == f"{variant.width}x{variant.height}"
        # every codec of the variant (its audio too) or none: players trust the list
        assert entry.attributes.get("CODECS") == (
            ",".join(c for c in (variant.codecs, audio) if c) if variant.codecs else None)
        assert entry.attributes.get("AUDIO") == ("audio" if audio else None)
        path, _, query = entry.uri.partition("?")
        assert path == f"{variant.name}/index.m3u8"
        assert (query != "") == (token is not None) and "/" not in query.replace("%2F", "")
    if audio:  # the one audio rendition every variant shares: the live stream's audio
        media = attributes(read.tags["EXT-X-MEDIA"])
        assert (media["TYPE"], media["GROUP-ID"], media["DEFAULT"]) == ("AUDIO", "audio", "YES")
        assert media["URI"].partition("?")[0] == "audio/index.m3u8"
    else:
        assert "EXT-X-MEDIA" not in read.tags
    # a reason with line breaks in it stays one comment line, never a tag or a URI
    assert [c for c in read.comments if c.startswith("rung ")] == [
        f"rung {name} not listed: {' '.join(why.split())}" for name, why in left_out]


def test_the_codec_is_read_from_the_sps() -> None:
    sps = bytes([0x67, 0x42, 0xC0, 0x1E, 0xDA])  # Constrained Baseline, level 3.0
    assert avc1_codec(b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01\x68\xce\x38\x80") \
        == "avc1.42c01e"
    assert avc1_codec(b"") is None


def test_a_rungs_playlist_reports_the_other_rungs_last_parts() -> None:
    window, other = Window(), Window()
    for made in (window, other):
        made.open_segment(1_700_000_000.0)
        for index in range(3):
            made.add_part(0.2, index == 0, b"x")
    other.close_segment()
    other.open_segment(1_700_000_001.0)
    other.add_part(0.2, True, b"x")
    last = other.last_part()
    assert last is not None
    read = parse_playlist(render(window, 0.2, "tok", [("240p", last)]))
    assert read.reports == [{"URI": "../240p/index.m3u8?token=tok", "LAST-MSN": "1",
                             "LAST-PART": "0"}]


@given(st.floats(0, 1e6), st.floats(0, 1e5), st.lists(
    st.tuples(st.sampled_from(["live", "main"]), st.floats(-2, 600), st.floats(-0.05, 0.05)),
    min_size=1, max_size=8))
def test_rungs_started_any_time_share_one_timeline(
        source0: float, arrival0: float, joins: list[tuple[str, float, float]]) -> None:
    """Each join: a packager of `family` whose first frame is `later` s after the first
    packager's (a cached GOP: up to 2 s before it), arriving with `jitter`. Frames of the
    live family sit at their source time's distance; a main stream (other timestamps)
    where it arrived; none before 0."""
    timeline = Timeline()
    assert timeline.place("live", source0, arrival0) == LEAD_S
    for family, later, jitter in joins:
        source = (source0 if family == "live" else 5_000.0) + later
        at = timeline.place(family, source, arrival0 + later + jitter)
        assert at >= 0
        if family == "live":
            assert abs(at - (LEAD_S + later)) < 1e-6
        else:
            assert abs(at - (LEAD_S + later)) <= 0.1 + 1e-6


def test_a_restarted_stream_is_placed_by_its_arrival() -> None:
    timeline = Timeline()
    timeline.place("live", 100.0, 1000.0)
    # the camera restarted its stream: timestamps from 0 again, 30 s later
    assert timeline.place("live", 0.5, 1030.0) == LEAD_S + 30.0
    assert timeline.place("live", 2.5, 1032.0) == LEAD_S + 32.0  # and follows from there
