"""The plugin object: WS-Discovery, then each camera asked over SOAP."""

from __future__ import annotations

import logging
from collections.abc import Callable

from nvr_edge import CameraCandidate, DiscoveryRequest, hookimpl
from nvr_edge_onvif.candidates import describe_all
from nvr_edge_onvif.interfaces import Interface, multicast_interfaces
from nvr_edge_onvif.probe import PORT
from nvr_edge_onvif.prober import Prober
from nvr_edge_onvif.soap import Credentials

log = logging.getLogger(__name__)


class OnvifDiscovery:
    """`interfaces` and `port` are for tests (a namespace's own interfaces, a responder on
    another port); the box probes every multicast interface on 3702."""

    def __init__(self, interfaces: Callable[[], list[Interface]] = multicast_interfaces,
                 port: int = PORT) -> None:
        self.interfaces = interfaces
        self.port = port

    @hookimpl
    def nvr_camera_candidates(self, request: DiscoveryRequest) -> list[CameraCandidate]:
        prober = Prober(self.interfaces(), request.hosts, request.timeout_s, self.port)
        matches = prober.run()
        for urn, seconds in prober.first_seen_s.items():
            log.info("discovery: %s answered %.3f s after the first probe", urn, seconds)
        credentials = None
        if request.user is not None and request.password is not None:
            credentials = Credentials(request.user, request.password)
        return describe_all(list(matches.values()), credentials, request.timeout_s)


plugin = OnvifDiscovery()
