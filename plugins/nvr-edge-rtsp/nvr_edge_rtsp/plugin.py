"""The plugin object: the RTSP server lives from `nvr_startup` to `nvr_shutdown`."""

from __future__ import annotations

import logging
from typing import Any

from nvr_edge import Appliance, Catalog, Config, hookimpl

from .server import RtspServer
from .settings import RtspSettings, read_rtsp

log = logging.getLogger(__name__)


class RtspPlugin:
    def __init__(self) -> None:
        self.server: RtspServer | None = None
        self.failed: str | None = None
        self.appliance: Appliance | None = None

    @hookimpl
    def nvr_config_sections(self) -> dict[str, Any]:
        return {"rtsp": read_rtsp}

    @hookimpl
    def nvr_startup(self, config: Config, catalog: Catalog, appliance: Appliance) -> None:
        self.appliance = appliance
        self._start(config)

    def _start(self, config: Config) -> None:
        assert self.appliance is not None
        appliance = self.appliance
        self.failed = None
        settings: RtspSettings | None = config.sections.get("rtsp")
        if settings is None or not settings.enabled:
            return  # no [rtsp] table: no port opened
        verifier = None
        if settings.tokens:  # the tokens of the plugin that issues them (the web plugin's)
            verifier = next(iter(appliance.call_hook("nvr_token_verifier", config=config)),
                            None)
            if verifier is None:
                log.warning("rtsp: tokens = true, but no plugin checks tokens: only the "
                            "[[rtsp.users]] are accepted")
        try:
            self.server = RtspServer(config, settings, appliance.live, verifier).start()
        except OSError as exc:
            self.failed = f"cannot listen on {settings.listen}:{settings.port}: {exc.strerror}"
            log.error("rtsp: %s", self.failed)
            raise

    @hookimpl
    def nvr_config_changed(self, config: Config, previous: Config) -> None:
        """Cameras: the paths follow at once. [rtsp] or [auth] changed: the server starts
        again with them (its clients reconnect)."""
        if self.appliance is None:
            return
        same = all(config.sections.get(n) == previous.sections.get(n) for n in ("rtsp", "auth"))
        if same and self.server is not None:
            self.server.reconfigure(config)
            return
        if not same:
            self.nvr_shutdown(previous)
            self._start(config)

    @hookimpl
    def nvr_status_part(self, config: Config) -> dict[str, Any] | None:
        if self.server is not None:
            return {"rtsp": self.server.status()}
        return {"rtsp": {"error": self.failed}} if self.failed else None

    @hookimpl
    def nvr_shutdown(self, config: Config) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()


plugin = RtspPlugin()  # what the entry point names
