"""Faults against the real appliance, real PostgreSQL, real camera server and real (small)
file systems. Each test prints how long the fault took to heal (run with -s to see)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nvr_edge_testing.appliance import Appliance
from nvr_edge_testing.configs import write_config
from nvr_edge_testing.postgres import PostgresServer
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.waiting import wait_for

from ..helpers import fill, mount_tmpfs, rows, segment_files
from ..media import decode_errors

pytestmark = pytest.mark.slow


def heal(name: str, seconds: float) -> None:
    print(f"\nHEAL {name}: {seconds:.1f} s")


def status(config: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "nvr_edge", "status", "--config", str(config),
                          "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    mounted: list[Path] = []
    yield mounted
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_postgres_down_for_a_minute_loses_no_row(tmp_path: Path,
                                                 cameras: SimCameraServer) -> None:
    pg = PostgresServer().init()
    pg.start()
    try:
        url = pg.new_database("faults")
        config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)}, catalog_url=url)
        with Appliance(config, tmp_path / "appliance.log") as app:
            wait_for(lambda: rows(config), 40, "a first row")
            pg.stop()
            time.sleep(60)
            assert "spooling writes" in app.log
            assert (tmp_path / "state" / "catalog-spool.jsonl").exists()
            pg.start()
            back = time.monotonic()
            wait_for(lambda: not (tmp_path / "state" / "catalog-spool.jsonl").exists(), 60,
                     "the spool replayed")
            heal("postgres back -> spool replayed", time.monotonic() - back)
            time.sleep(3)
            assert app.stop() == 0
        indexed = rows(config)
        on_disk = segment_files(tmp_path)
        assert sorted(r.path for r in indexed) == [str(p) for p in on_disk]
        assert len(on_disk) >= 7  # ~6 segments were closed while PostgreSQL was down
        for before, after in itertools.pairwise(indexed):
            assert before.end_ms == after.start_ms  # nothing missing, nothing doubled
    finally:
        pg.destroy()


def test_postgres_down_at_boot_never_repairs_a_segment_being_written(
        tmp_path: Path, cameras: SimCameraServer) -> None:
    """With the catalog down at start-up, recovery retries while workers write: it must
    leave their `.part` files alone (it once unlinked a live one every 0.5 s)."""
    pg = PostgresServer().init()
    pg.start()
    try:
        url = pg.new_database("boot")
        pg.stop()
        config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)}, catalog_url=url)
        with Appliance(config, tmp_path / "appliance.log") as app:
            wait_for(lambda: app.log.count("segment closed") >= 2, 60, "two segments spooled")
            pg.start()
            wait_for(lambda: not (tmp_path / "state" / "catalog-spool.jsonl").exists(), 60,
                     "the spool replayed")
            time.sleep(2)
            assert app.stop() == 0
        assert "worker crashed" not in app.log
        indexed = rows(config)
        assert sorted(r.path for r in indexed) == [str(p) for p in segment_files(tmp_path)]
        for before, after in itertools.pairwise(indexed):
            assert before.end_ms == after.start_ms  # nothing cut out, nothing doubled
        for row in indexed:
            assert row.bytes == Path(row.path).stat().st_size
            assert decode_errors(row.path) == "", row.path
        assert "being written by a live worker" in app.log  # recovery did run meanwhile
    finally:
        pg.destroy()


def test_archive_read_only_then_back(tmp_path: Path, cameras: SimCameraServer,
                                     mounts: list[Path]) -> None:
    archive = tmp_path / "archive"
    mount_tmpfs(archive, "256m")
    mounts.append(archive)
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)},
                          tables={"storage": {"archive_retry_s": 2.0, "move_grace_s": 1.0}})
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: [r for r in rows(config) if r.tier == "archive"], 40,
                 "a segment moved to the archive")
        subprocess.run(["mount", "-o", "remount,ro", str(archive)], check=True)
        wait_for(lambda: "alert archive_unavailable" in app.log, 40, "degraded mode")
        wait_for(lambda: status(config)["tiers"]["archive"]["state"] == "degraded", 10,
                 "status to show the archive degraded")
        cached_before = len([r for r in rows(config) if r.tier == "cache"])
        time.sleep(25)
        cached = [r for r in rows(config) if r.tier == "cache"]
        assert len(cached) >= cached_before + 2, "recording went on into the cache"
        subprocess.run(["mount", "-o", "remount,rw", str(archive)], check=True)
        back = time.monotonic()
        wait_for(lambda: "alert archive_available" in app.log, 30, "archive back")
        wait_for(lambda: len([r for r in rows(config) if r.tier == "cache"]) == 0, 60,
                 "the backlog drained")
        heal("archive writable -> backlog drained", time.monotonic() - back)
        drained_ms = time.time() * 1000
        report = status(config)
        assert report["running"] and report["cameras"]["cam1"]["state"] == "online"
        assert report["tiers"]["cache"]["backlog"]["segments"] == 0
        assert app.stop() == 0
    for before, after in zip(rows(config), rows(config)[1:], strict=False):
        assert before.end_ms == after.start_ms
    segs = rows(config)
    assert all(Path(seg.path).exists() for seg in segs)
    # everything closed before the backlog drained was moved; later ones (the one the
    # shutdown closed, maybe one more) wait for the mover's next run
    assert {seg.tier for seg in segs if seg.end_ms <= drained_ms} == {"archive"}


def test_full_archive_is_degraded_and_recording_goes_on(tmp_path: Path,
                                                        cameras: SimCameraServer,
                                                        mounts: list[Path]) -> None:
    """An HDD below its floor takes no moves; the SSD keeps recording; both alerts fire."""
    archive = tmp_path / "archive"
    mount_tmpfs(archive, "8m")
    mounts.append(archive)
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)},
                          tables={"storage": {"archive_min_free_gb": 1.0}})
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: "alert archive_unavailable" in app.log, 40, "degraded mode")
        assert re.search(r"archive tier degraded: .* is full", app.log)
        assert "alert disk_space_critical" in app.log  # nothing on it that may go
        wait_for(lambda: len(rows(config)) >= 2, 40, "recording on the cache")
        assert app.stop() == 0
    assert {r.tier for r in rows(config)} == {"cache"}
    assert list(archive.rglob("*.mp4")) == []


def test_nearly_full_disk_deletes_oldest_archived_and_keeps_recording(
        tmp_path: Path, cameras: SimCameraServer, mounts: list[Path]) -> None:
    disk = tmp_path / "disk"  # a one-disk box: cache and archive on one small file system
    mount_tmpfs(disk, "12m")
    mounts.append(disk)
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1),
                                                   "cam2": cameras.url(2)},
                          tables={"storage": {"cache_dir": f"{disk}/cache",
                                              "archive_dir": f"{disk}/archive",
                                              "cache_min_free_percent": 30.0,
                                              "archive_min_free_percent": 30.0,
                                              "move_grace_s": 0.0}})
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: "alert disk_space_cleanup" in app.log, 120, "an emergency cleanup")
        first = time.time()
        wait_for(lambda: [r for r in rows(config) if r.start_ms > first * 1000 + 1000], 40,
                 "recording after the cleanup")
        assert app.stop() == 0
    assert "disk_space_critical" not in app.log
    kept = rows(config)
    assert min(r.start_ms for r in kept) > 0
    assert sorted(r.path for r in kept) == [str(p) for p in sorted(disk.rglob("*.mp4"))]
    # what was deleted was the oldest: every camera's kept segments are one unbroken run
    for cam in ("cam1", "cam2"):
        mine = [r for r in kept if r.camera == cam]
        for before, after in itertools.pairwise(mine):
            assert before.end_ms == after.start_ms
    free = os.statvfs(disk)
    assert free.f_bavail / free.f_blocks > 0.2


def check_is_clean(config: Path) -> None:
    check = subprocess.run([sys.executable, "-m", "nvr_edge", "check", "--config", str(config)],
                           capture_output=True, text=True)
    assert check.returncode == 0 and "0 difference(s)" in check.stdout, check.stdout


def test_archive_short_of_room_is_cleaned_and_moves_go_on(tmp_path: Path,
                                                          cameras: SimCameraServer,
                                                          mounts: list[Path]) -> None:
    """The archive fills up (above its floor, but not by a segment): cleanup deletes the
    oldest archived segments and the mover goes on; the archive is never called full."""
    archive = tmp_path / "archive"
    mount_tmpfs(archive, "6m")
    mounts.append(archive)
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)},
                          tables={"storage": {"archive_min_free_percent": 25.0,
                                              "move_grace_s": 1.0}})
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: "alert disk_space_cleanup" in app.log, 150, "the archive cleaned")
        cleaned_ms = time.time() * 1000
        wait_for(lambda: [r for r in rows(config)
                          if r.tier == "archive" and r.start_ms > cleaned_ms], 60,
                 "a move of a segment recorded after the cleanup")
        assert app.stop() == 0
    assert "archive_unavailable" not in app.log and "disk_space_critical" not in app.log
    kept = rows(config)
    assert sorted(r.path for r in kept) == [str(p) for p in segment_files(tmp_path)]
    for before, after in itertools.pairwise(kept):
        assert before.end_ms == after.start_ms  # only the oldest went, nothing in between
    assert len([r for r in kept if r.tier == "cache"]) <= 2  # no backlog on the cache
    for row in kept:
        assert decode_errors(row.path) == "", row.path
    check_is_clean(config)


def test_full_cache_pauses_recording_until_space_returns(tmp_path: Path,
                                                        cameras: SimCameraServer,
                                                        mounts: list[Path]) -> None:
    """The cache's reservation fails (ENOSPC): an alert, the camera waits (no crash loop,
    no storm guard) and records again within seconds of space coming back."""
    cache = tmp_path / "cache"
    mount_tmpfs(cache, "16m")
    mounts.append(cache)
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)},
                          tables={"storage": {"move_grace_s": 0.0}})
    ballast = cache / "ballast"
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: [r for r in rows(config) if r.tier == "archive"], 60,
                 "a segment moved to the archive")
        before = rows(config)
        fill(ballast)
        wait_for(lambda: "alert recording_paused_no_space" in app.log, 60, "recording paused")
        time.sleep(5)
        report = status(config)["cameras"]["cam1"]
        assert report["state"] == "restarting" and "no space" in report["reason"]
        assert report["space_pauses"] == 1, "it waits for space, it does not crash-loop"
        ballast.unlink()
        back = time.monotonic()
        wait_for(lambda: "alert recording_resumed" in app.log, 5, "recording resumed")
        wait_for(lambda: status(config)["cameras"]["cam1"]["state"] == "online", 20,
                 "the camera online again")
        heal("space back -> camera online", time.monotonic() - back)
        resumed_ms = time.time() * 1000
        wait_for(lambda: [r for r in rows(config) if r.start_ms > resumed_ms], 40,
                 "a segment recorded after space returned")
        assert app.stop() == 0
    assert "camera_unstable" not in app.log and "worker crashed" not in app.log
    now = {r.start_ms: r for r in rows(config)}
    for row in before:  # what was recorded before the fault: indexed and intact
        assert row.start_ms in now and decode_errors(now[row.start_ms].path) == ""
    check_is_clean(config)


def test_full_state_folder_spools_into_the_reserve_and_loses_no_row(
        tmp_path: Path, cameras: SimCameraServer, mounts: list[Path]) -> None:
    """The state folder (SQLite catalog and spool) fills up: the catalog refuses a write,
    the spool gives its reserve back and takes it, with an alert (the freed room lets
    SQLite take the next rows itself); once there is room the reserve is set aside again.
    Every segment has its row."""
    state = tmp_path / "state"
    mount_tmpfs(state, "16m")
    mounts.append(state)
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)},
                          catalog_url=f"sqlite:///{state / 'catalog.db'}")
    ballast = state / "ballast"
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: rows(config) and (state / "spool-reserve").exists(), 40,
                 "a first row and the spool's reserve")
        fill(ballast)
        wait_for(lambda: "alert state_folder_full" in app.log, 40, "the reserve in use")
        time.sleep(12)  # another segment closes into the spool
        ballast.unlink()
        back = time.monotonic()
        wait_for(lambda: not (state / "catalog-spool.jsonl").exists(), 30, "the spool replayed")
        heal("state folder has room -> spool replayed", time.monotonic() - back)
        wait_for(lambda: (state / "spool-reserve").exists(), 10, "the reserve back")
        assert app.stop() == 0
    assert "catalog_spool_full" not in app.log
    assert sorted(r.path for r in rows(config)) == [str(p) for p in segment_files(tmp_path)]
    check_is_clean(config)


def test_restart_storm_disables_only_that_camera(tmp_path: Path,
                                                 cameras: SimCameraServer) -> None:
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1),
                                                   "cam2": cameras.url(2)},
                          tables={"health": {"restart_delay_s": 0.5, "storm_restarts": 3,
                                             "storm_window_s": 60, "storm_disable_s": 600}})
    with Appliance(config, tmp_path / "appliance.log") as app:
        killed: set[int] = set()
        stop = threading.Event()

        def crash_cam2_workers() -> None:  # a camera whose worker dies every time
            while not stop.is_set():
                for pid in app.worker_pids("cam2"):
                    if pid not in killed:
                        time.sleep(0.3)
                        killed.add(pid)
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, 9)
                time.sleep(0.1)

        killer = threading.Thread(target=crash_cam2_workers, daemon=True)
        killer.start()
        try:
            wait_for(lambda: "alert camera_unstable" in app.log, 60, "the storm guard")
        finally:
            stop.set()
        assert re.search(r"cam2: disabled \(restarted more than 3 times", app.log)
        assert len(killed) == 4
        calm = time.time()
        wait_for(lambda: [r for r in rows(config, "cam1") if r.start_ms > calm * 1000], 40,
                 "cam1 still recording")
        assert status(config)["cameras"]["cam2"]["state"] == "disabled"
        assert app.stop() == 0


def test_worker_over_its_memory_limit_is_restarted_gracefully(
        tmp_path: Path, cameras: SimCameraServer) -> None:
    """A limit below what a worker needs: each check restarts it, with SIGTERM, so every
    segment is closed properly (no .part to repair) and the CPU warning fires too."""
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)})
    config.write_text(config.read_text() + "[health]\ncheck_interval_s = 1.0\n"
                      "rss_limit_mb = 16\ncpu_warn_percent = 1.0\nrestart_delay_s = 0.5\n"
                      "storm_restarts = 100\n")
    with Appliance(config, tmp_path / "appliance.log") as app:
        # the alert is logged before the restart it announces: wait for both lines
        wait_for(lambda: app.log.count("alert camera_memory_high") >= 2
                 and app.log.count("cam1: restarting (memory above the limit)") >= 2, 60,
                 "two memory restarts")
        assert "alert camera_cpu_high" in app.log
        assert app.stop() == 0
    assert "left by the worker repaired" not in app.log  # graceful: nothing to repair
    assert files_of(tmp_path, "*.part") == []


def files_of(tmp_path: Path, pattern: str) -> list[Path]:
    return sorted(tmp_path.rglob(pattern))


def test_camera_killed_and_restarted_twenty_times(tmp_path: Path,
                                                  cameras: SimCameraServer) -> None:
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)})
    heals = []
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: "cam1: online" in app.log, 30, "online")
        for cycle in range(20):
            online = app.log.count("cam1: online")
            offline = app.log.count("cam1: offline")
            cameras.kill()
            wait_for(lambda n=offline: app.log.count("cam1: offline") > n, 30,
                     f"outage {cycle} noticed")
            cameras.start()
            back = time.monotonic()
            wait_for(lambda n=online: app.log.count("cam1: online") > n, 30,
                     f"recording again after outage {cycle}", interval=0.05)
            heals.append(time.monotonic() - back)
            time.sleep(1.5)
        assert app.stop() == 0
    heal(f"camera back -> online, worst of 20 (median {sorted(heals)[10]:.1f} s)", max(heals))
    assert max(heals) < 5.0
    segs = rows(config)
    assert len(segs) >= 20
    for seg in segs:
        assert decode_errors(seg.path) == "", seg.path


def test_read_only_state_folder_at_start_records_anyway(tmp_path: Path,
                                                        cameras: SimCameraServer,
                                                        mounts: list[Path]) -> None:
    """Lock, spool and status move to the runtime folder with an alert; the next start with
    a writable state folder indexes everything recorded meanwhile."""
    state = tmp_path / "state"
    mount_tmpfs(state, "16m")
    mounts.append(state)
    subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)})
    app = Appliance(config, tmp_path / "appliance.log")
    app.env["RUNTIME_DIRECTORY"] = str(tmp_path / "run")
    with app:
        wait_for(lambda: "alert state_folder_unwritable" in app.log, 30, "the alert")
        assert "Read-only file system" in app.log
        wait_for(lambda: len(list((tmp_path / "cache").rglob("*.mp4"))) >= 2, 40,
                 "recording on")
        assert (tmp_path / "run" / "state" / "status.json").exists()
        assert app.stop() == 0
    recorded = {p.name for p in segment_files(tmp_path)}
    assert len(recorded) >= 2 and list(state.iterdir()) == []
    subprocess.run(["mount", "-o", "remount,rw", str(state)], check=True)
    with Appliance(config, tmp_path / "again.log") as again:
        wait_for(lambda: "cam1: online" in again.log, 30, "online")
        assert "state_folder_unwritable" not in again.log
        assert again.stop() == 0
    assert recorded <= {Path(r.path).name for r in rows(config)}
    check = subprocess.run([sys.executable, "-m", "nvr_edge", "check", "--config", str(config)],
                           capture_output=True, text=True)
    assert check.returncode == 0 and "0 difference(s)" in check.stdout, check.stdout
