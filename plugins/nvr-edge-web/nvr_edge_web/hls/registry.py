"""The running packagers: started by a camera's first HLS request, stopped IDLE_S after
its last one, so a camera nobody watches over HLS costs nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from nvr_edge import LiveRelay

from .packager import Packager

log = logging.getLogger(__name__)
IDLE_S = 30.0
SWEEP_S = 5.0


class Packagers:
    def __init__(self, hub: LiveRelay) -> None:
        self.hub = hub
        self.running: dict[str, Packager] = {}
        self.sweeper: asyncio.Task[None] | None = None

    def get(self, camera: str) -> Packager:
        """The camera's packager, started now if it is not running (or its viewer was
        dropped by the relay: too slow, camera removed)."""
        packager = self.running.get(camera)
        if packager is None or packager.closed:
            if packager is not None:
                log.info("hls: %s: packager ended: %s", camera, packager.closed)
            packager = self.running[camera] = Packager(self.hub, camera)
            log.info("hls: %s: packager started", camera)
        if self.sweeper is None:
            self.sweeper = asyncio.create_task(self._sweep())
        packager.touch()
        return packager

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            now = asyncio.get_running_loop().time()
            for camera, packager in list(self.running.items()):
                if packager.closed or now - packager.last_request > IDLE_S:
                    del self.running[camera]
                    packager.stop()
                    log.info("hls: %s: packager stopped (no request for %.0f s)",
                             camera, IDLE_S)

    async def close(self, app: web.Application) -> None:
        if self.sweeper is not None:
            self.sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sweeper
        for packager in self.running.values():
            packager.stop()
        self.running.clear()
