"""Open WHEP sessions: a peer connection and its relay track each, closed exactly once.

A session ends on DELETE, when the peer connection fails or closes, when the relay drops
its viewer ("too slow", camera removed), when ICE does not connect in time, and at
shutdown. Closing unsubscribes from the hub and updates the live metrics.

Each session's rung follows its receiver's reports (abr.py), checked every `ADAPT_S`: the
track switches when the policy wants another rung (at that rung's keyframe), and keeps the
rung below flowing while the link starts to look bad (a step down then waits for one GOP
of a running encoder, not for a cold start)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections import Counter
from typing import Any

from aiortc import RTCPeerConnection

from ..counters import LiveMetrics
from .abr import ViewerAbr, remote_inbound
from .feedback import Feedback
from .track import RelayTrack

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 20.0  # a viewer that posted an offer but never connects
# How often a session's receiver reports are read: a report (aiortc: every 0.5-1.5 s)
# waits at most this long to be seen; a step down rests on two of them (live/abr.py)
ADAPT_S = 0.25
ESTIMATE_AGE_S = 3.0  # a receiver estimate older than this is no longer the link's
_SERIALS = itertools.count(1)  # a session's name in metrics (its id is its URL's secret)


class Session:
    def __init__(self, camera: str, pc: RTCPeerConnection, track: RelayTrack,
                 abr: ViewerAbr, feedback: Feedback | None = None) -> None:
        self.id = secrets.token_urlsafe(16)
        self.serial = next(_SERIALS)
        self.camera, self.pc, self.track, self.abr = camera, pc, track, abr
        self.feedback = feedback or Feedback()
        self.closed = False
        loop = asyncio.get_running_loop()
        track.on_switch = lambda stream: abr.switched(stream, loop.time())

    def adapt(self, stats: Any, now: float) -> None:
        """Take the receiver's last report; start a switch when the policy wants one."""
        wanted = self.abr.observe(stats, now, self.feedback.estimate_kbps(now, ESTIMATE_AGE_S))
        below = self.abr.below(now)
        self.track.prepare(below.stream if below is not None else None)
        moving_to = self.track.target_stream if self.track.target is not None \
            else self.track.stream
        if wanted.stream != moving_to:
            self.abr.refused = self.track.switch(wanted.stream)

    def status(self) -> dict[str, Any]:
        estimate = self.feedback.estimate_bps
        return {"camera": self.camera, "session": self.serial, **self.abr.status(),
                "switching_to": self.track.target_stream if self.track.target else None,
                "estimate_kbps": None if estimate is None else round(estimate / 1000),
                "pictures_asked": self.feedback.pictures_asked}


class Sessions:
    def __init__(self, metrics: LiveMetrics) -> None:
        self.metrics = metrics
        self.open: dict[str, Session] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        # Slots taken by offers still being answered: a POST awaits (stream, ICE) between
        # the limit check and add(), so the check counts these too.
        self.reserved: Counter[str] = Counter()

    def count(self, camera: str) -> int:
        """Open sessions and reserved slots of `camera`."""
        return Counter(s.camera for s in self.open.values())[camera] + self.reserved[camera]

    def reserve(self, camera: str, limit: int) -> bool:
        """Take a slot when fewer than `limit` are taken (no await in between: atomic on
        the loop); the caller then calls add() or release()."""
        if self.count(camera) >= limit:
            return False
        self.reserved[camera] += 1
        return True

    def release(self, camera: str) -> None:
        self.reserved[camera] -= 1
        if self.reserved[camera] <= 0:
            del self.reserved[camera]

    def add(self, session: Session) -> None:
        """The session takes the slot reserved for it."""
        self.release(session.camera)
        self.open[session.id] = session
        self.metrics.viewer_joined(session.camera)
        pc = session.pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(session, f"peer connection {pc.connectionState}")

        @session.track.on("ended")
        def on_ended() -> None:  # the relay dropped the viewer, or we stopped the track
            self._spawn(self.close(session, session.track.viewer.closed or "track ended"))

        self._spawn(self._watch(session))
        self._spawn(self._adapt(session))

    async def _adapt(self, session: Session) -> None:
        loop = asyncio.get_running_loop()
        while not session.closed:
            await asyncio.sleep(ADAPT_S)
            if session.closed or session.pc.connectionState != "connected":
                continue
            try:
                stats = remote_inbound(await session.pc.getStats())
            except Exception as exc:  # a transport closing under us: the session ends
                log.debug("webrtc: %s: no stats: %s", session.camera, exc)
                continue
            session.adapt(stats, loop.time())

    def status(self) -> list[dict[str, Any]]:
        """Each open session: camera, rung, pinned, switches, loss, rtt_ms."""
        return [s.status() for s in self.open.values()]

    async def _watch(self, session: Session) -> None:
        """Closes a session that never connects, and one whose relay viewer is dropped."""
        deadline = asyncio.get_running_loop().time() + CONNECT_TIMEOUT_S
        while not session.closed:
            reason = session.track.viewer.closed
            if reason:
                await self.close(session, reason)
            elif session.pc.connectionState != "connected" \
                    and asyncio.get_running_loop().time() > deadline:
                await self.close(session, "ICE did not connect in time")
            elif session.pc.connectionState == "connected":
                deadline = float("inf")
            await asyncio.sleep(0.5)

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self, session: Session, reason: str) -> None:
        if session.closed:
            return
        session.closed = True
        self.open.pop(session.id, None)
        self.metrics.viewer_left(session.camera)
        log.info("webrtc: %s: session closed: %s", session.camera, reason)
        session.track.stop()
        with contextlib.suppress(Exception):  # a broken transport must not stop the rest
            await session.pc.close()

    async def close_all(self, reason: str = "the appliance is stopping") -> None:
        await asyncio.gather(*(self.close(s, reason) for s in list(self.open.values())))
        for task in list(self.tasks):
            task.cancel()
