"""The plugin object: WS-Discovery, then each camera asked over SOAP."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from nvr_edge import CameraCandidate, DiscoveryRequest, hookimpl
from nvr_edge_onvif.candidates import describe
from nvr_edge_onvif.interfaces import Interface, multicast_interfaces
from nvr_edge_onvif.probe import PORT, ProbeMatch
from nvr_edge_onvif.prober import Prober
from nvr_edge_onvif.soap import Credentials

log = logging.getLogger(__name__)

MAX_PARALLEL = 8  # cameras asked at once; a slow one delays no other


class OnvifDiscovery:
    """`interfaces` and `port` are for tests (a namespace's own interfaces, a responder on
    another port); the box probes every multicast interface on 3702."""

    def __init__(self, interfaces: Callable[[], list[Interface]] = multicast_interfaces,
                 port: int = PORT) -> None:
        self.interfaces = interfaces
        self.port = port

    @hookimpl
    def nvr_camera_candidates(self, request: DiscoveryRequest) -> list[CameraCandidate]:
        credentials = None
        if request.user is not None and request.password is not None:
            credentials = Credentials(request.user, request.password)
        interfaces = [i for i in self.interfaces()
                      if not request.interfaces or i.name in request.interfaces]
        prober = Prober(interfaces, request.hosts, request.timeout_s, self.port)

        def proposed(match: ProbeMatch) -> CameraCandidate:
            candidate = describe(match, credentials)
            log.info("discovery: %s proposed %.3f s after the first probe", match.urn,
                     time.monotonic() - prober.started)
            return candidate

        # each camera is asked as soon as it answers, while the probing goes on
        with ThreadPoolExecutor(MAX_PARALLEL, thread_name_prefix="onvif") as pool:
            futures: list[Future[CameraCandidate]] = []
            prober.run(on_new=lambda match: futures.append(pool.submit(proposed, match)))
            return [future.result() for future in futures]


plugin = OnvifDiscovery()
