"""The appliance helpers of the suite now ship in the kit (nvr_edge_testing); this module
keeps the spelling the plugin tests use, `write_config(..., extra="<TOML tables>")`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from nvr_edge_testing.appliance import Appliance, running_supervisor
from nvr_edge_testing.configs import write_config as _write_config
from nvr_edge_testing.waiting import wait_for

__all__ = ["Appliance", "running_supervisor", "wait_for", "write_config"]


def write_config(path: Path, cameras: dict[str, str], *, extra: str = "",
                 **options: Any) -> Path:
    """The kit's `write_config`, with `extra` TOML parsed into tables, not appended."""
    return _write_config(path, cameras, tables=tomllib.loads(extra), **options)
