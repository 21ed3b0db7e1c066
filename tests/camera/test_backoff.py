from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.camera.backoff import Backoff
from nvr_edge.config import RetryPolicyConfig


def test_the_spec_defaults() -> None:
    backoff = Backoff(RetryPolicyConfig())
    delays = [backoff.record_failure() for _ in range(7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_gives_up_exactly_once_then_keeps_trying_at_the_cap() -> None:
    backoff = Backoff(RetryPolicyConfig(max_retries=3))
    gave_up = []
    for _ in range(6):
        backoff.record_failure()
        gave_up.append(backoff.just_gave_up)
    assert gave_up == [False, False, True, False, False, False]
    backoff.reset()
    assert backoff.record_failure() == 1.0


policies = st.builds(
    RetryPolicyConfig, max_retries=st.integers(1, 20), initial_delay_ms=st.integers(10, 60_000),
    max_delay_ms=st.integers(10, 600_000), backoff_multiplier=st.floats(1.0, 10.0))


@given(policies, st.integers(1, 60))
def test_delays_grow_never_exceed_the_cap_and_stay_at_it(policy: RetryPolicyConfig,
                                                         n: int) -> None:
    cap = max(policy.max_delay_ms, policy.initial_delay_ms) / 1000
    backoff = Backoff(policy)
    delays = [backoff.delay_s(i) for i in range(1, n + 1)]
    assert all(0 < d <= cap for d in delays)
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert delays[0] == min(policy.initial_delay_ms, policy.max_delay_ms) / 1000
    assert all(d == policy.max_delay_ms / 1000 for d in delays[policy.max_retries:])
