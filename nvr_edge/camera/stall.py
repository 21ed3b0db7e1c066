"""Stall detection: a stream that has stopped or slowed to a trickle means reconnect."""

from __future__ import annotations

from nvr_edge.config import StallConfig


class StallMonitor:
    """Counts gaps longer than `timeout_ms`; more than `max_drops` in a row means reconnect.

    Gaps are seen two ways: a packet arriving late (`on_packet`) and the consumer's wait
    timing out while nothing arrives at all (`on_silence`). A gap already counted as
    silence is not counted again when its late packet finally arrives. A packet on time
    resets the count: only consecutive gaps mean a stall.
    """

    def __init__(self, config: StallConfig, now: float) -> None:
        self.timeout_s = config.timeout_ms / 1000
        self.max_drops = config.max_drops
        self.last_packet = now
        self.drops = 0
        self._silence_counted = 0

    def on_packet(self, now: float) -> bool:
        """Record a packet; True when the stream should be reconnected."""
        late = now - self.last_packet > self.timeout_s
        if not late:
            self.drops = 0
        elif not self._silence_counted:
            self.drops += 1
        self.last_packet = now
        self._silence_counted = 0
        return self.drops > self.max_drops

    def on_silence(self, now: float) -> bool:
        """Record that nothing arrived; counts one drop per whole timeout of silence."""
        due = int((now - self.last_packet) / self.timeout_s)
        if due > self._silence_counted:
            self.drops += due - self._silence_counted
            self._silence_counted = due
        return self.drops > self.max_drops
