"""Sending Probes and collecting ProbeMatches for a while.

One UDP socket per IPv4 interface sends the multicast Probe out of that interface
(`IP_MULTICAST_IF`: without it the kernel picks one interface by route and the other LANs
never hear us); one more sends directed unicast Probes to named hosts. Cameras answer
unicast to the socket that asked. Probes are repeated (UDP is lossy; SOAP-over-UDP sends
multicast messages several times) and replies are read until the deadline.
"""

from __future__ import annotations

import ipaddress
import logging
import selectors
import socket
import time
from collections.abc import Callable, Iterable

from nvr_edge_onvif.interfaces import Interface
from nvr_edge_onvif.probe import (
    MAX_DATAGRAM,
    MULTICAST_GROUP,
    PORT,
    ProbeMatch,
    parse_probe_matches,
    probe_message,
)
from nvr_edge_onvif.untrusted_xml import UntrustedXmlError

log = logging.getLogger(__name__)

REPEAT_AT_S = (0.0, 0.25, 0.75)  # after the start: three sends, as python-ws-discovery does
MAX_REPLIES = 4096  # a flood of junk ends the search, not the box
MAX_SUBNET_HOSTS = 1024  # a /22: a directed sweep, not a scan of the internet


class Prober:
    """Probes `interfaces` (multicast) and `hosts` (unicast) for `timeout_s` seconds."""

    def __init__(self, interfaces: Iterable[Interface], hosts: Iterable[str],
                 timeout_s: float, port: int = PORT) -> None:
        self.interfaces = list(interfaces)
        self.hosts = list(hosts)
        self.timeout_s = timeout_s
        self.port = port
        self.started = 0.0  # time.monotonic() of the first Probe

    def run(self, on_new: Callable[[ProbeMatch], None] = lambda _match: None
            ) -> dict[str, ProbeMatch]:
        """Every camera that answered, keyed by endpoint URN (the first answer wins);
        `on_new` is called at once with each new one (the caller may ask it meanwhile)."""
        found: dict[str, ProbeMatch] = {}
        with selectors.DefaultSelector() as selector:
            targets = self._open(selector)
            try:
                self._loop(selector, targets, found, on_new)
            finally:
                for key in list(selector.get_map().values()):
                    key.fileobj.close()  # type: ignore[union-attr]
        return found

    def _open(self, selector: selectors.BaseSelector) -> list[tuple[socket.socket, str]]:
        """The sockets and where each sends its Probe."""
        targets = []
        for interface in self.interfaces:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((interface.address, 0))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                socket.inet_aton(interface.address))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)  # this LAN only
            except OSError as exc:
                sock.close()
                log.warning("discovery: interface %s (%s) skipped: %s", interface.name,
                            interface.address, exc)
                continue
            selector.register(sock, selectors.EVENT_READ)
            targets.append((sock, MULTICAST_GROUP))
        addresses = unicast_targets(self.hosts)
        if addresses:
            unicast = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            selector.register(unicast, selectors.EVENT_READ)
            targets += [(unicast, address) for address in addresses]
        return targets

    def _loop(self, selector: selectors.BaseSelector, targets: list[tuple[socket.socket, str]],
              found: dict[str, ProbeMatch], on_new: Callable[[ProbeMatch], None]) -> None:
        self.started = time.monotonic()
        deadline = self.started + self.timeout_s
        sends = [self.started + at for at in REPEAT_AT_S if at < self.timeout_s]
        replies = 0
        while (now := time.monotonic()) < deadline and replies < MAX_REPLIES:
            while sends and sends[0] <= now:
                sends.pop(0)
                self._send_all(targets)
            wake = min([deadline, *sends[:1]])
            for key, _ in selector.select(max(0.0, wake - time.monotonic())):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data, (sender, _port) = sock.recvfrom(MAX_DATAGRAM + 1)
                except OSError:
                    continue  # an ICMP error for an earlier send (unicast to a dead host)
                replies += 1
                for match in matches_in(data, sender):
                    if match.urn not in found:
                        found[match.urn] = match
                        log.info("discovery: %s answered %.3f s after the first probe",
                                 match.urn, time.monotonic() - self.started)
                        on_new(match)

    def _send_all(self, targets: list[tuple[socket.socket, str]]) -> None:
        _message_id, probe = probe_message()
        for sock, host in targets:
            try:
                sock.sendto(probe, (host, self.port))
            except OSError as exc:  # no route to a named host, interface went down
                log.warning("discovery: probe to %s failed: %s", host, exc)


def unicast_targets(hosts: Iterable[str]) -> list[str]:
    """IPv4 addresses for the named hosts: an address, a subnet (`10.1.2.0/24`, at most
    MAX_SUBNET_HOSTS addresses) or a name, resolved once here, not at every repeat."""
    addresses: list[str] = []
    for host in hosts:
        try:
            network = ipaddress.IPv4Network(host, strict=False)
        except ValueError:
            try:
                infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)
            except (OSError, ValueError) as exc:  # unknown name, NUL, bad IDNA
                log.warning("discovery: host %r skipped: %s", host, exc)
                continue
            addresses.append(str(infos[0][4][0]))
            continue
        if network.num_addresses > MAX_SUBNET_HOSTS:
            log.warning("discovery: subnet %s skipped: more than %d addresses", host,
                        MAX_SUBNET_HOSTS)
            continue
        addresses += [str(a) for a in (network.hosts() if network.prefixlen < 31 else network)]
    return list(dict.fromkeys(addresses))


def matches_in(data: bytes, sender: str) -> list[ProbeMatch]:
    """The cameras in a datagram; [] (logged at debug) for anything unreadable."""
    try:
        return parse_probe_matches(data, sender)
    except UntrustedXmlError as exc:
        log.debug("discovery: reply from %s ignored: %s", sender, exc)
        return []
