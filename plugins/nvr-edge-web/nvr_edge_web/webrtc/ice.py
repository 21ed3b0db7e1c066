"""Which local addresses ICE offers, and no STUN/TURN server.

aioice has no per-connection address option: it calls the module function
`aioice.ice.get_host_addresses` for every gathering, skipping loopback. We replace that
function once per process with one that returns the configured `host_addresses` (loopback
included when listed); with none configured it falls back to aioice's own choice. The web
plugin is the only aioice user in the appliance, so a process-wide choice is right."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable

import aioice.ice
from aiortc import RTCConfiguration

_lock = threading.Lock()
_original: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses
_configured: tuple[str, ...] = ()


def offer_addresses(addresses: tuple[str, ...]) -> None:
    """From now on, ICE gathers host candidates on `addresses` only (empty: aioice's
    default, every non-loopback address)."""
    global _configured
    with _lock:
        _configured = addresses
        aioice.ice.get_host_addresses = _host_addresses


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    with _lock:
        configured = _configured
    if not configured:
        return _original(use_ipv4, use_ipv6)
    wanted = {4: use_ipv4, 6: use_ipv6}
    return [a for a in configured if wanted[ipaddress.ip_address(a).version]]


def no_ice_servers() -> RTCConfiguration:
    """aiortc's default asks Google's STUN server; the box has no internet and host
    candidates on the viewers' LAN are all a viewer needs."""
    return RTCConfiguration(iceServers=[])
