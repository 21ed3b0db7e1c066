"""The `[onvif]` config section: whether the running box listens for cameras' Hellos and
Byes, on which interfaces, the credentials it asks heard-of cameras with, and which
configured cameras were adopted from which URN."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from nvr_edge import ConfigTable, Secret, SecretKey, declare_secrets
from nvr_edge_onvif.prober import MAX_SUBNET_HOSTS
from nvr_edge_onvif.registry import EXPIRE_S

REFIND_S = 60.0  # how often the box looks for an adopted camera that stopped answering
MAX_HOSTS = 64
MAX_IGNORED = 1024  # as many as the registry holds

# The site's camera password: asked of every camera heard of, never of another host; a new
# user drops a saved password unless the change gives it again.
declare_secrets("onvif", password=SecretKey(Secret.VALUE, bound_to=("user",)))
_CAMERA_ID = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
_HOST_NAME = re.compile(r"\A(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\Z")


@dataclass(frozen=True)
class OnvifSettings:
    listen: bool = False
    interfaces: tuple[str, ...] = ()  # empty: every multicast-capable IPv4 interface
    expire_s: float = EXPIRE_S
    # hosts or subnets (CIDR) that multicast does not reach, probed directly: by `discover`
    # when it names none, and by the search for adopted cameras that went missing
    hosts: tuple[str, ...] = ()
    refind_s: float = REFIND_S
    # camera id -> endpoint URN, written by adopt_camera: how a camera that moved is found
    adopted: dict[str, str] = field(default_factory=dict)
    # the site's camera credentials: every camera heard of is asked with them at once, so
    # the list shows its proposed streams before anyone types a password (None: not asked)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    # URNs the installer chose to ignore ("Ignore" on the found list): still heard, not offered
    ignored: tuple[str, ...] = ()


def read_onvif(t: ConfigTable) -> OnvifSettings:
    adopted_table = t.table("adopted")
    adopted: dict[str, Any] = dict(adopted_table.data)
    for camera, urn in adopted.items():
        if not _CAMERA_ID.match(camera):
            raise adopted_table.error(camera, "is not a camera id (1-64 of A-Z a-z 0-9 - _)")
        if not isinstance(urn, str) or not urn or len(urn) > 256:
            raise adopted_table.error(camera, "expected the camera's endpoint URN (a string)")
    user, password = t.string("user", None), t.string("password", None)
    if (user is None) != (password is None):
        raise t.error("password" if password is None else "user",
                      "user and password go together (the credentials heard-of cameras "
                      "are asked with)")
    settings = OnvifSettings(
        listen=t.boolean("listen", False), interfaces=t.strings("interfaces", ()),
        expire_s=t.number("expire_s", EXPIRE_S, 10.0, 86_400.0),
        hosts=_hosts(t), refind_s=t.number("refind_s", REFIND_S, 1.0, 86_400.0),
        adopted=adopted, user=user, password=password, ignored=_ignored(t))
    t.finish()
    return settings


def _ignored(t: ConfigTable) -> tuple[str, ...]:
    urns = t.strings("ignored", ())
    if len(urns) > MAX_IGNORED:
        raise t.error("ignored", f"at most {MAX_IGNORED} URNs, got {len(urns)}")
    for urn in urns:
        if not 0 < len(urn) <= 256 or not urn.isprintable():
            raise t.error("ignored", f"{urn[:40]!r} is not an endpoint URN")
    return tuple(dict.fromkeys(urns))


def _hosts(t: ConfigTable) -> tuple[str, ...]:
    """Addresses, small subnets or host names, checked as the prober will read them."""
    hosts = t.strings("hosts", ())
    if len(hosts) > MAX_HOSTS:  # every entry is probed each refind_s: a sweep, not a scan
        raise t.error("hosts", f"at most {MAX_HOSTS} hosts or subnets ({len(hosts)} given)")
    for host in hosts:
        try:
            network = ipaddress.IPv4Network(host, strict=False)
        except ValueError:
            if not _HOST_NAME.match(host):
                raise t.error("hosts", f"{host[:64]!r} is not an IPv4 address, subnet or "
                              "host name") from None
            continue
        if network.num_addresses > MAX_SUBNET_HOSTS:
            raise t.error("hosts", f"{host!r} has more than {MAX_SUBNET_HOSTS} addresses")
    return hosts
