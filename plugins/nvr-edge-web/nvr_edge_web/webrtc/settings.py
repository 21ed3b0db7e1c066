"""The `[webrtc]` config section: which local addresses ICE offers, how many viewers."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from nvr_edge import ConfigTable

DEFAULT_MAX_VIEWERS = 16


@dataclass(frozen=True)
class WebRtcSettings:
    # Empty: every non-loopback address of the box at the time a session starts (aioice's
    # own choice). Listing addresses keeps ICE (and the media) on the viewers' LAN, off the
    # camera LAN; a listed loopback address is offered too.
    host_addresses: tuple[str, ...] = ()
    max_viewers_per_camera: int = DEFAULT_MAX_VIEWERS


def read_webrtc(t: ConfigTable) -> WebRtcSettings:
    """Always a value: WHEP works with the defaults when [web] is on and [webrtc] absent."""
    addresses = t.strings("host_addresses", ())
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise t.error("host_addresses", f"{address!r} is not an IP address") from None
    return WebRtcSettings(
        host_addresses=tuple(dict.fromkeys(addresses)),
        max_viewers_per_camera=t.integer("max_viewers_per_camera", DEFAULT_MAX_VIEWERS,
                                         1, 256),
    )
