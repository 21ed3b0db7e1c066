from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.camera.stall import StallMonitor
from nvr_edge.config import StallConfig


def test_steady_30fps_never_stalls() -> None:
    monitor = StallMonitor(StallConfig(), now=0.0)
    assert not any(monitor.on_packet(i / 30) for i in range(1, 3000))


def test_eleven_late_packets_in_a_row_mean_reconnect_as_in_the_spec() -> None:
    monitor = StallMonitor(StallConfig(timeout_ms=500, max_drops=10), now=0.0)
    verdicts = [monitor.on_packet(0.6 * i) for i in range(1, 12)]
    assert verdicts == [False] * 10 + [True]


def test_a_good_packet_resets_the_count() -> None:
    monitor = StallMonitor(StallConfig(timeout_ms=500, max_drops=10), now=0.0)
    t = 0.0
    for _ in range(10):
        t += 0.6
        monitor.on_packet(t)
    monitor.on_packet(t + 0.01)
    assert monitor.drops == 0


def test_total_silence_counts_one_drop_per_timeout_and_is_not_counted_twice() -> None:
    monitor = StallMonitor(StallConfig(timeout_ms=500, max_drops=10), now=0.0)
    assert not monitor.on_silence(2.6)
    assert monitor.drops == 5
    assert not monitor.on_packet(2.7)  # the late packet after the silence: already counted
    assert monitor.drops == 5
    assert monitor.on_silence(2.7 + 5.6)  # 11 more timeouts of silence


@given(st.lists(st.floats(0.001, 3.0), min_size=1, max_size=200))
def test_reconnect_only_after_more_than_max_drops_late_gaps(gaps: list[float]) -> None:
    monitor = StallMonitor(StallConfig(timeout_ms=500, max_drops=10), now=0.0)
    t, run = 0.0, 0
    for gap in gaps:
        t += gap
        run = run + 1 if gap > 0.5 else 0
        assert monitor.on_packet(t) == (run > 10)
