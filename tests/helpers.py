"""Helpers the suite's tests share (never imported from another test module): the kit's
appliance helpers (nvr_edge_testing) with the spelling the tests use,
`write_config(..., extra="<TOML tables>")`, and reading back what an appliance recorded."""

from __future__ import annotations

import contextlib
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_testing.appliance import Appliance, running_supervisor
from nvr_edge_testing.configs import write_config as _write_config
from nvr_edge_testing.waiting import wait_for

from nvr_edge import Alert, hookimpl
from nvr_edge.appliance.run import opened_catalog
from nvr_edge.catalog import SegmentQuery
from nvr_edge.models import SegmentRecord
from nvr_edge.plugins import load_config

__all__ = ["Alerts", "Appliance", "files", "fill", "mount_tmpfs", "rows", "running_supervisor",
           "segment_files", "tmpfs", "wait_for", "write_config"]


class Alerts:
    """A plugin that keeps every alert the appliance raises."""

    def __init__(self) -> None:
        self.seen: list[Alert] = []

    @hookimpl
    def nvr_alert(self, alert: Alert) -> None:
        self.seen.append(alert)


def write_config(path: Path, cameras: dict[str, str], *, extra: str = "",
                 **options: Any) -> Path:
    """The kit's `write_config`, with `extra` TOML parsed into tables, not appended."""
    return _write_config(path, cameras, tables=tomllib.loads(extra), **options)


def rows(config_path: Path, camera: str | None = None) -> list[SegmentRecord]:
    with opened_catalog(load_config(config_path)) as catalog:
        return catalog.segments(SegmentQuery(camera=camera))


def files(root: Path, pattern: str = "*.mp4") -> list[Path]:
    return sorted(root.rglob(pattern))


def segment_files(tmp_path: Path) -> list[Path]:
    """Closed segments on either tier (the tier mover moves them cache -> archive)."""
    return sorted(files(tmp_path / "cache") + files(tmp_path / "archive"))


def mount_tmpfs(path: Path, size: str) -> None:
    """A small real file system at `path` (the caller unmounts it); skips without root."""
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}): needs root")


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """`path` as a small tmpfs while the block runs, unmounted after."""
    mount_tmpfs(path, size)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> None:
    """Write `path` until its file system is full."""
    with open(path, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(bytes(256 * 1024))
            f.flush()
