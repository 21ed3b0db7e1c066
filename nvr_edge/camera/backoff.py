"""The reconnect schedule, as a pure policy: how long to wait after each failed connection."""

from __future__ import annotations

from dataclasses import dataclass

from nvr_edge.config import RetryPolicyConfig


@dataclass
class Backoff:
    """Exponential backoff over consecutive failures; past the last retry it stays at the cap.

    A box nobody watches must never give up on a camera: after `max_retries` the caller
    raises its alert once and keeps trying every `max_delay_ms`.
    """

    policy: RetryPolicyConfig
    failures: int = 0

    def delay_s(self, failure_number: int) -> float:
        """Seconds to wait after the `failure_number`-th consecutive failure (1-based)."""
        p = self.policy
        if failure_number > p.max_retries:
            return p.max_delay_ms / 1000
        delay = p.initial_delay_ms * p.backoff_multiplier ** (failure_number - 1)
        return min(delay, p.max_delay_ms) / 1000

    def record_failure(self) -> float:
        self.failures += 1
        return self.delay_s(self.failures)

    @property
    def just_gave_up(self) -> bool:
        """True exactly once per outage: when the last retry has failed."""
        return self.failures == self.policy.max_retries

    def reset(self) -> None:
        self.failures = 0
