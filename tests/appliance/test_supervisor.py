"""The supervisor in-process with a test plugin: what plugins are told, and when."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from nvr_edge_testing.configs import write_config
from nvr_edge_testing.simcam import SimCameraServer

from nvr_edge import hookimpl, read_history
from nvr_edge.appliance import supervisor as supervisor_module
from nvr_edge.appliance.history import FIRST_START
from nvr_edge.appliance.run import appliance_catalog, opened_catalog
from nvr_edge.appliance.supervisor import Supervisor
from nvr_edge.catalog import SegmentQuery
from nvr_edge.plugins import load_config, make_plugin_manager

pytestmark = pytest.mark.slow


class Recorder:
    """A plugin that remembers every hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.lock = threading.Lock()

    def seen(self, name: str) -> list[object]:
        with self.lock:
            return [value for hook, value in self.calls if hook == name]

    @hookimpl
    def nvr_camera_state(self, camera_id: str, state: str, reason: str) -> None:
        with self.lock:
            self.calls.append(("state", (camera_id, state)))

    @hookimpl
    def nvr_alert(self, alert) -> None:
        with self.lock:
            self.calls.append(("alert", alert))

    @hookimpl
    def nvr_segment_closed(self, segment) -> None:
        with self.lock:
            self.calls.append(("segment", segment))


def run_supervisor(config_path: Path, plugin: Recorder, until, *others: object,
                   timeout_s: float = 120) -> dict:
    """Run the supervisor in-process until `until()`; return its last status. `others`
    are registered after `plugin`, so pluggy calls them first."""
    config = load_config(config_path)
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(plugin, name="test-recorder")
    for other in others:
        pm.register(other, name=type(other).__name__.lower())
    catalog = appliance_catalog(config, pm)
    supervisor = Supervisor(config, pm, catalog)
    supervisor.start()
    deadline = time.monotonic() + timeout_s
    try:
        while not until() and time.monotonic() < deadline:
            supervisor.poll(0.2)
        return supervisor.status()
    finally:
        supervisor.stop()
        catalog.close()


def test_plugins_hear_states_alerts_and_segments(tmp_path: Path,
                                                 cameras: SimCameraServer) -> None:
    plugin = Recorder()
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)},
                          recording={"retry": {"initial_delay_ms": 500}})
    phase = {"stopped_camera": False}

    def until() -> bool:
        states = plugin.seen("state")
        if not phase["stopped_camera"] and plugin.seen("segment"):
            cameras.stop()
            phase["stopped_camera"] = True
        return ("cam1", "offline") in states and plugin.seen("alert")

    run_supervisor(config, plugin, until)
    states = [s for _, s in plugin.seen("state")]
    assert states[:3] == ["connecting", "online", "connecting"] or \
        states[:2] == ["connecting", "online"]
    assert "offline" in states and states[-1] == "stopped"
    alerts = plugin.seen("alert")
    assert alerts[0].code == "camera_offline" and alerts[0].camera == "cam1"
    segment = plugin.seen("segment")[0]
    assert segment.id is not None and Path(segment.path).exists()
    # the built-in `history` plugin kept the same story in the state folder
    history = read_history(load_config(config).storage.state_dir)
    assert (history[0].kind, history[0].code, history[0].detail) == ("box", "box_started",
                                                                    FIRST_START)
    assert (history[-1].kind, history[-1].code) == ("box", "box_stopped")
    assert [e.code for e in history if e.kind == "state"] == states
    alert = next(e for e in history if e.kind == "alert")
    assert (alert.code, alert.camera) == ("camera_offline", "cam1")


def test_a_stalled_camera_is_reconnected(tmp_path: Path, cameras: SimCameraServer) -> None:
    """SIGSTOP freezes the camera server: its TCP connections stay up, packets stop."""
    plugin = Recorder()
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)},
                          recording={"stall": {"timeout_ms": 300, "max_drops": 5}})
    phase: dict[str, float] = {}

    def until() -> bool:
        if "frozen" not in phase and plugin.seen("segment"):
            os.kill(cameras.pid, signal.SIGSTOP)
            phase["frozen"] = time.monotonic()
        if "frozen" in phase and "thawed" not in phase and \
                time.monotonic() - phase["frozen"] > 6:
            os.kill(cameras.pid, signal.SIGCONT)
            phase["thawed"] = time.time()
        return "thawed" in phase and any(s.start_ms > phase["thawed"] * 1000
                                         for s in plugin.seen("segment"))

    try:
        run_supervisor(config, plugin, until)
    finally:
        os.kill(cameras.pid, signal.SIGCONT)
    states = [s for _, s in plugin.seen("state")]
    first_online = states.index("online")
    assert "connecting" in states[first_online:], f"no reconnect after the stall: {states}"
    segments = plugin.seen("segment")
    assert any(s.start_ms > phase["thawed"] * 1000 for s in segments), "recording resumed"
    # the segment open when the camera froze was closed at the stall, not lost
    frozen_wall_ms = segments[0].end_ms
    assert any(s.start_ms >= frozen_wall_ms and s.start_ms < phase["thawed"] * 1000
               for s in segments[1:])


class Careless:
    """A third-party plugin with a bug in every observer hook it implements."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def nvr_camera_state(self, camera_id: str, state: str) -> None:
        self.calls += 1
        raise RuntimeError(f"careless plugin: cannot handle {state}")

    @hookimpl
    def nvr_segment_closed(self, segment) -> None:
        raise KeyError("careless plugin")


def test_a_raising_plugin_never_stops_recording(tmp_path: Path,
                                                cameras: SimCameraServer) -> None:
    """Registered last, so pluggy calls it first: the recorder must still hear every call,
    rows must be written, and the failures show in the status, alerted once."""
    careless, plugin = Careless(), Recorder()
    config_path = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)},
                               segment_seconds=10)
    status = run_supervisor(config_path, plugin, lambda: len(plugin.seen("segment")) >= 2,
                            careless, timeout_s=90)
    segments = plugin.seen("segment")
    assert len(segments) >= 2, "recording stopped after the plugin raised"
    assert careless.calls >= 2  # still called after its first failure
    failures = status["plugins"]["failures"]["careless"]
    assert failures["nvr_camera_state"] >= 2 and failures["nvr_segment_closed"] >= 2
    alerts = [a for a in plugin.seen("alert") if a.code == "plugin_failed"]
    assert sorted(a.message.split(":")[1].strip().split()[0] for a in alerts) == \
        ["nvr_camera_state", "nvr_segment_closed"]  # once per plugin and hook
    with opened_catalog(load_config(config_path)) as reader:
        rows = reader.segments(SegmentQuery(camera="cam1"))
    assert {r.id for r in rows} >= {s.id for s in segments}


def test_retry_camera_wakes_an_unplugged_camera_s_worker_without_a_restart(
        tmp_path: Path) -> None:
    """A USB camera's node absent: its worker is offline and waits (its own check only
    every 60 s here); the node back and `retry_camera` (what the V4L2 watcher calls on
    udev's add): the same worker tries it at once."""
    device = Path(f"/dev/shm/nvr-edge-test-video-{os.getpid()}")
    config = load_config(write_config(
        tmp_path / "nvr.toml", {"usb": f"v4l2:{device}?fourcc=MJPG&width=640&height=480"},
        recording={"probe_interval_s": 60.0}))
    pm = make_plugin_manager(load_entry_points=False)
    catalog = appliance_catalog(config, pm)
    supervisor = Supervisor(config, pm, catalog)
    supervisor.start()

    def usb() -> dict:
        return supervisor.status()["cameras"]["usb"]

    def poll_until(done, what: str, timeout_s: float = 30) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            supervisor.poll(0.2)
            if done(usb()):
                return usb()
        raise AssertionError(f"{what}: {usb()}")

    try:
        offline = poll_until(lambda c: c["state"] == "offline", "offline, unplugged")
        assert "unplugged" in offline["reason"], offline
        device.write_bytes(b"")  # back (a plain file: reachable, no capture device)
        supervisor.retry_camera("usb")
        tried = poll_until(lambda c: c["state"] == "connecting", "tried at once", 10)
        assert (tried["pid"], tried["restarts"]) == (offline["pid"], 0), (offline, tried)
    finally:
        supervisor.stop()
        catalog.close()
        device.unlink(missing_ok=True)


def test_a_worker_frozen_at_the_stop_is_killed_and_its_segment_repaired(
        tmp_path: Path, cameras: SimCameraServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGSTOP freezes the worker: it never sees the stop's SIGTERM. The supervisor kills it
    after its grace and repairs and indexes its `.part` before it returns, so nothing is
    left for a next start that may never come."""
    monkeypatch.setattr(supervisor_module, "STOP_GRACE_S", 2.0)
    config_path = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)})
    config = load_config(config_path)
    catalog = appliance_catalog(config, make_plugin_manager(load_entry_points=False))
    supervisor = Supervisor(config, make_plugin_manager(load_entry_points=False), catalog)
    supervisor.start()
    parts: list[Path] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # a fragment or more written
            supervisor.poll(0.2)
            parts = [p for p in (tmp_path / "cache").rglob("*.part") if p.stat().st_size > 4096]
            if parts:
                break
        assert parts, "no segment being written"
        os.kill(supervisor.cameras["cam1"].process.pid, signal.SIGSTOP)
    finally:
        supervisor.stop()
        catalog.close()
    assert not list((tmp_path / "cache").rglob("*.part"))
    repaired = [r for r in rows_of(config_path) if Path(r.path).name.startswith(
        parts[0].name.removesuffix(".mp4.part"))]
    assert len(repaired) == 1 and repaired[0].end_ms > repaired[0].start_ms, repaired
    assert Path(repaired[0].path).exists()


def rows_of(config_path: Path) -> list:
    with opened_catalog(load_config(config_path)) as reader:
        return reader.segments(SegmentQuery(camera="cam1"))
