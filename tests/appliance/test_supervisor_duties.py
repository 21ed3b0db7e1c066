"""The supervisor's loop survives its own duties failing: each failure is logged, counted
in the status and alerted once, and the loop and the other duties go on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nvr_edge import DISABLE_AUTOLOAD_ENV
from nvr_edge.appliance.run import appliance_catalog
from nvr_edge.appliance.supervisor import Supervisor
from nvr_edge.plugins import load_config, make_plugin_manager

from ..helpers import Alerts, write_config


def test_a_failing_duty_is_counted_alerted_once_and_the_loop_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(write_config(tmp_path / "nvr.toml", {}))
    pm = make_plugin_manager(load_entry_points=False)
    alerts = Alerts()
    pm.register(alerts, name="alerts")
    catalog = appliance_catalog(config, pm)
    supervisor = Supervisor(config, pm, catalog)
    calls = {"floors": 0, "status": 0}

    def broken_floors() -> None:
        calls["floors"] += 1
        raise OSError(24, "Too many open files")

    supervisor.space.enforce_floors = broken_floors  # type: ignore[method-assign]
    write_status = supervisor._write_status

    def counted_status() -> None:
        calls["status"] += 1
        write_status()

    supervisor._write_status = counted_status  # type: ignore[method-assign]
    supervisor.start()
    try:
        for _ in range(3):
            supervisor._next.clear()  # every duty due on each poll
            supervisor.poll(0.01)
        status, polled = supervisor.status(), dict(calls)
    finally:
        supervisor.stop()
        catalog.close()
    assert polled == {"floors": 3, "status": 3}  # the failing duty did not stop the others
    assert status["duty_failures"] == {"free-space floors": 3}
    failed = [a for a in alerts.seen if a.code == "supervisor_duty_failed"]
    assert len(failed) == 1 and "Too many open files" in failed[0].message
    # one traceback, not one per tick (a failing duty once wrote hundreds of MB of log)
    tracebacks = [r for r in caplog.records if r.exc_info and "free-space" in r.getMessage()]
    assert len(tracebacks) == 1


def test_a_loop_that_dies_ends_the_process_for_systemd(tmp_path: Path) -> None:
    """An error that escapes the loop: the process exits non-zero at once, even with a
    plugin's non-daemon thread still running (it used to linger, half dead)."""
    config = write_config(tmp_path / "nvr.toml", {})
    script = f"""
import threading, time
from nvr_edge.appliance import supervisor
from nvr_edge.cli import main

def boom(self, timeout):
    raise RuntimeError("loop bug")

supervisor.Supervisor.poll = boom
threading.Thread(target=time.sleep, args=(600,)).start()  # a plugin's forgotten thread
main(["run", "--config", {str(config)!r}])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, DISABLE_AUTOLOAD_ENV: "1"})
    assert done.returncode == 1
    assert "the appliance stopped on an unexpected error" in done.stderr
    assert "RuntimeError: loop bug" in done.stderr
