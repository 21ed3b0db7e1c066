"""Built-in plugin `update`: the admin command `update` (MQTT `<base>/request/update`, the
fleet topic, HTTP `POST /api/commands/update`) and the `update` status part, which the
MQTT plugin keeps retained on `<base>/update`. docs/UPDATES.md has the design."""

from __future__ import annotations

import logging
import threading
from typing import Any

from nvr_edge.api import Appliance, Command, ControlError, Param
from nvr_edge.catalog.base import Catalog
from nvr_edge.config import Config
from nvr_edge.hookspecs import hookimpl
from nvr_edge.plugins import core_version

from . import rauc
from .updater import Updater, UpdaterSettings, booted_slot

log = logging.getLogger(__name__)
POLL_S = 3.0  # how often the gate's files are looked at (the gate itself polls every 5 s)


class UpdatePlugin:
    def __init__(self) -> None:
        self.updater: Updater | None = None
        self.stopping = threading.Event()

    def start(self, config: Config, appliance: Appliance) -> None:
        booted = booted_slot()
        settings = UpdaterSettings(folder=config.storage.state_dir.parent / "update",
                                   booted=booted, running_version=core_version())
        self.updater = Updater(settings, appliance.status)
        self.stopping.clear()
        threading.Thread(target=self._watch, args=(self.updater,), name="nvr-update-watch",
                         daemon=True).start()

    def _watch(self, updater: Updater) -> None:
        """The version RAUC installed into this slot (over the core's own, which a bundle
        built from the same release shares), then the gate's files every few seconds."""
        s = updater.settings
        if s.booted is not None:
            try:
                s.running_version = rauc.slot_version(s.rauc, s.booted) or s.running_version
            except rauc.RaucError as exc:
                log.warning("update: RAUC cannot say what slot %s runs: %s", s.booted, exc)
        while not self.stopping.wait(POLL_S):
            try:
                updater.refresh()
            except OSError as exc:
                log.warning("update: cannot read the update folder: %s", exc)

    def run(self, args: Any) -> Any:
        if self.updater is None:
            raise ControlError("the appliance is not running")
        return self.updater.start(args)


UPDATE = UpdatePlugin()
PARAMS = {
    "url": Param("string", "http(s) URL of the signed RAUC bundle (.raucb)"),
    "version": Param("string", "the bundle's version, as in its manifest (e.g. 0.3.1+4f2a9c)"),
    "sha256": Param("string", "the bundle's SHA-256 (hex), checked after the download",
                    required=False),
    "health_timeout_s": Param("integer", "how long the new slot has to show it records "
                              "before it is rolled back (60..3600, default 600)",
                              required=False),
    "allow_downgrade": Param("boolean", "install an older (or the running) version too "
                             "(default false)", required=False),
}


@hookimpl
def nvr_startup(config: Config, catalog: Catalog, appliance: Appliance) -> None:
    UPDATE.start(config, appliance)


@hookimpl
def nvr_shutdown(config: Config) -> None:
    UPDATE.stopping.set()


@hookimpl
def nvr_commands(appliance: Appliance) -> list[Command]:
    return [Command("update", "install a signed image bundle into the other A/B slot and "
                    "reboot into it; progress on the update state (MQTT <base>/update)",
                    UPDATE.run, PARAMS, action="admin")]


@hookimpl
def nvr_status_part(config: Config) -> dict[str, Any] | None:
    return None if UPDATE.updater is None else {"update": UPDATE.updater.part()}
