"""A new appliance beside a worker of the old one that is still writing (the appliance was
SIGKILLed and started again at once): the old worker's segment is neither cut nor indexed
short, and the camera starts again once the old worker is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nvr_edge_testing.appliance import Appliance
from nvr_edge_testing.configs import write_config
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.waiting import wait_for

from ..helpers import files, rows
from ..media import decode_errors

pytestmark = pytest.mark.slow


def test_restart_beside_the_killed_appliances_live_worker(tmp_path: Path,
                                                          cameras: SimCameraServer) -> None:
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)})
    old = Appliance(config, tmp_path / "old.log").start()
    try:
        wait_for(lambda: "cam1: online" in old.log, 30, "online")
        wait_for(lambda: any(p.stat().st_size > 100_000
                             for p in files(tmp_path / "cache", "*.part")), 20, "a .part")
        worker = old.worker_pids("cam1")[-1]
        # Hold the worker where a slow exit would: it gets its SIGTERM (the appliance died)
        # only when the new appliance has already started.
        os.kill(worker, signal.SIGSTOP)
        assert old.process is not None
        os.kill(old.process.pid, signal.SIGKILL)
        old.process.wait(10)
        part = files(tmp_path / "cache", "*.part")[0]
        with Appliance(config, tmp_path / "new.log") as new:
            wait_for(lambda: "waiting for the previous worker" in new.log, 30,
                     "the new appliance waits for the old worker")
            time.sleep(1.0)
            assert part.exists()  # not repaired under the old worker's feet
            assert new.worker_pids("cam1") == []
            os.kill(worker, signal.SIGCONT)  # it finishes its segment and exits
            wait_for(lambda: "cam1: online" in new.log, 40, "recording again")
            wait_for(lambda: len(rows(config, "cam1")) >= 2, 40, "the old and a new segment")
            assert new.stop() == 0
    finally:
        old.kill_all()
    name = part.name.removesuffix(".part")
    indexed = {Path(r.path).name: r for r in rows(config, "cam1")}
    assert name in indexed, sorted(indexed)  # the old worker's last segment (maybe moved)
    old_segment = indexed[name]
    assert old_segment.bytes == Path(old_segment.path).stat().st_size
    assert old_segment.duration_ms >= 2_000  # the whole of it, not cut at the new start
    for row in indexed.values():
        assert decode_errors(row.path) == "", row.path
    check = subprocess.run([sys.executable, "-m", "nvr_edge", "check", "--config", str(config)],
                           capture_output=True, text=True)
    assert check.returncode == 0 and "0 difference(s)" in check.stdout, check.stdout
