"""One WebRTC viewer's rung: the camera's ladder as WebRTC carries it, an `AbrState` fed
from the receiver's RTCP reports, and the viewer's pin.

The reports are aiortc's public stats (`RTCPeerConnection.getStats()`: the
remote-inbound-rtp entry, i.e. the last receiver report's fraction lost and the round-trip
time), with the receiver's bandwidth estimate (REMB, read by feedback.py) beside each, when
fresh and below what the current rung needs: a down signal only. Chromium's estimate
climbs to about 1.5 times what it receives, never to a bigger rung's rate, so as a gate
for going up it would keep a viewer on a small rung for good; up stays the policy's clean
period."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nvr_edge import AbrReport, AbrState

LIVE = "live"


@dataclass(frozen=True)
class Rendition:
    name: str    # the ladder's: main, sub, 360p, 240p
    stream: str  # the relay stream that carries it
    kbps: int
    width: int
    height: int


def webrtc_ladder(rungs: list[dict[str, Any]]) -> list[Rendition]:
    """The rungs WebRTC offers, best first: not a main stream beside a sub stream (its
    bit rate and B-frames are what the sub stream is there to spare a viewer)."""
    return [Rendition(r["name"], r["stream"], r["kbps"], r["width"], r["height"])
            for r in rungs if r["stream"] != "main"]


class ViewerAbr:
    def __init__(self, ladder: list[Rendition], pinned: str | None = None) -> None:
        if not ladder:
            raise ValueError("no rung to play")
        self.ladder = ladder
        start = self.index(pinned) if pinned else next(
            (i for i, r in enumerate(ladder) if r.stream == LIVE), 0)
        self.state = AbrState(tuple(r.kbps for r in ladder), start)
        self.state.pin(start if pinned else None)
        self.last_report: Any = None  # the stats entry last observed (its timestamp)
        self.refused = ""             # why the last switch could not start

    @property
    def current(self) -> Rendition:
        return self.ladder[self.state.current]

    @property
    def pinned(self) -> str | None:
        return None if self.state.pinned is None else self.ladder[self.state.pinned].name

    def index(self, name: str) -> int:
        for i, rung in enumerate(self.ladder):
            if rung.name == name:
                return i
        raise ValueError(f"no rung {name!r} (this camera has "
                         f"{', '.join(r.name for r in self.ladder)})")

    def pin(self, name: str | None) -> None:
        self.state.pin(None if name is None else self.index(name))

    def observe(self, stats: Any, now: float, estimate_kbps: float | None = None
                ) -> Rendition:
        """A remote-inbound-rtp stats entry (None: none yet) and the receiver's estimate
        (None: none fresh); the rendition wanted now."""
        if stats is not None and stats is not self.last_report:
            self.last_report = stats
            policy = self.state.policy
            short = estimate_kbps is not None \
                and estimate_kbps * policy.headroom < self.current.kbps
            # RTCP's fraction lost is 8-bit fixed point (aiortc passes it through as is)
            self.state.observe(AbrReport(now, (stats.fractionLost or 0) / 256,
                                         estimate_kbps if short else None,
                                         stats.roundTripTime))
        return self.ladder[self.state.wanted(now)]

    def below(self, now: float) -> Rendition | None:
        """The rung a step down would go to, while the link starts to look bad (unpinned):
        worth having ready before the step is decided."""
        state = self.state
        if state.pinned is not None or state.current + 1 >= len(self.ladder) \
                or not state.leaning(now):
            return None
        return self.ladder[state.current + 1]

    def switched(self, stream: str, now: float) -> None:
        index = next(i for i, r in enumerate(self.ladder) if r.stream == stream)
        self.state.switched(index, now)

    def status(self) -> dict[str, Any]:
        last = self.state.last
        return {"rung": self.current.name, "pinned": self.pinned,
                "switches": self.state.switches,
                "loss": None if last is None else round(last.loss, 4),
                "rtt_ms": None if last is None or last.rtt_s is None
                else round(last.rtt_s * 1000, 1),
                "refused": self.refused}


def remote_inbound(report: Any) -> Any:
    """The video remote-inbound-rtp entry of a `getStats()` report, if any."""
    return next((s for s in report.values() if getattr(s, "type", "") == "remote-inbound-rtp"
                 and getattr(s, "kind", "") == "video"), None)
