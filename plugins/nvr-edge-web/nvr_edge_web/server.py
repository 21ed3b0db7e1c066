"""The HTTP server in a thread of its own with its own asyncio loop: the supervisor's loop
never waits for a client, and a slow client never waits for the supervisor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from aiohttp import web

from .access_log import ACCESS_LOGGER, RedactingAccessLogger
from .app import make_app
from .connections import ConnectionLimiter
from .context import LIMITER, WebContext
from .loop_errors import RateLimitedErrors

log = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0
SHUTDOWN_GRACE_S = 3.0  # open downloads get this long to finish when the appliance stops


class WebServer:
    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.ctx.settings.listen}/"

    def start(self) -> bool:
        """Serve from a new thread; False (and logged) when the address cannot be bound."""
        self._thread = threading.Thread(target=self._run, name="web", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            log.error("web: the server did not start within %.0f s", START_TIMEOUT_S)
            return False
        if self._error is not None:
            log.error("web: cannot listen on %s: %s", self.ctx.settings.listen, self._error)
            return False
        log.info("web: serving %s", self.url)
        return True

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed in between: nothing to stop
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(SHUTDOWN_GRACE_S + 10)
            if self._thread.is_alive():
                log.warning("web: the server thread did not stop in time")
        self.ctx.close()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(RateLimitedErrors())
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start(); never kills the appliance
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        settings = self.ctx.settings
        app = make_app(self.ctx)
        # aiohttp's keep-alive timer runs from accept and from each response's end, and
        # closes a connection still waiting for a complete request head when it fires: it
        # is the header timeout too (a head sent byte by byte does not reset it).
        runner = web.AppRunner(
            app, shutdown_timeout=SHUTDOWN_GRACE_S, keepalive_timeout=settings.idle_timeout_s,
            access_log_class=RedactingAccessLogger,
            access_log=logging.getLogger(ACCESS_LOGGER) if settings.access_log else None)
        await runner.setup()
        try:
            await LimitedSite(runner, settings.host, settings.port, app[LIMITER]).start()
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()


class LimitedSite(web.TCPSite):
    """TCPSite whose connections pass the unauthenticated-connection cap first."""

    def __init__(self, runner: web.AppRunner, host: str, port: int,
                 limiter: ConnectionLimiter) -> None:
        super().__init__(runner, host, port)
        self.limiter = limiter

    async def start(self) -> None:
        # TCPSite.start with the protocol factory wrapped (aiohttp is pinned: _server is
        # what BaseSite.stop closes).
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self.limiter.wrap(server), self._host, self._port, backlog=self._backlog,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port)
