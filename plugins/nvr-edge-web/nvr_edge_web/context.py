"""What every request handler reaches through `request.app[CONTEXT]`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from nvr_edge import Appliance, Catalog, Config

from .alerts import AlertLog
from .auth import Authenticator, Grant
from .connections import ConnectionLimiter
from .counters import HttpCounters, LiveMetrics
from .settings import WebSettings
from .webrtc.settings import WebRtcSettings

T = TypeVar("T")


@dataclass
class WebContext:
    settings: WebSettings
    appliance: Appliance
    catalog: Catalog
    auth: Authenticator
    http: HttpCounters = field(default_factory=HttpCounters)
    live: LiveMetrics = field(default_factory=LiveMetrics)
    webrtc: WebRtcSettings = field(default_factory=WebRtcSettings)
    alerts: AlertLog = field(default_factory=AlertLog)
    # The appliance's catalog is shared with the supervisor under one lock (SqlCatalog).
    # One reader thread: HTTP clients can never stack up waiters on that lock, so the
    # supervisor's writes wait for at most one web query.
    catalog_reads: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="web-catalog"))

    @property
    def config(self) -> Config:
        return self.appliance.config

    def status(self) -> dict[str, Any]:
        return self.appliance.status()

    def live_mode(self, camera: str) -> str:
        """The camera's `live` setting; a camera only discovery knows of streams always."""
        found = next((c for c in self.config.cameras if c.id == camera), None)
        return str(found.live) if found is not None else "always"

    def camera_ids(self) -> list[str]:
        """Configured cameras in file order, then any that only discovery knows of."""
        configured = [camera.id for camera in self.config.cameras]
        return list(dict.fromkeys([*configured, *(self.status().get("cameras") or {})]))

    async def read_catalog(self, read: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.catalog_reads, read,
                                                                *args)

    def close(self) -> None:
        self.catalog_reads.shutdown(wait=True, cancel_futures=True)


CONTEXT = web.AppKey("nvr_web_context", WebContext)
GRANT = web.RequestKey("nvr_grant", Grant)
LIMITER = web.AppKey("nvr_connection_limiter", ConnectionLimiter)
