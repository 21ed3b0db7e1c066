"""WS-Discovery messages: the Probe we send, the ProbeMatches cameras answer.

The namespaces are the 2005/04 WS-Discovery ones that ONVIF devices speak. A reply is
read leniently (any prefix, several matches, several XAddrs) and judged strictly: only a
`NetworkVideoTransmitter` with an endpoint URN and a usable XAddr is a camera.
"""

from __future__ import annotations

import ipaddress
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from nvr_edge_onvif import untrusted_xml as ux

PORT = 3702
MULTICAST_GROUP = "239.255.255.250"
MAX_DATAGRAM = 65_507  # what one UDP datagram can carry: the reply size limit
CAMERA_TYPE = "NetworkVideoTransmitter"
_SCOPE_PREFIX = "onvif://www.onvif.org/"

_PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" \
xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" \
xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" \
xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<s:Header>
<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>
<a:MessageID>{message_id}</a:MessageID>
<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous\
</a:Address></a:ReplyTo>
<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>
</s:Header>
<s:Body><d:Probe><d:Types>dn:{camera_type}</d:Types></d:Probe></s:Body>
</s:Envelope>"""


def probe_message() -> tuple[str, bytes]:
    """A new Probe for video transmitters: its MessageID and its bytes."""
    message_id = f"urn:uuid:{uuid.uuid4()}"
    return message_id, _PROBE.format(message_id=message_id, camera_type=CAMERA_TYPE).encode()


@dataclass(frozen=True)
class ProbeMatch:
    """One camera's answer: `urn` stays the same when its address changes."""

    urn: str
    xaddrs: tuple[str, ...]  # device-service URLs, usable ones first
    scopes: tuple[str, ...]
    sender: str

    @property
    def host(self) -> str:
        """The device service's host (after XAddr repair), or the sender's address."""
        return urlsplit(self.xaddrs[0]).hostname or self.sender

    def scope(self, kind: str) -> str:
        """The URL-decoded value of `onvif://www.onvif.org/<kind>/<value>`, or ''."""
        prefix = f"{_SCOPE_PREFIX}{kind}/"
        for scope in self.scopes:
            if scope.startswith(prefix):
                return unquote(scope[len(prefix):]).strip()[:128]
        return ""


def parse_probe_matches(data: bytes, sender: str) -> list[ProbeMatch]:
    """The cameras in one datagram from `sender` (an IPv4 address); [] for anything else.
    Raises only `UntrustedXmlError` (not XML, too big, a DTD)."""
    root = ux.parse(data, MAX_DATAGRAM)
    return [m for m in (camera_of(e, sender) for e in ux.find_all(root, "ProbeMatch")) if m]


def camera_of(element: ET.Element, sender: str) -> ProbeMatch | None:
    """A ProbeMatch or Hello element as a camera, or None: not a camera (printers, NAS
    boxes, Windows machines also speak WS-Discovery), no URN, no usable XAddr."""
    if not _is_camera(ux.text(element, "Types")):
        return None
    urn = endpoint_urn(element)
    xaddrs = usable_xaddrs(ux.text(element, "XAddrs").split(), sender)
    if not urn or not xaddrs:
        return None
    return ProbeMatch(urn, xaddrs, tuple(ux.text(element, "Scopes").split()), sender)


def endpoint_urn(element: ET.Element) -> str:
    """The element's EndpointReference Address ('' if missing or implausibly long)."""
    urn = ux.text(ux.find(element, "EndpointReference"), "Address")
    return urn if len(urn) <= 256 else ""


def _is_camera(types: str) -> bool:
    return any(t.rpartition(":")[2] == CAMERA_TYPE for t in types.split())


def usable_xaddrs(xaddrs: list[str], sender: str) -> tuple[str, ...]:
    """http(s) XAddrs, IPv4 ones first; a host that cannot be reached from here
    (0.0.0.0, loopback: firmware bugs) is replaced by the address the reply came from."""
    usable = []
    for xaddr in xaddrs:
        try:
            parts = urlsplit(xaddr)
            host, port = parts.hostname, parts.port
        except ValueError:
            continue
        if parts.scheme not in ("http", "https") or not host:
            continue
        if _unreachable(host):
            netloc = sender if port is None else f"{sender}:{port}"
            xaddr = parts._replace(netloc=netloc).geturl()
        usable.append(xaddr)
    ipv4_first = sorted(usable, key=lambda x: ":" in (urlsplit(x).hostname or ""))
    return tuple(dict.fromkeys(ipv4_first))


def _unreachable(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: the resolver decides
    return address.is_unspecified or address.is_loopback or address.is_link_local
