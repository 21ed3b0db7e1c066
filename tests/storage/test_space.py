"""Retention and cleanup policy on real files and a real catalog."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nvr_edge.catalog import CatalogError
from nvr_edge.catalog.spool import Spool, SpooledCatalog
from nvr_edge.config import Config, parse_config
from nvr_edge.models import Alert, SegmentRecord, Tier, iso_utc
from nvr_edge.plugins import make_plugin_manager
from nvr_edge.storage.layout import oldest_first
from nvr_edge.storage.recovery import reconcile
from nvr_edge.storage.space import SpaceManager


def config_for(tmp_path: Path, **storage) -> Config:
    return parse_config({
        "device": {"id": "box"},
        "storage": {"cache_dir": str(tmp_path / "cache"), "archive_dir": str(tmp_path / "arc"),
                    "state_dir": str(tmp_path / "state"), **storage},
        "catalog": {"url": f"sqlite:///{tmp_path / 'c.db'}"},
        "cameras": [{"id": "old", "main": "rtsp://h/x", "retention_days": 2},
                    {"id": "keep", "main": "rtsp://h/y"}]})


def add_file(config: Config, catalog: SpooledCatalog, camera: str, tier: str,
             age_days: float) -> SegmentRecord:
    start = int((time.time() - age_days * 86400) * 1000)
    root = config.storage.archive_dir if tier == Tier.ARCHIVE else config.storage.cache_dir
    stamp = iso_utc(start)
    path = root / camera / stamp[:10] / f"{stamp[11:19].replace(':', '')}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 1000)
    record = SegmentRecord(camera=camera, stream="main", start_ms=start, end_ms=start + 10_000,
                           bytes=1000, path=str(path), tier=tier, video_codec="h264", width=1,
                           height=1, has_audio=False)
    catalog.add_segment(record)
    return record


@pytest.fixture
def catalog(tmp_path: Path) -> SpooledCatalog:
    backend = make_plugin_manager(load_entry_points=False).hook.nvr_catalog_open(
        url=f"sqlite:///{tmp_path / 'c.db'}", create=True, device="box")
    return SpooledCatalog(backend, Spool(tmp_path / "spool.jsonl"))


def test_retention_deletes_only_expired_segments_of_that_camera(tmp_path: Path,
                                                                catalog) -> None:
    config = config_for(tmp_path)
    expired = [add_file(config, catalog, "old", Tier.ARCHIVE, d) for d in (5, 3)]
    kept = [add_file(config, catalog, "old", Tier.CACHE, 1),
            add_file(config, catalog, "keep", Tier.ARCHIVE, 30)]
    deleted = SpaceManager(config, catalog, lambda a: None).apply_retention(config.cameras)
    assert deleted == 2
    assert all(not Path(r.path).exists() for r in expired)
    assert sorted(r.path for r in catalog.segments()) == sorted(r.path for r in kept)


@pytest.mark.parametrize(("policy", "deletable"), [("archived", {Tier.ARCHIVE}),
                                                   ("any", {Tier.ARCHIVE, Tier.CACHE})])
def test_cleanup_candidates_follow_the_policy_oldest_first(tmp_path: Path, catalog,
                                                           policy: str,
                                                           deletable: set[str]) -> None:
    config = config_for(tmp_path, delete_policy=policy)
    rows = [add_file(config, catalog, "keep", tier, age)
            for tier, age in ((Tier.CACHE, 9), (Tier.ARCHIVE, 8), (Tier.ARCHIVE, 7),
                              (Tier.CACHE, 6))]
    manager = SpaceManager(config, catalog, lambda a: None)
    # cache and archive share this test's file system: both tiers are candidates
    got = list(manager._candidates(Tier.CACHE))
    expected = [r.path for r in rows if r.tier == Tier.ARCHIVE] + \
        ([r.path for r in rows if r.tier == Tier.CACHE] if Tier.CACHE in deletable else [])
    assert got == expected


def test_floor_that_cannot_be_restored_raises_one_critical_alert(tmp_path: Path,
                                                                 catalog) -> None:
    config = config_for(tmp_path, cache_min_free_percent=90.0, archive_min_free_percent=0.0)
    alerts: list[Alert] = []
    add_file(config, catalog, "keep", Tier.CACHE, 1)
    config.storage.archive_dir.mkdir(parents=True, exist_ok=True)
    manager = SpaceManager(config, catalog, alerts.append)
    manager.enforce_floors()
    manager.enforce_floors()
    assert [a.code for a in alerts] == ["disk_space_critical"]
    assert len(catalog.segments()) == 1  # policy "archived": the only copy is never deleted


def test_a_deletion_cut_short_is_finished_by_recovery(tmp_path: Path, catalog) -> None:
    config = config_for(tmp_path)
    row = add_file(config, catalog, "keep", Tier.ARCHIVE, 1)
    catalog.set_status_by_path(row.path, "deleting")  # the crash came right after this
    reconcile(config, catalog, repair=True)
    assert catalog.segments() == [] and not Path(row.path).exists()
    assert oldest_first(config.storage.archive_dir) == []


def test_with_an_object_store_archived_means_verified_there_on_either_tier(
        tmp_path: Path, catalog) -> None:
    config = config_for(tmp_path, delete_policy="archived")
    rows = [add_file(config, catalog, "keep", tier, age)
            for tier, age in ((Tier.CACHE, 9), (Tier.ARCHIVE, 8), (Tier.ARCHIVE, 7),
                              (Tier.CACHE, 6), (Tier.CACHE, 5))]
    for row in (rows[0], rows[2], rows[3]):
        catalog.set_object_copy(row.path, f"nvr/box/{Path(row.path).name}", 1)
    manager = SpaceManager(config, catalog, lambda a: None)
    manager.object_store = "s3://nvr/site"
    # the archive tier first (as always), then the cache: only verified copies, oldest first
    assert list(manager._candidates(Tier.CACHE)) == [rows[2].path, rows[0].path, rows[3].path]
    assert "verified in s3://nvr/site" in manager._policy_word(Tier.CACHE)


def test_with_an_object_store_nothing_goes_while_the_catalog_is_down(
        tmp_path: Path, catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_for(tmp_path, delete_policy="archived")
    row = add_file(config, catalog, "keep", Tier.ARCHIVE, 3)
    catalog.set_object_copy(row.path, "nvr/box/a.mp4", 1)
    add_file(config, catalog, "keep", Tier.ARCHIVE, 2)
    manager = SpaceManager(config, catalog, lambda a: None)
    manager.object_store = "s3://nvr"

    def down(*_args: object) -> None:
        raise CatalogError("the catalog server is gone")

    monkeypatch.setattr(catalog, "segments", down)
    assert list(manager._candidates(Tier.ARCHIVE)) == []
    manager.object_store = None  # without one the files say what is oldest, as before
    assert len(list(manager._candidates(Tier.ARCHIVE))) == 2


def test_verified_segments_leave_the_box_but_keep_their_rows(tmp_path: Path, catalog) -> None:
    """Both tiers below an unreachable floor: every verified segment's file goes, its row
    stays `remote` (playback reads the copy); the unverified ones are untouched."""
    config = config_for(tmp_path, delete_policy="archived", cache_min_free_gb=100_000.0,
                        archive_min_free_gb=100_000.0)
    rows = [add_file(config, catalog, "keep", tier, age)
            for tier, age in ((Tier.CACHE, 9), (Tier.ARCHIVE, 8), (Tier.CACHE, 7))]
    for row in rows[:2]:
        catalog.set_object_copy(row.path, f"k/{Path(row.path).name}", 1)
    alerts: list[Alert] = []
    manager = SpaceManager(config, catalog, alerts.append)
    manager.object_store = "s3://nvr"
    manager.enforce_floors()
    status = {r.path: r.status for r in catalog.segments()}
    assert status == {rows[0].path: "remote", rows[1].path: "remote", rows[2].path: "ok"}
    assert [Path(r.path).exists() for r in rows] == [False, False, True]
    assert "disk_space_critical" in [a.code for a in alerts]
    # check and recovery see no difference in a remote row without its file
    assert reconcile(config, catalog, repair=False).findings == []


def test_an_offload_cut_short_is_finished_by_recovery(tmp_path: Path, catalog) -> None:
    config = config_for(tmp_path)
    row = add_file(config, catalog, "keep", Tier.ARCHIVE, 1)
    catalog.set_object_copy(row.path, "k/a.mp4", 1)
    catalog.set_status_by_path(row.path, "remote")  # the crash came before the unlink
    report = reconcile(config, catalog, repair=True)
    assert [f.kind for f in report.findings] == ["half-offloaded"]
    assert not Path(row.path).exists()
    assert [(r.path, r.status) for r in catalog.segments()] == [(row.path, "remote")]
