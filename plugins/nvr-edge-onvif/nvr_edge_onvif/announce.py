"""WS-Discovery announcements: the Hello a camera multicasts when it joins the network
(boot, new DHCP lease) and the Bye when it leaves in good order.

Read as leniently and judged as strictly as a ProbeMatch (`probe.camera_of`). A Hello
without XAddrs (the standard allows one; a Resolve would then be needed) is left to the
next active probe: ONVIF cameras put them in.
"""

from __future__ import annotations

from dataclasses import dataclass

from nvr_edge_onvif import untrusted_xml as ux
from nvr_edge_onvif.probe import MAX_DATAGRAM, ProbeMatch, camera_of, endpoint_urn


@dataclass(frozen=True)
class Hello:
    camera: ProbeMatch


@dataclass(frozen=True)
class Bye:
    urn: str


def parse_announcements(data: bytes, sender: str) -> list[Hello | Bye]:
    """The Hellos of cameras and the Byes in one datagram; [] for anything else (Probes,
    ProbeMatches, other devices). Raises only `UntrustedXmlError`."""
    root = ux.parse(data, MAX_DATAGRAM)
    found: list[Hello | Bye] = []
    for element in ux.find_all(root, "Hello"):
        camera = camera_of(element, sender)
        if camera is not None:
            found.append(Hello(camera))
    for element in ux.find_all(root, "Bye"):
        urn = endpoint_urn(element)
        if urn:  # a Bye names no type: an unknown URN is ignored by the registry
            found.append(Bye(urn))
    return found
