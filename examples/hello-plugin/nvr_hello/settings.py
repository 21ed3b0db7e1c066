"""The `[hello]` config section."""

from __future__ import annotations

from dataclasses import dataclass

from nvr_edge import ConfigTable


@dataclass(frozen=True)
class HelloSettings:
    greeting: str = "Hello"
    # Make nvr_camera_state raise, to see that a failing plugin never stops recording.
    fail_on_camera_state: bool = False


def read_hello(t: ConfigTable) -> HelloSettings:
    """Unknown keys and wrong types are refused by `ConfigTable`, with the key's name."""
    return HelloSettings(greeting=t.string("greeting", HelloSettings.greeting),
                         fail_on_camera_state=t.boolean("fail_on_camera_state", False))
