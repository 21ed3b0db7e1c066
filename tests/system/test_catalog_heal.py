"""The SQLite catalog lost under the running appliance, or damaged before it starts: noticed
at once (an alert), rebuilt from the segment files, nothing recorded is lost; `check`
creates no catalog."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from nvr_edge_testing.appliance import Appliance
from nvr_edge_testing.configs import write_config
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.waiting import wait_for

from ..helpers import rows, segment_files

pytestmark = pytest.mark.slow


def check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nvr_edge", "check", "--config", str(config)],
                          capture_output=True, text=True)


def indexed_names(config: Path) -> set[str]:
    return {Path(r.path).name for r in rows(config)}


def test_catalog_deleted_while_running_then_damaged_before_a_start(
        tmp_path: Path, cameras: SimCameraServer) -> None:
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)})
    db = tmp_path / "state" / "catalog.db"
    refused = check(config)  # before any start: says so, creates nothing
    assert refused.returncode != 0 and "does not exist" in refused.stderr, refused
    assert not db.exists()
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: len(rows(config)) >= 2, 60, "two segments")
        before = indexed_names(config)
        db.unlink()
        wait_for(lambda: "catalog_damaged" in app.log or "the file was deleted" in app.log,
                 20, "the lost catalog noticed")
        wait_for(lambda: db.exists() and before <= indexed_names(config), 30,
                 "the catalog rebuilt from the files")
        assert app.stop() == 0
    assert indexed_names(config) == {p.name for p in segment_files(tmp_path)}
    clean = check(config)
    assert clean.returncode == 0 and "0 difference(s)" in clean.stdout, clean.stdout

    recorded = {p.name for p in segment_files(tmp_path)}
    db.write_bytes(b"overwritten by something else " * 100)
    damaged = check(config)
    assert damaged.returncode != 0 and "not a SQLite file" in damaged.stderr, damaged
    with Appliance(config, tmp_path / "again.log") as again:
        wait_for(lambda: "cam1: online" in again.log, 30, "recording again")
        assert "set aside" in again.log
        assert again.stop() == 0
    assert recorded <= indexed_names(config)  # every segment from before is indexed again
    assert list(db.parent.glob("catalog.db.damaged-*"))
    clean = check(config)
    assert clean.returncode == 0 and "0 difference(s)" in clean.stdout, \
        (clean.stdout, again.log[-4000:])
