"""The RTSP server: its own asyncio loop on a thread of the main process, one task per
client connection, fed by the appliance's live relay."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from typing import Any

from nvr_edge import Config, LiveRelay, TokenVerifier

from .auth import RtspAuth
from .connection import Connection
from .paths import Route
from .settings import RtspSettings
from .stats import PathStats

log = logging.getLogger(__name__)


class RtspServer:
    def __init__(self, config: Config, settings: RtspSettings, live: LiveRelay,
                 verifier: TokenVerifier | None) -> None:
        self.config, self.settings, self.live = config, settings, live
        self.auth = RtspAuth(settings, verifier)
        self.paths: dict[tuple[str, str], PathStats] = {}
        self.refusals: dict[int, int] = {}
        self.clients = 0
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.connections: set[asyncio.Task[None]] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, name="rtsp",
                                       daemon=True)

    def start(self) -> RtspServer:
        """Listen (raises OSError when the port is taken) and serve on the thread."""
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self.loop)
        try:
            future.result(timeout=10)
        except BaseException:
            self.loop.call_soon_threadsafe(self.loop.stop)
            raise
        log.info("rtsp: serving on %s:%d", self.settings.listen, self.port)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(
            self._client, self.settings.listen, self.settings.port, reuse_address=True,
            limit=16 * 1024)

    async def _client(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        if self.clients >= self.settings.max_clients:
            self.refused(503)
            writer.close()
            return
        self.clients += 1
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        try:
            await Connection(reader, writer, self).run()
        except Exception:
            log.exception("rtsp: a client connection failed")
        finally:
            self.clients -= 1
            self.connections.discard(task)

    def path_stats(self, here: Route) -> PathStats:
        return self.paths.setdefault((here.camera, here.stream), PathStats())

    def refused(self, status: int) -> None:
        self.refusals[status] = self.refusals.get(status, 0) + 1

    def reconfigure(self, config: Config) -> None:
        """Paths follow the cameras at once; listen address and users at restart."""
        self.config = config

    def status(self) -> dict[str, Any]:
        return {"listen": f"{self.settings.listen}:{self.port}", "clients": self.clients,
                "paths": {f"{cam}/{stream}": s.as_dict()
                          for (cam, stream), s in sorted(self.paths.items())},
                "refused": {str(k): v for k, v in sorted(self.refusals.items())}}

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        done: Future[None] = asyncio.run_coroutine_threadsafe(self._close(), self.loop)
        try:
            done.result(timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            if not self.thread.is_alive():
                self.loop.close()

    async def _close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.connections):
            task.cancel()
        await asyncio.sleep(0)
