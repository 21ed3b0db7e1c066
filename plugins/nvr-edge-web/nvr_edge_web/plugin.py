"""The plugin's hooks: the HTTP server's life follows the appliance's.

Idle when the config has no [web] table."""

from __future__ import annotations

import logging
import threading
from typing import Any

from nvr_edge import Appliance, Authenticator, AuthSetupError, Catalog, Config, hookimpl

from .context import WebContext
from .counters import LIVE_METRICS, LiveMetrics
from .server import WebServer
from .settings import WebSettings, read_web
from .webrtc.settings import WebRtcSettings, read_webrtc

log = logging.getLogger(__name__)

_server: WebServer | None = None
_catalog: Catalog | None = None
_appliance: Appliance | None = None
_lifecycle = threading.Lock()  # a reconfiguration's restart never overlaps the shutdown


def live_metrics() -> LiveMetrics:
    """Where the live relay reports viewers and bytes sent (shown on /metrics)."""
    return LIVE_METRICS


def _start(config: Config) -> WebServer | None:
    settings: WebSettings | None = config.sections.get("web")
    if settings is None or _catalog is None or _appliance is None:
        return None
    try:
        auth = Authenticator(config.auth, config.storage.state_dir)
    except AuthSetupError as exc:
        log.error("web: not started: %s", exc)  # recording goes on without it
        return None
    webrtc = config.sections.get("webrtc") or WebRtcSettings()
    server = WebServer(WebContext(settings, _appliance, _catalog, auth, webrtc=webrtc))
    return server if server.start() else None


@hookimpl
def nvr_config_sections() -> dict[str, Any]:
    return {"web": read_web, "webrtc": read_webrtc}


@hookimpl
def nvr_startup(config: Config, catalog: Catalog, appliance: Appliance) -> None:
    global _server, _catalog, _appliance
    with _lifecycle:
        _catalog, _appliance = catalog, appliance
        _server = _start(config)


@hookimpl
def nvr_shutdown(config: Config) -> None:
    global _server, _appliance
    with _lifecycle:
        _appliance = None
        if _server is not None:
            _server.stop()
            _server = None


@hookimpl
def nvr_config_changed(config: Config, previous: Config) -> None:
    """A changed [web], [webrtc] or [auth] table means a new server (in the background: the
    supervisor's loop must not wait for open downloads to end). Camera changes need
    nothing: every request reads the running configuration."""
    def watched(c: Config) -> tuple[object, ...]:
        return c.sections.get("web"), c.sections.get("webrtc"), c.auth

    if watched(config) == watched(previous):
        return

    def restart() -> None:
        global _server
        with _lifecycle:
            if _appliance is None:  # the appliance stopped meanwhile
                return
            if _server is not None:
                _server.stop()
            _server = _start(config)

    threading.Thread(target=restart, name="web-reconfigure", daemon=True).start()
