"""Open WHEP sessions: a peer connection and its relay track each, closed exactly once.

A session ends on DELETE, when the peer connection fails or closes, when the relay drops
its viewer ("too slow", camera removed), when ICE does not connect in time, and at
shutdown. Closing unsubscribes from the hub and updates the live metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter

from aiortc import RTCPeerConnection

from ..counters import LiveMetrics
from .track import RelayTrack

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 20.0  # a viewer that posted an offer but never connects


class Session:
    def __init__(self, camera: str, pc: RTCPeerConnection, track: RelayTrack) -> None:
        self.id = secrets.token_urlsafe(16)
        self.camera, self.pc, self.track = camera, pc, track
        self.closed = False


class Sessions:
    def __init__(self, metrics: LiveMetrics) -> None:
        self.metrics = metrics
        self.open: dict[str, Session] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def count(self, camera: str) -> int:
        return Counter(s.camera for s in self.open.values())[camera]

    def add(self, session: Session) -> None:
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
