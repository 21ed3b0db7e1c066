"""The rendition ladder (live/ladder.py): passed-through streams first, transcoded rungs only
below the smallest of them, best first; the software budget admits rungs until it is spent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.live.ladder import RUNG_FPS, RungBudget, Shape, ladder

shapes = st.builds(Shape, st.integers(16, 4096), st.integers(16, 2160),
                   st.one_of(st.none(), st.integers(50, 20000)),
                   st.one_of(st.none(), st.floats(1, 60)))


def test_a_1080p_camera_with_a_vga_sub_stream() -> None:
    rungs = ladder(Shape(1920, 1080, 4000, 25), Shape(640, 480, None, 25))
    assert [(r.name, r.source, r.transcoded) for r in rungs] == [
        ("main", "main", False), ("sub", "sub", False), ("360p", "sub", True),
        ("240p", "sub", True)]
    assert rungs[1].kbps == 538  # 640 x 480 x 25 x 0.07 bit


def test_a_camera_without_a_sub_stream_gets_rungs_from_its_main() -> None:
    rungs = ladder(Shape(1280, 720, 2000, 30))
    assert [(r.name, r.source) for r in rungs] == [("main", "main"), ("360p", "main"),
                                                   ("240p", "main")]


@given(shapes, st.one_of(st.none(), shapes))
def test_any_ladder_is_best_first_and_transcodes_only_below_what_is_sent(
        main: Shape, sub: Shape | None) -> None:
    rungs = ladder(main, sub)
    assert [r.kbps for r in rungs] == sorted((r.kbps for r in rungs), reverse=True)
    assert len({r.name for r in rungs}) == len(rungs) and rungs
    sent = [r for r in rungs if not r.transcoded]
    assert {r.name for r in sent} <= {"main", "sub"} and "main" in {r.name for r in sent}
    for rung in rungs:
        if rung.transcoded:
            assert all(rung.width * rung.height < s.width * s.height for s in sent)
            assert all(rung.kbps < s.kbps for s in sent)


def test_the_budget_admits_until_spent_and_frees_on_release() -> None:
    rungs = {r.name: r for r in ladder(Shape(1920, 1080, 4000, 25))}
    per_360p = 640 * 360 * RUNG_FPS
    budget = RungBudget(max_pixels_per_s=2 * per_360p)
    assert budget.admit("cam1", rungs["360p"], hardware=False) == ""
    assert budget.admit("cam2", rungs["360p"], hardware=False) == ""
    assert budget.admit("cam1", rungs["360p"], hardware=False) == ""  # already counted
    refused = budget.admit("cam3", rungs["360p"], hardware=False)
    assert "over the software encoding budget" in refused and "11,520,000" in refused
    assert budget.admit("cam3", rungs["360p"], hardware=True) == ""  # not this budget's
    assert budget.admit("cam3", rungs["main"], hardware=False) == ""  # passed through
    budget.release("cam2", "360p")
    assert budget.admit("cam3", rungs["360p"], hardware=False) == ""
