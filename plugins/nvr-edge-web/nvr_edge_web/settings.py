"""The `[web]` config section: where the HTTP server listens and its few limits."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from nvr_edge import ConfigTable

DEFAULT_LISTEN = "0.0.0.0:8080"
# \A and \Z, not ^ and $: `$` also matches before a trailing newline.
_HOSTNAME = re.compile(
    r"\A(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*\Z", re.S)


@dataclass(frozen=True)
class WebSettings:
    host: str                          # an IP literal (IPv6 without brackets) or a name
    port: int
    max_request_bytes: int = 64 * 1024
    access_log: bool = True
    # A connection must send a whole request head (and a body being read) within this
    # long, and is closed after this long idle: a slow or silent client holds no slot.
    idle_timeout_s: float = 15.0
    # Open connections that have not yet shown a valid token; at the cap the oldest of them
    # is closed for a new one, so idle clients cannot use up the process's descriptors.
    max_unauthenticated_connections: int = 256

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def read_web(t: ConfigTable) -> WebSettings | None:
    """None when the file has no [web] table: no port is opened unless asked for.

    An empty `[web]` table is the way to ask for the defaults."""
    if not t.present:
        return None
    host, port = parse_listen(t, t.string("listen", DEFAULT_LISTEN))
    return WebSettings(
        host=host, port=port,
        max_request_bytes=t.integer("max_request_bytes", 64 * 1024, 1024, 64 * 1024 * 1024),
        access_log=t.boolean("access_log", True),
        idle_timeout_s=t.number("idle_timeout_s", 15.0, 0.5, 600.0),
        max_unauthenticated_connections=t.integer("max_unauthenticated_connections", 256,
                                                  1, 65536),
    )


def parse_listen(t: ConfigTable, value: str) -> tuple[str, int]:
    """'host:port' or '[ipv6]:port' -> (host, port); errors name `web.listen`."""
    if value.startswith("["):
        host, sep, port_text = value[1:].partition("]:")
        valid_host = bool(sep) and _is_ip(host, version=6)
    else:
        host, sep, port_text = value.rpartition(":")
        looks_numeric = host.replace(".", "").isdigit()  # 999.1.1.1 is no host name
        valid_host = bool(sep) and (_is_ip(host, 4) if looks_numeric
                                    else bool(_HOSTNAME.match(host)))
    if not valid_host:
        raise t.error("listen", f"expected host:port or [ipv6]:port, got {value!r}")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise t.error("listen", f"the port must be 1..65535, got {port_text!r}")
    return host, int(port_text)


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False
