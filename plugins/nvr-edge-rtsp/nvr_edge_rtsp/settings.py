"""The `[rtsp]` config section: where the restream listens, who may watch, how a slow
client is treated."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from nvr_edge import ConfigTable, Secret, declare_secrets

declare_secrets("rtsp.users[]", password=Secret.VALUE)


@dataclass(frozen=True)
class User:
    name: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class RtspSettings:
    enabled: bool = True
    listen: str = "0.0.0.0"
    port: int = 8554
    users: tuple[User, ...] = ()
    tokens: bool = True              # the web plugin's viewer JWTs are accepted
    digest: bool = True              # offer Digest (clients then never send Basic, so a
                                     # token as the password needs digest = false)
    realm: str = "nvr-edge"
    max_buffer_bytes: int = 2 * 1024 * 1024   # queued for one client before it drops GOPs
    stall_timeout_s: float = 10.0             # over the buffer this long: disconnected
    max_clients: int = 64


def read_rtsp(t: ConfigTable) -> RtspSettings | None:
    """None when the file has no [rtsp] table: no port is opened unless asked for (as for
    [web]); an empty `[rtsp]` table asks for the defaults."""
    if not t.present:
        return None
    listen = t.string("listen", "0.0.0.0")
    try:
        ipaddress.ip_address(listen)
    except ValueError:
        raise t.error("listen", f"{listen!r} is not an IP address (0.0.0.0: every "
                                "interface)") from None
    t.seen.add("users")
    raw = t.data.get("users", [])
    if not isinstance(raw, list):
        raise t.error("users", "expected an array of tables ([[rtsp.users]])")
    users = []
    for index, item in enumerate(raw):
        entry = ConfigTable(item, f"{t.key('users')}[{index}]", t.source, t.base_dir)
        name, password = entry.string("name", None), entry.string("password", None)
        if not name or ":" in name:
            raise entry.error("name", "is required and may not contain ':'")
        if not password:
            raise entry.error("password", "is required")
        if any(u.name == name for u in users):
            raise entry.error("name", f"user {name!r} is listed twice")
        entry.finish()
        users.append(User(name, password))
    settings = RtspSettings(
        enabled=t.boolean("enabled", True),
        listen=listen,
        port=t.integer("port", 8554, 1, 65535),
        users=tuple(users),
        tokens=t.boolean("tokens", True),
        digest=t.boolean("digest", True),
        realm=t.string("realm", "nvr-edge") or "nvr-edge",
        max_buffer_bytes=t.integer("max_buffer_bytes", 2 * 1024 * 1024, 64 * 1024,
                                   64 * 1024 * 1024),
        stall_timeout_s=t.number("stall_timeout_s", 10.0, 1.0, 600.0),
        max_clients=t.integer("max_clients", 64, 1, 4096))
    if settings.enabled and not settings.users and not settings.tokens:
        raise t.error("users", "with tokens = false, at least one user is needed (else "
                               "nobody could watch)")
    return settings
