"""The S3 plugin in the real appliance, recording a simulated camera, against a real
SeaweedFS S3 gateway: copies verified and byte-identical, found out by `check` when
damaged, kept through a store outage and an appliance restart, and wrong credentials
alerted without the secret."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_s3.keys import object_key
from nvr_edge_s3.plugin import QUEUE_FILE, S3Plugin
from nvr_edge_s3.queue import UploadQueue
from nvr_edge_testing.appliance import Appliance, nvr_edge_cli, running_supervisor
from nvr_edge_testing.configs import write_toml
from nvr_edge_testing.hooks import HookRecorder
from nvr_edge_testing.s3 import ACCESS_KEY, SECRET_KEY, SeaweedS3
from nvr_edge_testing.waiting import wait_for

from nvr_edge import SegmentRecord
from nvr_edge.appliance.run import opened_catalog
from nvr_edge.plugins import load_config, make_plugin_manager

pytestmark = pytest.mark.slow
WRONG_SECRET = "Wrong-Secret-Zq81"


@pytest.fixture
def nvr_plugins() -> dict[str, Any]:
    return {"s3": S3Plugin()}  # a fresh object per test: no state between appliances


def s3_table(store: SeaweedS3, **kw: Any) -> dict[str, Any]:
    return {"endpoint": store.url, "bucket": "nvr", "prefix": "site", "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY, "retry_min_s": 0.2, "retry_max_s": 1.0,
            "rate_mb_s": 0.25, **kw}  # ~4 s per segment: a kill lands mid-upload


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any], nvr_s3: SeaweedS3,
               request: pytest.FixtureRequest) -> dict[str, Any]:
    nvr_config["s3"] = s3_table(nvr_s3)
    if request.node.name == "test_outside_the_window_nothing_is_uploaded_until_it_opens":
        nvr_config["s3"]["window"] = window_around_now(120, 180)
    return nvr_config


def keyed(segments: list[SegmentRecord]) -> dict[str, SegmentRecord]:
    return {object_key("site", "test-box", s): s for s in segments}


def assert_copies_identical(store: SeaweedS3, config: Any, copies: list[Any]) -> None:
    """Every recorded copy is in the bucket byte for byte, and the bucket holds nothing
    but one object per segment (listed first: a live appliance goes on uploading)."""
    objects = store.objects("nvr", "site/")
    with opened_catalog(config) as catalog:
        known = keyed(catalog.segments())
    assert set(objects) <= set(known), sorted(set(objects) - set(known))
    for copy in copies:
        assert objects[copy.object_key] == Path(copy.segment.path).read_bytes(), copy


def copied(config: Any) -> list[Any]:
    with opened_catalog(config) as catalog:
        return catalog.object_copies()


def test_segments_are_copied_verified_and_checked(nvr_appliance: Any, nvr_s3: SeaweedS3) -> None:
    wait_for(lambda: len(copied(nvr_appliance.config)) >= 2, 90, "two verified copies")
    copies = copied(nvr_appliance.config)
    assert_copies_identical(nvr_s3, nvr_appliance.config, copies)
    assert [c.object_key for c in copies] == [
        object_key("site", "test-box", c.segment) for c in copies]
    assert all(c.object_key.startswith("site/test-box/cam1/") for c in copies)
    result = nvr_appliance.cli("check", "--json")
    assert not [f for f in json.loads(result.stdout)["findings"]
                if f["kind"].startswith("object")], result.stdout

    # the store loses one copy and another is overwritten with other bytes of its size
    first, second = copies[0], copies[1]
    client = nvr_s3.client()
    client.remove_object("nvr", second.object_key)
    damaged = bytearray(Path(first.segment.path).read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    client.put_object("nvr", first.object_key, io.BytesIO(bytes(damaged)), len(damaged))
    result = nvr_appliance.cli("check", "--json")
    found = {(f["kind"], f["path"]) for f in json.loads(result.stdout)["findings"]}
    assert result.returncode == 1
    assert ("object-checksum", first.segment.path) in found
    assert ("object-missing", second.segment.path) in found


def test_a_store_outage_queues_and_drains_in_order(nvr_appliance: Any, nvr_s3: SeaweedS3,
                                                   nvr_hooks: HookRecorder) -> None:
    wait_for(lambda: copied(nvr_appliance.config), 90, "a first verified copy")
    closed = len(nvr_hooks.getcalls("nvr_segment_closed"))
    nvr_hooks.wait_for("nvr_segment_closed", closed + 1, 30)
    time.sleep(1.0)  # the upload of that segment is under way (~4 s at the cap)
    nvr_s3.kill()
    nvr_hooks.wait_for("nvr_segment_closed", closed + 3, 60)  # recording goes on
    alerts = [c.alert for c in nvr_hooks.getcalls("nvr_alert")]
    assert any(a.code == "s3_unreachable" for a in alerts), alerts
    nvr_s3.start()
    recorded = nvr_appliance.segments("cam1")
    wait_for(lambda: {c.segment.start_ms for c in copied(nvr_appliance.config)}
             >= {s.start_ms for s in recorded}, 120, "every segment copied after the outage")
    copies = copied(nvr_appliance.config)
    assert [c.segment.start_ms for c in sorted(copies, key=lambda c: c.archived_ms)] == sorted(
        c.segment.start_ms for c in copies)  # drained oldest first
    assert_copies_identical(nvr_s3, nvr_appliance.config, copies)


def test_wrong_credentials_alert_without_the_secret(tmp_path: Path, nvr_config: dict[str, Any],
                                                    nvr_s3: SeaweedS3, nvr_plugins: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    nvr_config["s3"] = s3_table(nvr_s3, secret_key=WRONG_SECRET)
    hooks = HookRecorder()
    caplog.set_level(logging.DEBUG)
    with running_supervisor(write_toml(tmp_path / "nvr-edge.toml", nvr_config), nvr_plugins,
                            installed=True, hooks=hooks) as supervisor:
        alert = wait_for(lambda: [c.alert for c in hooks.getcalls("nvr_alert")
                                  if c.alert.code == "s3_credentials"], 60,
                         "the credentials alert")[0]
        assert "refused the credentials (SignatureDoesNotMatch)" in alert.message
        assert "access_key and secret_key" in alert.message
        hooks.wait_for("nvr_segment_closed", 2, 60)  # recording goes on
        assert supervisor.config.storage.state_dir.joinpath(QUEUE_FILE).exists()
    for text in (alert.message, caplog.text):
        assert WRONG_SECRET not in text and SECRET_KEY not in text
    assert nvr_s3.objects("nvr") == {}


def test_the_queue_survives_an_appliance_restart(tmp_path: Path, nvr_config: dict[str, Any],
                                                 nvr_s3: SeaweedS3) -> None:
    path = write_toml(tmp_path / "nvr-edge.toml", nvr_config)
    nvr_s3.kill()  # every segment of the first run waits in the queue
    hooks = HookRecorder()
    with running_supervisor(path, {"s3": S3Plugin()}, installed=True, hooks=hooks) as first:
        hooks.wait_for("nvr_segment_closed", 2, 60)
        state = first.config.storage.state_dir
    waiting = pending(state)
    assert len(waiting) >= 2
    nvr_s3.start()
    with running_supervisor(path, {"s3": S3Plugin()}, installed=True) as second:
        wait_for(lambda: {c.object_key for c in copied(second.config)}
                 >= {u.key for u in waiting}, 120, "the first run's queue drained")
    assert_copies_identical(nvr_s3, second.config, copied(second.config))


def test_a_power_cut_mid_upload_counts_nothing_half_done(tmp_path: Path,
                                                         nvr_config: dict[str, Any],
                                                         nvr_s3: SeaweedS3) -> None:
    """`nvr-edge run` SIGKILLed with its process group while an upload is under way: no
    copy is recorded that the bucket does not hold whole, and the next start uploads
    every queued segment exactly once."""
    nvr_config["s3"] = s3_table(nvr_s3, rate_mb_s=0.05)  # ~20 s per segment: always mid-upload
    path = write_toml(tmp_path / "nvr-edge.toml", nvr_config)
    state = tmp_path / "state"
    with Appliance(path, tmp_path / "run1.log", plugins=True) as run:
        wait_for(lambda: len(pending(state)) >= 2, 90, "two queued segments")
        # the operator's one-line view of the queue
        wait_for(lambda: "s3            state uploading, queued " in nvr_edge_cli(
            "status", "--config", path).stdout, 10, "the s3 line in `nvr-edge status`")
        run.kill_all()
    waiting = pending(state)
    pm = make_plugin_manager(load_entry_points=False)  # the suite turns autoload off
    pm.register(S3Plugin(), name="s3")
    config = load_config(path, pm)
    for copy in copied(config):  # whatever was recorded as copied is whole in the bucket
        assert nvr_s3.objects("nvr", copy.object_key)[copy.object_key] == Path(
            copy.segment.path).read_bytes()
    nvr_config["s3"]["rate_mb_s"] = 20.0
    write_toml(path, nvr_config)
    with Appliance(path, tmp_path / "run2.log", plugins=True):
        wait_for(lambda: {c.object_key for c in copied(config)} >= {u.key for u in waiting},
                 120, "the queue of the killed run drained")
    assert_copies_identical(nvr_s3, config, copied(config))


def pending(state: Path) -> list[Any]:
    if not (state / QUEUE_FILE).exists():
        return []
    queue = UploadQueue(state / QUEUE_FILE)
    try:
        return queue.pending()
    finally:
        queue.close()


def test_revoked_credentials_alert_and_uploads_resume_when_restored(
        nvr_appliance: Any, nvr_s3: SeaweedS3, nvr_hooks: HookRecorder) -> None:
    wait_for(lambda: copied(nvr_appliance.config), 90, "a first verified copy")
    nvr_s3.stop()
    nvr_s3.users = {"other-access": "other-Secret-41"}  # the box's key is revoked
    nvr_s3.write_config()
    nvr_s3.start()
    alert = wait_for(lambda: [c.alert for c in nvr_hooks.getcalls("nvr_alert")
                              if c.alert.code == "s3_credentials"], 90,
                     "the credentials alert")[0]
    assert "InvalidAccessKeyId" in alert.message and SECRET_KEY not in alert.message
    closed = len(nvr_hooks.getcalls("nvr_segment_closed"))
    nvr_hooks.wait_for("nvr_segment_closed", closed + 1, 30)  # recording goes on
    nvr_s3.stop()
    nvr_s3.users = {ACCESS_KEY: SECRET_KEY}
    nvr_s3.write_config()
    nvr_s3.start()
    recorded = nvr_appliance.segments("cam1")
    wait_for(lambda: {c.segment.start_ms for c in copied(nvr_appliance.config)}
             >= {s.start_ms for s in recorded}, 120, "every segment copied once restored")
    assert_copies_identical(nvr_s3, nvr_appliance.config, copied(nvr_appliance.config))


def test_cleanup_deletes_only_segments_verified_in_the_bucket(
        nvr_appliance: Any, nvr_s3: SeaweedS3, nvr_hooks: HookRecorder) -> None:
    """delete_policy "archived" with the S3 tier: "archived" means verified in the bucket.
    The store goes away, then both tiers run out of room: cleanup removes the file of every
    verified segment and not one of those that wait for their upload."""
    wait_for(lambda: len(copied(nvr_appliance.config)) >= 2, 90, "two verified copies")
    nvr_s3.kill()
    closed = len(nvr_hooks.getcalls("nvr_segment_closed"))
    nvr_hooks.wait_for("nvr_segment_closed", closed + 2, 60)
    status = wait_for(lambda: nvr_appliance.status()["plugins"].get("s3", {}).get(
        "last_error") and nvr_appliance.status()["plugins"]["s3"], 30, "the outage in status")
    assert status["state"] == "retrying" and status["queued"] >= 1, status
    verified = {c.segment.path for c in copied(nvr_appliance.config)}
    waiting = {s.path for s in nvr_appliance.segments()} - verified
    assert len(waiting) >= 2
    nvr_appliance.handle.patch_config({"storage": {"cache_min_free_gb": 100_000.0,
                                                   "archive_min_free_gb": 100_000.0}})
    alert = wait_for(lambda: [c.alert for c in nvr_hooks.getcalls("nvr_alert")
                              if c.alert.code == "disk_space_critical"], 60,
                     "cleanup to give up")[0]
    assert "copies in s3://nvr/site" in alert.message
    rows = {s.path: s.status for s in nvr_appliance.segments()}
    # the verified left the box, their rows stay for playback from the bucket
    assert {rows.get(p) for p in verified} == {"remote"}, rows
    assert not any(Path(p).exists() for p in verified)
    assert {rows.get(p) for p in waiting} == {"ok"} and all(Path(p).exists() for p in waiting)


def test_outside_the_window_nothing_is_uploaded_until_it_opens(
        nvr_appliance: Any, nvr_s3: SeaweedS3, nvr_hooks: HookRecorder) -> None:
    """nvr_config (below) sets a window that opens in two hours."""
    nvr_hooks.wait_for("nvr_segment_closed", 2, 60)
    status = wait_for(lambda: nvr_appliance.status()["plugins"]["s3"], 10, "the s3 status")
    assert status["state"].startswith("waiting for the window"), status
    assert status["queued"] >= 2 and nvr_s3.objects("nvr") == {}
    nvr_appliance.handle.patch_config({"s3": {"window": window_around_now(-60, 60)}})
    wait_for(lambda: len(copied(nvr_appliance.config)) >= 2, 90, "uploads once it is open")
    assert_copies_identical(nvr_s3, nvr_appliance.config, copied(nvr_appliance.config))


def window_around_now(from_min: int, to_min: int) -> str:
    now = datetime.now()
    minute = now.hour * 60 + now.minute

    def hhmm(offset: int) -> str:
        at = (minute + offset) % (24 * 60)
        return f"{at // 60:02d}:{at % 60:02d}"

    return f"{hhmm(from_min)}-{hhmm(to_min)}"
