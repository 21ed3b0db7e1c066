"""A worker that exits because the cache refused its reservation: the camera waits for
space (alerted once, no storm guard) and starts again on the first loop with room."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr_edge.appliance.run import appliance_catalog
from nvr_edge.appliance.supervisor import Supervisor
from nvr_edge.camera.worker import EXIT_NO_SPACE
from nvr_edge.plugins import load_config, make_plugin_manager

from ..helpers import Alerts, fill, mount_tmpfs, write_config


class ExitedProcess:
    """What _reap reads of a worker process that has exited."""

    def __init__(self, code: int) -> None:
        self.exitcode = code

    def join(self) -> None:
        pass


class ClosedPipe:
    def poll(self, timeout: float = 0.0) -> bool:
        return False

    def close(self) -> None:
        pass


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "cache"
    mount_tmpfs(folder, "8m")  # less than a first segment's reservation (5.5 MB) once filled
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("code", [EXIT_NO_SPACE, 1])  # 1: a crash while the cache is full
def test_a_camera_stopped_for_space_waits_then_resumes_without_the_storm_guard(
        tmp_path: Path, cache: Path, code: int) -> None:
    config = load_config(write_config(tmp_path / "nvr.toml", {"cam1": "rtsp://192.0.2.1/x"},
                                      extra=f'storage.cache_dir = "{cache}"'))
    pm = make_plugin_manager(load_entry_points=False)
    alerts = Alerts()
    pm.register(alerts, name="alerts")
    catalog = appliance_catalog(config, pm)
    supervisor = Supervisor(config, pm, catalog)
    spawned: list[str] = []
    supervisor._spawn = lambda runtime: spawned.append(runtime.camera.id)  # type: ignore
    runtime = supervisor._runtime(config.cameras[0])
    supervisor.cameras["cam1"] = runtime
    try:
        fill(cache / "ballast")
        for _ in range(10):  # more exits than the storm guard allows
            runtime.process, runtime.conn = ExitedProcess(code), ClosedPipe()
            supervisor._reap(runtime)
        supervisor._restart_due()
        assert runtime.state == "restarting" and "no space" in runtime.reason
        assert runtime.space_paused and runtime.restart_at is None and spawned == []
        assert "camera_unstable" not in [a.code for a in alerts.seen]
        (cache / "ballast").unlink()
        supervisor._restart_due()
        assert spawned == ["cam1"]
        codes = [a.code for a in alerts.seen]
        assert codes.count("recording_paused_no_space") == 10
        assert codes[-1] == "recording_resumed"
    finally:
        catalog.close()
