"""Whether a camera's transcoded rung may start (the hub asks at its first viewer): it must
be on the camera's ladder, some encoder must have passed its probe, and a software one
needs room in the `RungBudget`. The refusal's reason reaches the viewer and the API, for
the page to show "unavailable: ..."."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from nvr_edge.encode.offer import EncoderOffer
from nvr_edge.live.ladder import RUNG_NAMES, TRANSCODED, Rung, RungBudget, Shape, ladder
from nvr_edge.live.wire import StreamInfo

InfoOf = Callable[[str, str], StreamInfo | None]  # (camera, hub stream) -> its info


class RungGate:
    def __init__(self, max_pixels_per_s: int, info_of: InfoOf,
                 offers: Callable[[], list[EncoderOffer] | None]) -> None:
        self.budget = RungBudget(max_pixels_per_s)
        self.info_of, self.offers = info_of, offers
        self.lock = threading.Lock()

    def ladder_of(self, camera: str) -> list[Rung] | None:
        """The camera's ladder from the streams the hub has seen (None: not yet). Rungs
        are made from the live view's stream, so they are measured against it."""
        live = self.info_of(camera, "live")
        if live is None:
            return None
        shape = Shape(live.width, live.height)
        main = self.info_of(camera, "main")
        if live.source != "sub":
            return ladder(shape)
        rungs = ladder(shape)  # its first rung is the sub stream, passed through
        rungs[0] = dataclasses.replace(rungs[0], name="sub", source="sub")
        if main is not None:
            rungs.insert(0, ladder(Shape(main.width, main.height))[0])
        return rungs

    def admit(self, camera: str, stream: str) -> str:
        """"" (and the rung counted against the budget), or why it cannot start."""
        if stream not in RUNG_NAMES:
            return ""
        rungs = self.ladder_of(camera)
        rung = _unknown_rung(stream) if rungs is None else \
            next((r for r in rungs if r.name == stream), None)
        if rung is None:
            return "not below the camera's live stream (it is no larger)"
        return self._check(camera, rung, count=True)

    def release(self, camera: str, stream: str) -> None:
        with self.lock:
            self.budget.release(camera, stream)

    def rungs(self, camera: str) -> list[dict[str, Any]]:
        """The camera's ladder for the API: each rung's size, rate, and whether a first
        viewer may start it now (a running one may be joined)."""
        rungs = self.ladder_of(camera)
        listed = []
        for rung in rungs if rungs is not None else [_unknown_rung(n) for n in RUNG_NAMES]:
            reason = self._check(camera, rung, count=False) if rung.transcoded else ""
            listed.append({"name": rung.name, "width": rung.width, "height": rung.height,
                           "kbps": rung.kbps, "transcoded": rung.transcoded,
                           "available": not reason, "reason": reason,
                           "stream": _hub_stream(rung, rungs)})
        return listed

    def _check(self, camera: str, rung: Rung, count: bool) -> str:
        offers = self.offers()
        if not offers:
            return "no encoder passed its probe"
        with self.lock:
            check = self.budget.admit if count else self.budget.refusal
            return check(camera, rung, hardware=not offers[0].software)


def _hub_stream(rung: Rung, rungs: list[Rung] | None) -> str:
    """The hub stream that carries `rung`: "live" for the live view's own stream (the sub,
    else the main one), "main" for a main stream beside a sub, else the rung's name."""
    if rung.transcoded:
        return rung.name
    has_sub = rungs is not None and any(r.name == "sub" for r in rungs)
    return "main" if rung.name == "main" and has_sub else "live"


def _unknown_rung(name: str) -> Rung:
    """A rung of a camera whose live stream the hub has not seen yet: as configured."""
    _, width, height, kbps = next(t for t in TRANSCODED if t[0] == name)
    return Rung(name, width, height, kbps, "live", True)
