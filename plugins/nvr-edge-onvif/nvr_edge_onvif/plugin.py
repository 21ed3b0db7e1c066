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
from nvr_edge_onvif.asking import Asker
from nvr_edge_onvif.candidates import describe
from nvr_edge_onvif.commands import onvif_commands
from nvr_edge_onvif.follow import follow, follow_if_lost
from nvr_edge_onvif.interfaces import Interface, multicast_interfaces
from nvr_edge_onvif.listener import Listener
from nvr_edge_onvif.probe import PORT, ProbeMatch
from nvr_edge_onvif.prober import Prober
from nvr_edge_onvif.refind import Refinder, missing_cameras
from nvr_edge_onvif.registry import Registry
from nvr_edge_onvif.settings import OnvifSettings, read_onvif
from nvr_edge_onvif.soap import Credentials

log = logging.getLogger(__name__)

MAX_PARALLEL = 8  # cameras asked at once; a slow one delays no other
REFIND_PROBE_S = 2.0  # how long one search for missing cameras waits for answers


class OnvifDiscovery:
    """`interfaces` and `port` are for tests (a namespace's own interfaces, a responder on
    another port); the box probes every multicast interface on 3702."""

    def __init__(self, interfaces: Callable[[], list[Interface]] = multicast_interfaces,
                 port: int = PORT) -> None:
        self.interfaces = interfaces
        self.port = port
        self.registry = Registry()
        self.asker = Asker(self.registry)
        self.listener: Listener | None = None
        self.refinder: Refinder | None = None
        self.settings = OnvifSettings()
        self.appliance: Appliance | None = None

    @hookimpl
    def nvr_config_sections(self) -> dict[str, Any]:
        return {"onvif": read_onvif}

    @hookimpl
    def nvr_startup(self, config: Config, catalog: Catalog, appliance: Appliance) -> None:
        self.appliance = appliance
        self.registry = Registry()  # this run's: nothing heard by an earlier one
        self.asker = Asker(self.registry)
        self._listen(_settings(config))

    @hookimpl
    def nvr_config_changed(self, config: Config, previous: Config) -> None:
        new, old = _settings(config), _settings(previous)
        self.settings = new
        if (new.listen, new.interfaces, new.expire_s, new.refind_s) != (
                old.listen, old.interfaces, old.expire_s, old.refind_s):
            self._listen(new)
        elif self.asker.configure(new.user, new.password):
            for camera in self.registry.cameras():  # asked again with the new ones
                self.asker.heard(camera)

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
        settings = _settings(config)
        ignored = set(settings.ignored)
        adopted_as = {urn: camera for camera, urn in settings.adopted.items()}
        candidates = [{**c, "ignored": c["id"] in ignored, "adopted_as": adopted_as.get(c["id"])}
                      for c in self.registry.status()["candidates"]]
        return {"onvif": {"listening_on": list(listener.joined) if listener else [],
                          "candidates": candidates}}

    def _seen(self, moved_from: ProbeMatch | None, camera: ProbeMatch) -> None:
        """A camera heard of (running box only): asked with the site's credentials once per
        address; an adopted one seen at a new address, or found elsewhere while it was not
        online, has its URLs follow it."""
        self.asker.heard(camera)
        appliance = self.appliance
        if appliance is None:
            return
        if moved_from is not None:
            follow(appliance, moved_from.host, camera)
        else:
            follow_if_lost(appliance, camera)

    def _refind(self) -> None:
        """One search for adopted cameras that went missing (the refinder's thread)."""
        settings = self.settings
        interfaces = [i for i in self.interfaces()
                      if not settings.interfaces or i.name in settings.interfaces]
        prober = Prober(interfaces, settings.hosts, REFIND_PROBE_S, self.port)
        prober.run(on_new=lambda match: self._seen(self.registry.saw(match, "probe"), match))

    def _listen(self, settings: OnvifSettings) -> None:
        """(Re)start the listener and the search for missing cameras as `settings` say;
        stop them when they say no."""
        self.settings = settings
        for running in (self.listener, self.refinder, self.asker):
            if running is not None:
                running.stop()
        self.listener = self.refinder = None
        self.registry.expire_s = settings.expire_s
        appliance = self.appliance
        if not settings.listen or appliance is None:
            return
        self.asker.configure(settings.user, settings.password)
        self.asker.start()
        self.refinder = Refinder(lambda: missing_cameras(appliance), self._refind,
                                 settings.refind_s).start()
        interfaces = [i for i in self.interfaces()
                      if not settings.interfaces or i.name in settings.interfaces]
        try:
            self.listener = Listener(self.registry, interfaces, self.port,
                                     on_seen=self._seen).start()
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
        hosts = dict.fromkeys(request.hosts + self.settings.hosts)  # the installer's too
        prober = Prober(interfaces, hosts, request.timeout_s, self.port)

        def proposed(match: ProbeMatch) -> CameraCandidate:
            self._seen(self.registry.saw(match, "probe"), match)
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
