"""The cameras the running box has heard of, keyed by endpoint URN: from Hellos, from
active probes, forgotten on a Bye or when unseen for `expire_s` (a camera that lost power
says no Bye), with what each said when asked with the site's credentials. Thread-safe: the
listener writes, status and commands read."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nvr_edge_onvif.probe import ProbeMatch

EXPIRE_S = 600.0  # ~10 min: cameras re-announce on boot and answer every probe
MAX_CAMERAS = 1024  # a flood of forged Hellos fills this, not the box's memory


@dataclass(frozen=True)
class Seen:
    camera: ProbeMatch
    first_seen: float  # wall time (time.time()), for people
    last_seen: float
    last_seen_mono: float  # time.monotonic(), for expiry (wall clocks jump on NTP sync)
    how: str  # "hello" or "probe": what last told us


class Registry:
    def __init__(self, expire_s: float = EXPIRE_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.expire_s = expire_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seen: dict[str, Seen] = {}
        # URN -> what the camera said when asked with the site's credentials (public form:
        # streams with masked URLs, problem, seconds from first heard); dropped when it
        # moves or is forgotten, so a camera is asked once per address
        self._described: dict[str, dict[str, Any]] = {}

    def saw(self, camera: ProbeMatch, how: str) -> ProbeMatch | None:
        """Record `camera` (a new one only below MAX_CAMERAS); the previous sighting if its
        first XAddr changed (a new address: DHCP), else None."""
        now, wall = self._monotonic(), time.time()
        with self._lock:
            before = self._seen.get(camera.urn)
            if before is None and len(self._seen) >= MAX_CAMERAS:
                return None
            first = before.first_seen if before else wall
            self._seen[camera.urn] = Seen(camera, first, wall, now, how)
        if before is not None and before.camera.xaddrs[:1] != camera.xaddrs[:1]:
            with self._lock:
                self._described.pop(camera.urn, None)
            return before.camera
        return None

    def described(self, urn: str, public: dict[str, Any]) -> float | None:
        """Keep what `urn` said when asked (a candidate's public form); the seconds since
        it was first heard, or None when it was forgotten meanwhile."""
        with self._lock:
            seen = self._seen.get(urn)
            if seen is None:
                return None
            after_s = max(0.0, time.time() - seen.first_seen)
            self._described[urn] = {"streams": public.get("streams", []),
                                    "manufacturer": public.get("manufacturer", ""),
                                    "model": public.get("model", ""),
                                    "problem": public.get("problem", ""),
                                    "described_after_s": round(after_s, 3)}
            return after_s

    def is_described(self, urn: str) -> bool:
        with self._lock:
            return urn in self._described

    def forget_descriptions(self) -> None:
        """The credentials changed: every camera is asked again at its next sighting."""
        with self._lock:
            self._described.clear()

    def bye(self, urn: str) -> bool:
        """Forget `urn`; whether it was known."""
        with self._lock:
            self._described.pop(urn, None)
            return self._seen.pop(urn, None) is not None

    def expire(self) -> list[str]:
        """Forget cameras unseen for `expire_s`; their URNs."""
        cutoff = self._monotonic() - self.expire_s
        with self._lock:
            gone = [urn for urn, s in self._seen.items() if s.last_seen_mono < cutoff]
            for urn in gone:
                del self._seen[urn]
                self._described.pop(urn, None)
        return gone

    def cameras(self) -> list[ProbeMatch]:
        with self._lock:
            return [s.camera for s in self._seen.values()]

    def get(self, urn: str) -> ProbeMatch | None:
        with self._lock:
            seen = self._seen.get(urn)
        return seen.camera if seen else None

    def status(self) -> dict[str, Any]:
        """Plain data for the status snapshot (no credentials are ever held here)."""
        with self._lock:
            seen = sorted(self._seen.values(), key=lambda s: (s.camera.sender, s.camera.urn))
            described = dict(self._described)
        return {"candidates": [{
            "id": s.camera.urn, "address": s.camera.host, "xaddrs": list(s.camera.xaddrs),
            "name": s.camera.scope("name"), "hardware": s.camera.scope("hardware"),
            "first_seen": round(s.first_seen, 3), "last_seen": round(s.last_seen, 3),
            "how": s.how, **described.get(s.camera.urn, {})} for s in seen]}
