"""The passive half of WS-Discovery: Hellos and Byes heard on 239.255.255.250:3702.

One socket bound to the port on every address, member of the group on each chosen
interface (`IP_ADD_MEMBERSHIP` per interface address: joining once would listen on the
interface the routing table picks, and the other LANs' cameras would go unheard). The
thread also expires unseen cameras.
"""

from __future__ import annotations

import logging
import selectors
import socket
import struct
import threading
from collections.abc import Callable

from nvr_edge_onvif.announce import Bye, Hello, parse_announcements
from nvr_edge_onvif.interfaces import Interface
from nvr_edge_onvif.probe import MAX_DATAGRAM, MULTICAST_GROUP, PORT, ProbeMatch
from nvr_edge_onvif.registry import Registry
from nvr_edge_onvif.untrusted_xml import UntrustedXmlError

log = logging.getLogger(__name__)

_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)  # linux/in.h
TICK_S = 1.0  # how often expiry runs and the stop flag is looked at


class Listener:
    """Feeds `registry` from announcements on `interfaces` until `stop()`. `on_seen` is
    called (on this thread) with each Hello's camera and, when its address changed, the
    sighting before."""

    def __init__(self, registry: Registry, interfaces: list[Interface], port: int = PORT,
                 on_seen: Callable[[ProbeMatch | None, ProbeMatch], None] | None = None
                 ) -> None:
        self.registry = registry
        self.interfaces = interfaces
        self.port = port
        self.on_seen = on_seen
        self.joined: list[str] = []  # interface names actually listened on
        self._stop = threading.Event()
        self._sock = self._open()
        self._thread = threading.Thread(target=self._run, name="onvif-listener", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._sock.close()

    def _open(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # beside other listeners
        # Linux hands a socket bound to the port every group datagram any socket on the
        # host joined for, on any interface; off, only its own memberships count, so
        # `[onvif] interfaces` is what is heard.
        sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
        sock.bind(("", self.port))
        for interface in self.interfaces:
            membership = struct.pack("4s4s", socket.inet_aton(MULTICAST_GROUP),
                                     socket.inet_aton(interface.address))
            try:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            except OSError as exc:  # down meanwhile, or joined twice (two addresses)
                log.warning("discovery: not listening on %s (%s): %s", interface.name,
                            interface.address, exc)
                continue
            self.joined.append(interface.name)
        return sock

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                try:
                    ready = selector.select(TICK_S)
                except (OSError, ValueError):  # closed by a stop() that gave up waiting
                    return
                if ready:
                    self._receive()
                for urn in self.registry.expire():
                    log.info("discovery: %s unseen for %.0f s: forgotten", urn,
                             self.registry.expire_s)

    def _receive(self) -> None:
        try:
            data, (sender, _port) = self._sock.recvfrom(MAX_DATAGRAM + 1)
        except OSError:
            return
        try:
            announcements = parse_announcements(data, sender)
        except UntrustedXmlError as exc:
            log.debug("discovery: datagram from %s ignored: %s", sender, exc)
            return
        for announcement in announcements:
            self.heard(announcement)

    def heard(self, announcement: Hello | Bye) -> None:
        """One Hello or Bye (public: the tests feed it directly too)."""
        if isinstance(announcement, Bye):
            if self.registry.bye(announcement.urn):
                log.info("discovery: %s said Bye", announcement.urn)
            return
        camera = announcement.camera
        moved_from = self.registry.saw(camera, "hello")
        log.info("discovery: %s said Hello from %s", camera.urn, camera.host)
        if self.on_seen is not None:
            try:
                self.on_seen(moved_from, camera)
            except Exception:  # the listener outlives a failed follow-up
                log.exception("discovery: following %s to %s failed", camera.urn, camera.host)
