"""The `[mqtt]` config section: where the broker is and how the box talks to it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from nvr_edge import ConfigTable, Secret, SecretKey, declare_secrets, read_url

SCHEMES = {"mqtt": 1883, "mqtts": 8883}
# \A and \Z, not ^ and $: `$` also matches before a trailing newline.
TOPIC_PREFIX = re.compile(r"\A[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\Z")
# The broker password belongs to the broker: a new url (host, user, scheme) or username
# drops the saved one unless the change gives it again.
declare_secrets("mqtt", url=Secret.URL,
                password=SecretKey(Secret.VALUE, bound_to=("url", "username")))


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    tls: bool
    topic_prefix: str = "nvr"
    client_id: str = ""  # empty: nvr-edge-<device id>
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    protocol: str = "5"  # or "3.1.1"
    keepalive_s: int = 30
    stats_interval_s: float = 60.0
    health_min_interval_s: float = 10.0
    spool_max_mb: float = 16.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    homeassistant: bool = False
    homeassistant_prefix: str = "homeassistant"

    @property
    def display(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def read_mqtt(t: ConfigTable) -> MqttSettings | None:
    """None when the file has no [mqtt] table: the plugin then stays idle."""
    if not t.present:
        return None
    url = read_url(t, "url", None, tuple(SCHEMES),
                   "mqtt://host[:port] or mqtts://host[:port]")
    if url is None:
        raise t.error("url", "is required (mqtt://host:1883 or mqtts://host:8883)")
    parts = urlsplit(url)  # checked by read_url: the port parses
    port = parts.port
    if parts.path not in ("", "/") or parts.query:
        raise t.error("url", "must not have a path or query; topics come from topic_prefix")
    prefix = t.string("topic_prefix", "nvr")
    if not TOPIC_PREFIX.match(prefix):
        raise t.error("topic_prefix", f"{prefix!r} must be topic levels of letters, digits, "
                                      "'-' or '_' separated by '/' (no wildcards, no empty "
                                      "level)")
    ha_prefix = t.string("homeassistant_prefix", "homeassistant")
    if not TOPIC_PREFIX.match(ha_prefix):
        raise t.error("homeassistant_prefix", f"{ha_prefix!r} is not a valid topic prefix")
    username = t.string("username", unquote(parts.username) if parts.username else None)
    password = t.string("password", unquote(parts.password) if parts.password else None)
    if password is not None and username is None:
        raise t.error("password", "is set but username is not")
    settings = MqttSettings(
        host=parts.hostname, port=port or SCHEMES[parts.scheme],
        tls=parts.scheme == "mqtts", topic_prefix=prefix,
        client_id=t.string("client_id", ""), username=username, password=password,
        ca_file=_optional_path(t, "ca_file"), cert_file=_optional_path(t, "cert_file"),
        key_file=_optional_path(t, "key_file"),
        protocol=t.choice("protocol", "5", ("5", "3.1.1")),
        keepalive_s=t.integer("keepalive_s", 30, 2, 3600),
        stats_interval_s=t.number("stats_interval_s", 60.0, 1.0, 86_400.0),
        health_min_interval_s=t.number("health_min_interval_s", 10.0, 0.0, 3600.0),
        spool_max_mb=t.number("spool_max_mb", 16.0, 0.01, 100_000.0),
        reconnect_min_s=t.number("reconnect_min_s", 1.0, 0.1, 600.0),
        reconnect_max_s=t.number("reconnect_max_s", 60.0, 0.1, 3600.0),
        homeassistant=t.boolean("homeassistant", False),
        homeassistant_prefix=ha_prefix,
    )
    if settings.reconnect_max_s < settings.reconnect_min_s:
        raise t.error("reconnect_max_s", "must not be smaller than reconnect_min_s")
    if (settings.cert_file is None) != (settings.key_file is None):
        raise t.error("cert_file", "a client certificate needs both cert_file and key_file")
    if not settings.tls and (settings.ca_file or settings.cert_file):
        raise t.error("url", "certificates are set but the URL is not mqtts://")
    return settings


def _optional_path(t: ConfigTable, name: str) -> Path | None:
    return t.path_(name, None)  # type: ignore[arg-type]  # None: the key is absent
