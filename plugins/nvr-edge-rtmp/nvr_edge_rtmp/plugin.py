"""The plugin object: configured pushes start with the appliance and follow config
changes; operators start and stop extra pushes at run time through its commands."""

from __future__ import annotations

from typing import Any

from nvr_edge import Appliance, Catalog, Command, Config, hookimpl

from .commands import push_commands
from .pushes import Pushes
from .settings import read_rtmp


class RtmpPlugin:
    """One per appliance run: its pushes live from `nvr_startup` to `nvr_shutdown`."""

    def __init__(self) -> None:
        self.pushes: Pushes | None = None

    @hookimpl
    def nvr_config_sections(self) -> dict[str, Any]:
        return {"rtmp": read_rtmp}

    @hookimpl
    def nvr_startup(self, config: Config, catalog: Catalog, appliance: Appliance) -> None:
        self.pushes = Pushes(appliance)
        self.pushes.apply(config)

    @hookimpl
    def nvr_config_changed(self, config: Config, previous: Config) -> None:
        if self.pushes is not None:
            self.pushes.apply(config)

    @hookimpl
    def nvr_commands(self, appliance: Appliance) -> list[Command]:
        return push_commands(self.pushes) if self.pushes is not None else []

    @hookimpl
    def nvr_shutdown(self, config: Config) -> None:
        pushes, self.pushes = self.pushes, None
        if pushes is not None:
            pushes.stop_all()


plugin = RtmpPlugin()  # what the entry point names
