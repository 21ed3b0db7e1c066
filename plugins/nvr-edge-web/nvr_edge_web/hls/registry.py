"""The running packagers, one per (camera, rung): started by the first request for it,
stopped IDLE_S after its last one, so a rendition nobody watches over HLS costs nothing
(a transcoded rung's encoder stops with its last viewer). The single-rendition playlist
is rung "" (the live view's stream, with its audio); the multivariant playlist's audio
rendition is rung `AUDIO` (the live view's stream's audio alone). A camera's packagers
share one `Timeline`, kept while any of them runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from nvr_edge import LiveRelay

from .packager import Packager
from .timeline import Timeline
from .window import Part

log = logging.getLogger(__name__)
IDLE_S = 30.0
SWEEP_S = 5.0
Key = tuple[str, str]  # (camera, rung name; "" for the single-rendition playlist)
AUDIO = "audio"        # no ladder rung has this name (live/ladder.py: main, sub, 360p, 240p)


def _named(key: Key) -> str:
    return f"{key[0]}/{key[1]}" if key[1] else key[0]


class Packagers:
    def __init__(self, hub: LiveRelay) -> None:
        self.hub = hub
        self.running: dict[Key, Packager] = {}
        self.timelines: dict[str, Timeline] = {}
        self.sweeper: asyncio.Task[None] | None = None

    def get(self, camera: str, rung: str = "", stream: str = "live") -> Packager:
        """The packager of the camera's `rung` (carried by hub stream `stream`), started
        now if it is not running (or its viewer was dropped by the relay: too slow,
        camera removed, a rung refused)."""
        key = (camera, rung)
        packager = self.running.get(key)
        if packager is None or packager.closed:
            if packager is not None:
                log.info("hls: %s: packager ended: %s", _named(key), packager.closed)
            timeline = self.timelines.setdefault(camera, Timeline())
            packager = self.running[key] = Packager(
                self.hub, camera, stream, audio=rung in ("", AUDIO), timeline=timeline,
                video=rung != AUDIO)
            log.info("hls: %s: packager started", _named(key))
        if self.sweeper is None:
            self.sweeper = asyncio.create_task(self._sweep())
        packager.touch()
        return packager

    def reports(self, camera: str, rung: str) -> list[tuple[str, Part]]:
        """The camera's other rungs being packaged now and their last parts (the rendition
        reports of `rung`'s playlist: video rungs only; the audio rendition lists none)."""
        found: list[tuple[str, Part]] = []
        if rung == AUDIO:
            return found
        for (other_camera, other), packager in sorted(self.running.items()):
            last = packager.window.last_part()
            if other_camera == camera and other not in ("", rung, AUDIO) and last is not None \
                    and not packager.closed:
                found.append((other, last))
        return found

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            now = asyncio.get_running_loop().time()
            for key, packager in list(self.running.items()):
                if packager.closed or now - packager.last_request > IDLE_S:
                    del self.running[key]
                    packager.stop()
                    log.info("hls: %s: packager stopped (no request for %.0f s)",
                             _named(key), IDLE_S)
            cameras = {camera for camera, _ in self.running}
            for camera in set(self.timelines) - cameras:
                del self.timelines[camera]

    async def close(self, app: web.Application) -> None:
        if self.sweeper is not None:
            self.sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sweeper
        for packager in self.running.values():
            packager.stop()
        self.running.clear()
