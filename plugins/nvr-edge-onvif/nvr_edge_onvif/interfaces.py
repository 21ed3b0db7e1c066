"""The IPv4 interfaces a multicast Probe goes out of: up, multicast-capable, not loopback."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

log = logging.getLogger(__name__)

_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_IFF_MULTICAST = 0x1000


@dataclass(frozen=True)
class Interface:
    name: str
    address: str  # its IPv4 address: the multicast source (IP_MULTICAST_IF)


def multicast_interfaces() -> list[Interface]:
    """One entry per IPv4 address of every interface that can send multicast; [] where
    netlink is not available (the directed probes still run)."""
    try:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            flags = {link["index"]: link["flags"] for link in ipr.get_links()}
            addresses = [(a["index"], a.get_attr("IFA_LABEL") or str(a["index"]),
                          a.get_attr("IFA_ADDRESS")) for a in ipr.get_addr(family=socket.AF_INET)]
    except Exception as exc:  # pyroute2 missing, netlink refused in a sandbox
        log.warning("cannot list network interfaces (%s); multicast discovery skipped", exc)
        return []
    wanted = _IFF_UP | _IFF_MULTICAST
    return [Interface(name, address) for index, name, address in addresses
            if address and flags.get(index, 0) & (wanted | _IFF_LOOPBACK) == wanted]
