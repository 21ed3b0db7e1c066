"""The update health gate's decision and its rollback bookkeeping (image/board/common/ab/
rootfs-overlay/usr/libexec/nvr-edge/update-gate), on the host: no QEMU, no RAUC
(`--dry-run`). Fast: part of ci/test."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .qemu import REPO

GATE = REPO / "image/board/common/ab/rootfs-overlay/usr/libexec/nvr-edge/update-gate"
_loader = SourceFileLoader("update_gate", str(GATE))
_spec = spec_from_loader("update_gate", _loader)
assert _spec is not None
gate = module_from_spec(_spec)
sys.modules["update_gate"] = gate  # dataclasses look their module up there
_loader.exec_module(gate)

BOOT = 1_800_000_000_000  # ms
DEADLINE = BOOT + 600_000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def status(now: int, *, running: bool = True, healthy: bool = True,
           segments: dict[str, int] | None = None) -> dict:
    return {"running": running, "updated": iso(now - 1000),
            "catalog": {"healthy": healthy},
            "cameras": {cam: {"last_segment": {"start": iso(start)}}
                        for cam, start in (segments or {}).items()}}


def test_good_when_running_healthy_and_every_camera_recorded_after_the_boot() -> None:
    now = BOOT + 60_000
    verdict = gate.judge(status(now, segments={"cam1": BOOT + 5_000, "cam2": BOOT + 9_000}),
                         ["cam1", "cam2"], BOOT, now, DEADLINE)
    assert verdict == gate.Verdict("good")


def test_a_camera_without_a_new_segment_waits_then_fails_by_name() -> None:
    before_boot = {"cam1": BOOT + 5_000, "cam2": BOOT - 5_000}
    waiting = gate.judge(status(BOOT + 60_000, segments=before_boot), ["cam1", "cam2"],
                         BOOT, BOOT + 60_000, DEADLINE)
    assert waiting.state == "wait"
    failed = gate.judge(status(DEADLINE, segments=before_boot), ["cam1", "cam2"], BOOT,
                        DEADLINE, DEADLINE)
    assert failed == gate.Verdict("bad", "camera cam2 closed no segment since the boot")


def test_stale_status_unhealthy_catalog_and_no_status_are_named() -> None:
    stale = status(BOOT) | {"updated": iso(DEADLINE - 60_000)}
    assert "stale" in gate.judge(stale, [], BOOT, DEADLINE, DEADLINE).reason
    sick = status(DEADLINE, healthy=False)
    assert gate.judge(sick, [], BOOT, DEADLINE, DEADLINE).reason == "the catalog is not healthy"
    assert gate.judge(None, [], BOOT, DEADLINE, DEADLINE).reason == \
        "the appliance wrote no status"
    stopped = status(DEADLINE, running=False)
    assert gate.judge(stopped, [], BOOT, DEADLINE, DEADLINE).reason == \
        "the appliance is not running"


@given(now=st.integers(BOOT, DEADLINE + 10**6), running=st.booleans(),
       healthy=st.booleans(), age=st.integers(0, 10**6),
       start=st.one_of(st.none(), st.integers(BOOT - 10**6, DEADLINE + 10**6)))
def test_never_bad_before_the_deadline_never_waiting_after_it(
        now: int, running: bool, healthy: bool, age: int, start: int | None) -> None:
    doc = {"running": running, "updated": iso(now - age), "catalog": {"healthy": healthy},
           "cameras": {} if start is None else {"cam1": {"last_segment": {"start": iso(start)}}}}
    verdict = gate.judge(doc, ["cam1"], BOOT, now, DEADLINE)
    if verdict.state != "good":
        assert verdict.state == ("bad" if now >= DEADLINE else "wait")
        assert verdict.reason
    else:
        assert running and healthy and start is not None and start >= BOOT


def run_gate(tmp_path: Path, booted: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GATE), "--update-dir", str(tmp_path / "update"),
                           "--state-dir", str(tmp_path / "state"), "--booted", booted,
                           "--dry-run"], capture_output=True, text=True, timeout=60)


def test_old_slot_after_a_rollback_commits_itself_and_reports_the_reason(
        tmp_path: Path) -> None:
    update = tmp_path / "update"
    update.mkdir()
    (update / "pending.json").write_text(json.dumps({"slot": "B", "version": "0.3.0"}))
    (update / "result.json").write_text(json.dumps(  # as the new slot's gate wrote it
        {"state": "rolled_back", "version": "0.3.0", "slot": "B",
         "reason": "camera cam1 closed no segment since the boot"}))
    done = run_gate(tmp_path, booted="A")
    assert done.returncode == 0, done.stderr
    assert "would run rauc status mark-good booted" in done.stdout
    assert "would run rauc status mark-bad other" in done.stdout
    assert json.loads((update / "result.json").read_text()) == {
        "state": "rolled_back", "version": "0.3.0", "slot": "A",
        "reason": "camera cam1 closed no segment since the boot"}
    assert not (update / "pending.json").exists()


def test_old_slot_when_the_new_one_never_reached_user_space(tmp_path: Path) -> None:
    update = tmp_path / "update"
    update.mkdir()
    (update / "pending.json").write_text(json.dumps({"slot": "B", "version": "0.3.0"}))
    assert run_gate(tmp_path, booted="A").returncode == 0
    assert json.loads((update / "result.json").read_text())["reason"] == \
        "slot B did not reach user space"


@pytest.mark.parametrize("left", [
    json.dumps({"state": "rolled_back", "version": "0.2.0", "slot": "B",
                "reason": "old news"}),  # the update to 0.2.0's
    '{"state": "rolled_ba',  # torn by a power cut
    "[1, 2]", "\x00" * 64,
], ids=["earlier", "torn", "a list", "zeros"])
def test_no_verdict_but_this_update_s_is_reported(tmp_path: Path, left: str) -> None:
    update = tmp_path / "update"
    update.mkdir()
    (update / "pending.json").write_text(json.dumps({"slot": "B", "version": "0.3.0"}))
    (update / "result.json").write_text(left)
    assert run_gate(tmp_path, booted="A").returncode == 0
    assert json.loads((update / "result.json").read_text())["reason"] == \
        "slot B did not reach user space"


def test_new_slot_failing_is_marked_bad_with_the_reason(tmp_path: Path) -> None:
    update = tmp_path / "update"
    update.mkdir()
    (tmp_path / "state").mkdir()
    (update / "pending.json").write_text(json.dumps(
        {"slot": "B", "version": "0.3.0", "cameras": ["cam1"], "timeout_s": 0}))
    done = run_gate(tmp_path, booted="B")
    assert done.returncode == 1
    assert "would run rauc status mark-bad booted" in done.stdout
    result = json.loads((update / "result.json").read_text())
    assert result["state"] == "rolled_back"
    assert result["reason"] == ("the appliance wrote no status; "
                                "camera cam1 closed no segment since the boot")
    assert (update / "pending.json").exists()  # the old slot reports and removes it


def test_mqtt_is_waited_for_only_when_it_was_connected_before() -> None:
    now = BOOT + 60_000
    offline = status(now) | {"plugins": {"mqtt": {"connected": False}}}
    assert gate.judge(offline, [], BOOT, now, DEADLINE).state == "good"
    assert gate.judge(offline, [], BOOT, now, DEADLINE, mqtt=True) == \
        gate.Verdict("wait", "MQTT is not connected")
    assert gate.judge(status(DEADLINE), [], BOOT, DEADLINE, DEADLINE, mqtt=True) == \
        gate.Verdict("bad", "MQTT is not connected")
    online = status(now) | {"plugins": {"mqtt": {"connected": True}}}
    assert gate.judge(online, [], BOOT, now, DEADLINE, mqtt=True).state == "good"
