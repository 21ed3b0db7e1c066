"""The hooks: a config section, a command, a count of closed segments, and a hook that
raises on purpose when `[hello] fail_on_camera_state = true`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from nvr_edge import Appliance, Command, Config, Param, SegmentRecord, hookimpl
from nvr_hello.settings import HelloSettings, read_hello


def settings_of(config: Config) -> HelloSettings:
    # None when the config has no [hello] table: the plugin then uses its defaults.
    return config.sections.get("hello") or HelloSettings()


class HelloPlugin:
    """State lives on the object (one per appliance), never in module globals."""

    def __init__(self) -> None:
        self.segments_closed = 0
        self._lock = threading.Lock()  # hooks and commands run on different threads

    @hookimpl
    def nvr_config_sections(self) -> dict[str, Any]:
        return {"hello": read_hello}

    @hookimpl
    def nvr_segment_closed(self, segment: SegmentRecord, config: Config) -> None:
        with self._lock:
            self.segments_closed += 1

    @hookimpl
    def nvr_camera_state(self, camera_id: str, state: str, reason: str,
                         config: Config) -> None:
        if settings_of(config).fail_on_camera_state:
            raise RuntimeError(f"hello: failing on purpose ({camera_id} is {state})")

    @hookimpl
    def nvr_commands(self, appliance: Appliance) -> list[Command]:
        def greet(args: Mapping[str, Any]) -> dict[str, Any]:
            greeting = settings_of(appliance.config).greeting
            with self._lock:
                closed = self.segments_closed
            return {"greeting": f"{greeting}, {args.get('name', 'world')}!",
                    "segments_closed": closed}

        return [Command("hello.greet", "Greet someone; say how many segments closed", greet,
                        params={"name": Param("string", "who to greet", required=False)},
                        action="view")]


plugin = HelloPlugin()  # what the entry point names
