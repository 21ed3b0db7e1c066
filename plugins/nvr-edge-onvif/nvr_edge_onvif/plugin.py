"""The plugin object: WS-Discovery, then each camera asked over SOAP; in the running
appliance, a listener for Hellos and Byes (`[onvif] listen`) and the cameras heard of."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from nvr_edge import (
    Appliance,
    CameraCandidate,
    Catalog,
    Command,
    Config,
    DiscoveryRequest,
    hookimpl,
)
from nvr_edge_onvif.candidates import describe
from nvr_edge_onvif.commands import onvif_commands
from nvr_edge_onvif.follow import follow
from nvr_edge_onvif.interfaces import Interface, multicast_interfaces
from nvr_edge_onvif.listener import Listener
from nvr_edge_onvif.probe import PORT, ProbeMatch
from nvr_edge_onvif.prober import Prober
from nvr_edge_onvif.registry import Registry
from nvr_edge_onvif.settings import OnvifSettings, read_onvif
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
        self.registry = Registry()
        self.listener: Listener | None = None
        self.appliance: Appliance | None = None

    @hookimpl
    def nvr_config_sections(self) -> dict[str, Any]:
        return {"onvif": read_onvif}

    @hookimpl
    def nvr_startup(self, config: Config, catalog: Catalog, appliance: Appliance) -> None:
        self.appliance = appliance
        self.registry = Registry()  # this run's: nothing heard by an earlier one
        self._listen(_settings(config))

    @hookimpl
    def nvr_config_changed(self, config: Config, previous: Config) -> None:
        new, old = _settings(config), _settings(previous)
        if (new.listen, new.interfaces, new.expire_s) != (old.listen, old.interfaces,
                                                          old.expire_s):
            self._listen(new)

    @hookimpl
    def nvr_shutdown(self, config: Config) -> None:
        self._listen(OnvifSettings())
        self.appliance = None

    @hookimpl
    def nvr_commands(self, appliance: Appliance) -> list[Command]:
        return onvif_commands(appliance, self.registry, self.nvr_camera_candidates)

    @hookimpl
    def nvr_status_part(self, config: Config) -> dict[str, Any] | None:
        if self.appliance is None:
            return None
        listener = self.listener
        return {"onvif": {"listening_on": list(listener.joined) if listener else [],
                          **self.registry.status()}}

    def _moved(self, old: ProbeMatch, new: ProbeMatch) -> None:
        """A camera seen at a new address: an adopted one's URLs follow (running box only)."""
        appliance = self.appliance
        if appliance is not None:
            follow(appliance, old, new)

    def _listen(self, settings: OnvifSettings) -> None:
        """(Re)start the listener as `settings` say; stop it when they say no."""
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        self.registry.expire_s = settings.expire_s
        if not settings.listen:
            return
        interfaces = [i for i in self.interfaces()
                      if not settings.interfaces or i.name in settings.interfaces]
        try:
            self.listener = Listener(self.registry, interfaces, self.port,
                                     on_moved=self._moved).start()
        except OSError as exc:  # the port taken by a listener that does not share it
            log.warning("discovery: cannot listen for Hellos on port %d: %s", self.port, exc)
            return
        log.info("discovery: listening for Hellos on %s", ", ".join(self.listener.joined)
                 or "no interface")

    @hookimpl
    def nvr_camera_candidates(self, request: DiscoveryRequest) -> list[CameraCandidate]:
        credentials = None
        if request.user is not None and request.password is not None:
            credentials = Credentials(request.user, request.password)
        interfaces = [i for i in self.interfaces()
                      if not request.interfaces or i.name in request.interfaces]
        prober = Prober(interfaces, request.hosts, request.timeout_s, self.port)

        def proposed(match: ProbeMatch) -> CameraCandidate:
            moved_from = self.registry.saw(match, "probe")
            if moved_from is not None:
                self._moved(moved_from, match)
            candidate = describe(match, credentials)
            log.info("discovery: %s proposed %.3f s after the first probe", match.urn,
                     time.monotonic() - prober.started)
            return candidate

        # each camera is asked as soon as it answers, while the probing goes on
        with ThreadPoolExecutor(MAX_PARALLEL, thread_name_prefix="onvif") as pool:
            futures: list[Future[CameraCandidate]] = []
            prober.run(on_new=lambda match: futures.append(pool.submit(proposed, match)))
            return [future.result() for future in futures]


def _settings(config: Config) -> OnvifSettings:
    settings = config.sections.get("onvif")
    return settings if isinstance(settings, OnvifSettings) else OnvifSettings()


plugin = OnvifDiscovery()
