"""The plugin object: the HTTP server's life follows the appliance's.

Idle when the config has no [web] table."""

from __future__ import annotations

import logging
import threading
from typing import Any

from nvr_edge import Alert, Appliance, Catalog, Config, TokenRefused, TokenVerifier, hookimpl

from .alerts import AlertLog
from .auth import AuthError, AuthSetupError, authenticator_for, require
from .auth_settings import read_auth
from .context import WebContext
from .counters import LiveMetrics
from .server import WebServer
from .settings import WebSettings, read_web
from .webrtc.settings import WebRtcSettings, read_webrtc

log = logging.getLogger(__name__)


class WebPlugin:
    """One per appliance run: the server lives from `nvr_startup` to `nvr_shutdown` and is
    replaced when [web], [webrtc] or [auth] change."""

    def __init__(self) -> None:
        self.server: WebServer | None = None
        self.catalog: Catalog | None = None
        self.appliance: Appliance | None = None
        # Kept across server restarts: a counter must not go back to 0 when [web] changes.
        self.live = LiveMetrics()
        self.alerts = AlertLog()  # the system page's recent alerts, kept the same way
        self.lifecycle = threading.Lock()  # a restart never overlaps the shutdown

    def _start(self, config: Config) -> WebServer | None:
        settings: WebSettings | None = config.sections.get("web")
        if settings is None or self.catalog is None or self.appliance is None:
            return None
        try:
            auth = authenticator_for(config)
        except AuthSetupError as exc:
            log.error("web: not started: %s", exc)  # recording goes on without it
            return None
        webrtc = config.sections.get("webrtc") or WebRtcSettings()
        server = WebServer(WebContext(settings, self.appliance, self.catalog, auth,
                                      live=self.live, webrtc=webrtc,
                                      alerts=self.alerts))
        return server if server.start() else None

    @hookimpl
    def nvr_config_sections(self) -> dict[str, Any]:
        return {"web": read_web, "webrtc": read_webrtc, "auth": read_auth}

    @hookimpl
    def nvr_cli_commands(self, subparsers: Any) -> None:
        from .token_cli import add_token_command  # the CLI process only

        add_token_command(subparsers)

    @hookimpl
    def nvr_startup(self, config: Config, catalog: Catalog, appliance: Appliance) -> None:
        with self.lifecycle:
            self.catalog, self.appliance = catalog, appliance
            self.server = self._start(config)

    @hookimpl
    def nvr_shutdown(self, config: Config) -> None:
        with self.lifecycle:
            self.appliance = None
            server, self.server = self.server, None
            if server is not None:
                server.stop()

    @hookimpl
    def nvr_token_verifier(self, config: Config) -> TokenVerifier | None:
        """This box's tokens for the other outputs (the RTSP restream)."""
        try:
            auth = authenticator_for(config)
        except AuthSetupError as exc:
            log.error("web: tokens cannot be checked: %s", exc)
            return None

        def verify(token: str, action: str, camera: str | None) -> str:
            try:
                grant = auth.verify(token)
                require(grant, action, camera)
            except AuthError as exc:
                raise TokenRefused(exc.status, exc.reason) from None
            return grant.subject or "?"

        return verify

    @hookimpl
    def nvr_alert(self, alert: Alert, config: Config) -> None:
        self.alerts.add(alert)

    @hookimpl
    def nvr_config_changed(self, config: Config, previous: Config) -> None:
        """A changed [web], [webrtc] or [auth] table means a new server (in the background:
        the supervisor's loop must not wait for open downloads to end). Camera changes need
        nothing: every request reads the running configuration."""
        def watched(c: Config) -> tuple[object, ...]:
            return tuple(c.sections.get(name) for name in ("web", "webrtc", "auth"))

        if watched(config) == watched(previous):
            return

        def restart() -> None:
            with self.lifecycle:
                if self.appliance is None:  # the appliance stopped meanwhile
                    return
                if self.server is not None:
                    self.server.stop()
                self.server = self._start(config)

        threading.Thread(target=restart, name="web-reconfigure", daemon=True).start()


plugin = WebPlugin()  # what the entry point names
