"""The adaptive-bitrate policy (live/abr.py): down fast on a bad link, up one rung after a
clean period, a hold after every switch, the viewer's pin over all of it. Properties over
any report sequence, plus the issue's two scenarios (10 % loss, a 600 kbit/s cap) and
the noise of real receiver reports (a burst alone does not step down; 10 % loss whose
reports scatter as binomial counts still steps down within two reports)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.live.abr import AbrPolicy, AbrState, Report

LADDER = (4000, 1000, 500, 250)  # main, sub, 640x360, 426x240 (kbit/s)
POLICY = AbrPolicy()
RR_INTERVAL_S = 1.0  # Chromium sends receiver reports about once a second

# Phases of steady conditions (a clean stretch, a lossy one, a capped one...), each reported
# at a steady cadence: the shape a link has, and long enough stretches for the up rule.
phase = st.tuples(st.integers(1, 15), st.floats(0.2, 2.0),
                  st.sampled_from([0.0, 0.005, 0.02, 0.1, 0.3]),
                  st.sampled_from([None, 200.0, 600.0, 1200.0, 5000.0]))
reports = st.lists(phase, max_size=12).map(
    lambda phases: [(gap, loss, estimate) for n, gap, loss, estimate in phases
                    for _ in range(n)])


def drive(state: AbrState, sequence: list[tuple[float, float, float | None]]
          ) -> list[tuple[float, int, int, Report]]:
    """A sender that switches as soon as it is told (a keyframe at once): (time, from,
    to, the report that caused it) for every switch."""
    now, switches = 0.0, []
    for gap, loss, estimate in sequence:
        now += gap
        report = Report(now, loss, estimate)
        wanted = state.observe(report)
        if wanted != state.current:
            switches.append((now, state.current, wanted, report))
            state.switched(wanted, now)
    return switches


@given(reports)
def test_switches_keep_the_hold_and_stay_on_the_ladder(sequence: list) -> None:
    state = AbrState(LADDER, current=1)
    switches = drive(state, sequence)
    times = [t for t, *_ in switches]
    assert all(b - a >= POLICY.hold_s for a, b in itertools.pairwise(times))
    assert all(0 <= to < len(LADDER) for _, _, to, _ in switches)
    assert state.switches == len(switches)


@given(reports)
def test_up_is_one_rung_after_a_clean_period_and_down_follows_a_bad_one(
        sequence: list) -> None:
    state = AbrState(LADDER, current=2)
    history: list[Report] = []
    now = 0.0
    for gap, loss, estimate in sequence:
        now += gap
        report = Report(now, loss, estimate)
        history.append(report)
        before = state.current
        wanted = state.observe(report)
        if wanted == before:
            continue
        since_switch = [r for r in history if r.at > state.switched_at]
        if wanted < before:  # up: one rung, after up_after_s of clean reports only
            assert wanted == before - 1
            window = [r for r in since_switch if r.at >= now - POLICY.up_after_s]
            assert since_switch[0].at <= now - POLICY.up_after_s
            assert all(r.loss < POLICY.loss_clean for r in window)
        else:  # down: on enough reports of the window since the switch, saying bad
            window = [r for r in since_switch if r.at > now - POLICY.window_s]
            assert len(window) >= POLICY.down_reports
            some_loss = [r for r in window if r.loss > POLICY.loss_down / 2]
            lossy = sum(r.loss for r in window) / len(window) > POLICY.loss_down \
                and window[-1] in some_loss and len(some_loss) >= POLICY.down_reports
            starved = all(r.estimate_kbps is not None
                          and r.estimate_kbps * POLICY.headroom < LADDER[before]
                          for r in window)
            assert lossy or starved, window
        state.switched(wanted, now)


@given(reports, st.integers(0, len(LADDER) - 1))
def test_a_pin_is_always_obeyed(sequence: list, rung: int) -> None:
    state = AbrState(LADDER, current=0)
    state.pin(rung)
    now = 0.0
    for gap, loss, estimate in sequence:
        now += gap
        assert state.observe(Report(now, loss, estimate)) == rung


def scenario(bad: Report, seconds_bad: float, clean_estimate: float | None
             ) -> tuple[float, float, int]:
    """Main rung, then `seconds_bad` of `bad` reports, then clean ones: (seconds to the
    first step down, seconds from the end of the impairment to the first step up, the
    lowest rung reached)."""
    state = AbrState(LADDER, current=0)
    now, down_at, up_at, lowest = 0.0, None, None, 0
    while now < seconds_bad + 40:
        now += RR_INTERVAL_S
        impaired = now <= seconds_bad
        report = Report(now, bad.loss if impaired else 0.0,
                        bad.estimate_kbps if impaired else clean_estimate)
        wanted = state.observe(report)
        if wanted != state.current:
            if wanted > state.current and down_at is None:
                down_at = now
            if wanted < state.current and not impaired and up_at is None:
                up_at = now - seconds_bad
            state.switched(wanted, now)
            lowest = max(lowest, wanted)
    assert down_at is not None and up_at is not None
    return down_at, up_at, lowest


def test_ten_percent_loss_steps_down_within_5_s_and_back_up_within_20_s() -> None:
    down, up, lowest = scenario(Report(0, 0.10), 30, None)
    assert down <= 5 and up <= 20, (down, up)
    assert lowest == len(LADDER) - 1  # sustained loss walks down the whole ladder


def test_a_600_kbps_cap_goes_straight_to_the_rung_it_carries() -> None:
    state = AbrState(LADDER, current=0)
    for t in range(1, 4):
        wanted = state.observe(Report(float(t), 0.0, 600.0))
    assert wanted == LADDER.index(500)  # 500 <= 600 x 0.85: one switch, not three
    down, up, _ = scenario(Report(0, 0.0, 600.0), 30, 5000.0)
    assert down <= 5 and up <= 20, (down, up)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match=r"best \(highest\) first"):
        AbrState((250, 500), current=0)
    with pytest.raises(ValueError, match="not a rung"):
        AbrState(LADDER, current=4)
    with pytest.raises(ValueError, match="no rung 7"):
        AbrState(LADDER, current=0).pin(7)
    with pytest.raises(ValueError, match="loss_clean <= loss_down"):
        AbrPolicy(loss_down=0.01, loss_clean=0.05)


def test_one_burst_does_not_step_down_and_scattered_loss_does() -> None:
    state = AbrState(LADDER, current=0)
    for t, loss in ((1, 0.0), (2, 0.4), (3, 0.0), (4, 0.0), (5, 0.01)):  # one bad report
        assert state.observe(Report(float(t), loss)) == 0
    # 10 % loss as a receiver report of ~40 packets shows it: 4/40, 1/40, 6/40 ...
    state = AbrState(LADDER, current=0)
    assert state.observe(Report(1.0, 0.025)) == 0  # 1 of 40: by chance, looks clean-ish
    assert state.observe(Report(1.9, 0.125)) == 0  # one lossy report is no evidence
    assert state.observe(Report(2.6, 0.1)) == 1  # two, the window's mean 8.3 %


@given(st.lists(st.integers(0, 40), min_size=3, max_size=3),
       st.lists(st.floats(0.5, 1.5), min_size=3, max_size=3))
def test_loss_over_the_window_steps_down_whatever_the_reports_show(
        lost: list[int], gaps: list[float]) -> None:
    """Three reports 0.5-1.5 s apart (aiortc's cadence) of 40 packets each: when those in
    the window say over 5 % lost, two of them over 2.5 %, the last too, stepped down."""
    if lost[-1] < 2:
        return
    state, now, wanted = AbrState(LADDER, current=0), 0.0, 0
    for count, gap in zip(lost, gaps, strict=True):
        now += gap
        wanted = state.observe(Report(now, count / 40))
    in_window = [c for c, t in zip(lost, itertools.accumulate(gaps), strict=True)
                 if t > now - POLICY.window_s]
    if len(in_window) >= 2 and sum(in_window) / len(in_window) / 40 > POLICY.loss_down \
            and sum(c > 1 for c in in_window) >= 2:
        assert wanted == 1


# Phases with a round trip too: a quiet path (a few ms), a jittery one, a queue filling.
rtt_phase = st.tuples(st.integers(1, 10), st.floats(0.2, 2.0),
                      st.sampled_from([0.0, 0.02, 0.1]),
                      st.sampled_from([None, 0.002, 0.04, 0.12, 0.3]))
rtt_reports = st.lists(rtt_phase, max_size=12).map(
    lambda phases: [(gap, loss, rtt) for n, gap, loss, rtt in phases for _ in range(n)])


@given(rtt_reports)
def test_a_queue_steps_down_only_when_every_report_of_the_window_shows_it(
        sequence: list) -> None:
    state, now, history = AbrState(LADDER, current=1), 0.0, []
    for gap, loss, rtt in sequence:
        now += gap
        report = Report(now, loss, None, rtt)
        history.append(report)
        before = state.current
        wanted = state.observe(report)
        if wanted == before:
            continue
        window = [r for r in history if r.at > max(now - POLICY.window_s, state.switched_at)]
        base = min(r.rtt_s for r in history if r.rtt_s is not None) \
            if any(r.rtt_s is not None for r in history) else None
        queued = [r.rtt_s is not None and r.rtt_s - base > POLICY.queue_down_s
                  for r in window]
        if wanted > before:
            lossy = sum(r.loss for r in window) / len(window) > POLICY.loss_down
            assert lossy or (len(window) >= POLICY.down_reports and all(queued)), window
        else:  # never up while the last report says a queue fills
            assert not queued[-1], window
        state.switched(wanted, now)


def test_a_capped_uplink_s_queue_steps_down_before_its_loss_shows() -> None:
    """The test relay's 600 kbit/s cap queues 0.25 s before it drops: the round trip
    goes from ~2 ms to ~250 ms at the first report, loss follows later."""
    state = AbrState(LADDER, current=1)
    assert state.observe(Report(1.0, 0.0, None, 0.002)) == 1
    assert state.observe(Report(2.0, 0.0, None, 0.26)) == 1  # one report: maybe jitter
    assert state.observe(Report(3.0, 0.0, None, 0.25)) == 2  # two: a queue
    # jitter on a Wi-Fi path: spikes between quiet reports never step down
    state = AbrState(LADDER, current=1)
    for t, rtt in enumerate((0.01, 0.3, 0.012, 0.28, 0.01, 0.35, 0.02), start=1):
        assert state.observe(Report(float(t), 0.0, None, rtt)) == 1
