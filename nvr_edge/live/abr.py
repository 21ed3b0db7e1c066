"""Adaptive bitrate for one viewer: which rung of a camera's ladder its network carries.

Fed the receiver's reports (RTCP receiver reports: fraction lost, round-trip time; REMB:
the receiver's bandwidth estimate), it answers the rung the viewer should get. Down fast,
up slow, as a viewer feels it: a stall is worse than a softer picture.

- **Down** when the reports of the last `window_s` say the link is bad: their mean loss
  above `loss_down`, with at least `down_reports` of them (one report can be a burst),
  the latest among them, above half of it (the loss goes on now); or every one's (and at
  least `down_reports`) estimate below `headroom` x the rung's bitrate; or every one's
  (and at least `down_reports`) round-trip time more than `queue_down_s` above the
  lowest this viewer has had: a queue fills on the path (a capped uplink queues before
  it drops, and the loss shows in the reports a second or more later). Down to the best
  rung the estimate carries (or one rung, on loss or queueing alone). A window rather
  than "bad for N s in a row": at 10 % loss a receiver report covers ~40 packets, and one
  in five of them shows 5 % or less by chance, which restarted a "consecutive" timer
  (measured 5.1-6.9 s to the first frame of the rung below; now 1.7-2.9 s,
  docs/BENCHMARKS.md).
- **Up** one rung only after `up_after_s` clean (loss under `loss_clean`, no queue, and,
  where an estimate exists, room for the next rung's bitrate with the headroom).
- **Hold** `hold_s` after every switch: a new rung's first seconds (its keyframe burst)
  prove nothing about the link.
- A **pin** (the viewer chose a rung) overrides all of it.

The sender switches at the target rung's next keyframe (no grey frames); this policy only
says where to go. Pure: time comes in, nothing is read from clocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AbrPolicy:
    loss_down: float = 0.05    # mean fraction lost over the window that counts as bad
    loss_clean: float = 0.01   # fraction lost per report that counts as clean
    headroom: float = 0.85     # a rung fits an estimate when its bitrate <= estimate x this
    window_s: float = 2.0      # a step down rests on the reports this far back
    down_reports: int = 2      # and on at least this many of them
    up_after_s: float = 10.0   # clean this long in a row: step up one rung
    hold_s: float = 4.0        # no switch this long after the last
    queue_down_s: float = 0.15  # round trip this far above the lowest: a queue is filling

    def __post_init__(self) -> None:
        if not 0 <= self.loss_clean <= self.loss_down <= 1:
            raise ValueError("AbrPolicy: want 0 <= loss_clean <= loss_down <= 1")
        if not 0 < self.headroom <= 1:
            raise ValueError("AbrPolicy: headroom must be in (0, 1]")
        if min(self.window_s, self.up_after_s, self.hold_s, self.queue_down_s) < 0:
            raise ValueError("AbrPolicy: durations must not be negative")
        if self.down_reports < 1:
            raise ValueError("AbrPolicy: down_reports must be at least 1")


@dataclass(frozen=True)
class Report:
    """One receiver report: when it came (s, monotonic), the fraction of packets lost since
    the previous one, and the receiver's estimate (kbit/s) if it sends one."""

    at: float
    loss: float
    estimate_kbps: float | None = None
    rtt_s: float | None = None


@dataclass
class AbrState:
    """One viewer: `rungs_kbps` best first; `current` an index into it."""

    rungs_kbps: tuple[int, ...]
    current: int
    policy: AbrPolicy = field(default_factory=AbrPolicy)
    pinned: int | None = None
    switched_at: float = float("-inf")
    clean_since: float | None = None
    switches: int = 0
    last: Report | None = None
    base_rtt_s: float | None = None  # the lowest round trip seen: the path without a queue
    recent: list[Report] = field(default_factory=list)  # since the switch, in the window

    def __post_init__(self) -> None:
        if not self.rungs_kbps or list(self.rungs_kbps) != sorted(self.rungs_kbps,
                                                                   reverse=True):
            raise ValueError("AbrState: rungs_kbps must be non-empty, best (highest) first")
        if not 0 <= self.current < len(self.rungs_kbps):
            raise ValueError(f"AbrState: current {self.current} is not a rung")

    def pin(self, rung: int | None) -> None:
        """The viewer's choice (None: automatic again)."""
        if rung is not None and not 0 <= rung < len(self.rungs_kbps):
            raise ValueError(f"no rung {rung} (0..{len(self.rungs_kbps) - 1})")
        self.pinned = rung

    def observe(self, report: Report) -> int:
        """Take a report; the rung wanted now (the current one, or where to switch)."""
        self.last = report
        now, p = report.at, self.policy
        if report.rtt_s is not None and (self.base_rtt_s is None
                                         or report.rtt_s < self.base_rtt_s):
            self.base_rtt_s = report.rtt_s
        self.recent = [*self._window(now), report]
        fits = self._fits(report.estimate_kbps)
        clean = report.loss < p.loss_clean and fits <= self.current - 1 \
            and not self._queued(report) if self.current else False
        self.clean_since = (self.clean_since if self.clean_since is not None else now) \
            if clean else None
        return self.wanted(now)

    def wanted(self, now: float) -> int:
        if self.pinned is not None:
            return self.pinned
        p = self.policy
        if now - self.switched_at < p.hold_s:
            return self.current
        if self.bad(now):
            assert self.last is not None
            by_estimate = self._fits(self.last.estimate_kbps)
            return min(len(self.rungs_kbps) - 1, max(self.current + 1, by_estimate))
        if self.clean_since is not None and now - self.clean_since >= p.up_after_s:
            return self.current - 1
        return self.current

    def bad(self, now: float) -> bool:
        """Do the window's reports (enough of them) say the current rung is too much?"""
        window, p = self._window(now), self.policy
        if len(window) < p.down_reports:
            return False
        some_loss = [r.loss > p.loss_down / 2 for r in window]
        lossy = sum(r.loss for r in window) / len(window) > p.loss_down \
            and some_loss[-1] and sum(some_loss) >= p.down_reports
        return lossy or all(self._fits(r.estimate_kbps) > self.current for r in window) \
            or all(self._queued(r) for r in window)

    def leaning(self, now: float) -> bool:
        """Does any report of the window since the switch say bad? (Not yet enough to step
        down: the sender may get the rung below ready.)"""
        p = self.policy
        return any(r.loss > p.loss_down / 2 or self._fits(r.estimate_kbps) > self.current
                   or self._queued(r) for r in self._window(now))

    def switched(self, rung: int, now: float) -> None:
        """The sender moved to `rung` (at its keyframe): the hold starts, the windows too
        (what the old rung's reports said is no evidence about the new one)."""
        if rung != self.current:
            self.current, self.switched_at = rung, now
            self.switches += 1
            self.clean_since = None
            self.recent = []

    def _queued(self, report: Report) -> bool:
        """Does the report's round trip say packets wait in a queue on the path?"""
        return report.rtt_s is not None and self.base_rtt_s is not None \
            and report.rtt_s - self.base_rtt_s > self.policy.queue_down_s

    def _window(self, now: float) -> list[Report]:
        return [r for r in self.recent if r.at > now - self.policy.window_s]

    def _fits(self, estimate_kbps: float | None) -> int:
        """The best rung the estimate carries with the headroom (the last when none does;
        the best when there is no estimate)."""
        if estimate_kbps is None:
            return 0
        room = estimate_kbps * self.policy.headroom
        return next((i for i, kbps in enumerate(self.rungs_kbps) if kbps <= room),
                    len(self.rungs_kbps) - 1)
