"""The LL-HLS playlist across a change of stream parameters: numbers go on, the
discontinuity sequence counts the change, and the init segment gets a new name."""

from __future__ import annotations

from nvr_edge_web.hls.playlist import render
from nvr_edge_web.hls.window import Window
from web_m3u8 import parse_playlist


def one_segment(window: Window, wall: float) -> None:
    window.open_segment(wall)
    for index in range(5):
        window.add_part(0.2, index == 0, b"x")
    window.close_segment()


def test_a_new_stream_gets_a_new_init_name_and_a_discontinuity() -> None:
    window = Window()
    one_segment(window, 1_700_000_000.0)
    before = parse_playlist(render(window, 0.2, "tok"))
    assert before.tags["EXT-X-MAP"] == 'URI="init0.mp4?token=tok"'
    assert "EXT-X-DISCONTINUITY-SEQUENCE" not in before.tags

    window.clear()  # the camera's resolution changed
    one_segment(window, 1_700_000_010.0)
    after = parse_playlist(render(window, 0.2, "tok"))
    assert after.tags["EXT-X-MAP"] == 'URI="init1.mp4?token=tok"'
    assert after.tags["EXT-X-DISCONTINUITY-SEQUENCE"] == "1"
    assert after.segments[0].msn == before.segments[-1].msn + 1
    assert after.parts[0].uri.split("?")[0] == "part5.m4s"  # part numbers go on too
