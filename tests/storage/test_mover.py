"""The tier mover: a process killed between each step of a move leaves exactly one valid,
indexed copy once recovery has run."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nvr_edge.catalog import Catalog
from nvr_edge.catalog.spool import Spool, SpooledCatalog
from nvr_edge.config import Config, parse_config
from nvr_edge.models import SegmentRecord, Tier
from nvr_edge.plugins import make_plugin_manager
from nvr_edge.storage.mover import MoverEvent, RateLimiter, TierMover, file_crc32
from nvr_edge.storage.probe import probe_segment
from nvr_edge.storage.recovery import reconcile
from nvr_edge.storage.space import SpaceManager
from nvr_edge.storage.space_policy import SpacePolicy

from ..helpers import tmpfs
from ..media import fragmented_mp4

NAME = Path("cam1/2026-01-01/120000.mp4")


def make_config(tmp_path: Path, catalog_url: str, **storage) -> Config:
    return parse_config({
        "device": {"id": "box"},
        "storage": {"cache_dir": str(tmp_path / "cache"),
                    "archive_dir": str(tmp_path / "archive"),
                    "state_dir": str(tmp_path / "state"), "move_grace_s": 0.0,
                    "archive_min_free_percent": 0.0, **storage},
        "catalog": {"url": catalog_url}})


def open_catalog(config: Config) -> SpooledCatalog:
    backend: Catalog = make_plugin_manager(load_entry_points=False).hook.nvr_catalog_open(
        url=config.catalog_url, create=True, device=config.device_id)
    return SpooledCatalog(backend, Spool(config.storage.state_dir / "spool.jsonl"))


@pytest.fixture(scope="module")
def segment_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return fragmented_mp4(tmp_path_factory.mktemp("seg") / "seg.mp4", 3)


def new_mover(config: Config, catalog: SpooledCatalog,
              report: Callable[[MoverEvent], None]) -> TierMover:
    return TierMover(config, catalog, report, SpaceManager(config, catalog, lambda a: None))


def put_segment(config: Config, catalog: Catalog, data: bytes) -> SegmentRecord:
    path = config.storage.cache_dir / NAME
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    record = probe_segment(path, Tier.CACHE)
    record = SegmentRecord.from_dict({**record.to_dict(), "checksum": file_crc32(path)})
    catalog.add_segment(record)
    return record


def _move_and_die(config: Config, path: str, step: str) -> None:
    catalog = open_catalog(config)  # the child's own connection
    mover = new_mover(config, catalog, lambda event: None)
    row = catalog.segment_by_path(path)
    assert row is not None

    def checkpoint(reached: str) -> None:
        if reached == step:
            os._exit(9)  # a crash: no cleanup, no finally, nothing flushed

    mover.move(row, checkpoint)
    os._exit(9)  # "done": the move returned, the grace-period unlink never ran


@pytest.mark.parametrize("step", ["copied", "verified", "renamed", "cataloged", "done"])
def test_crash_at_any_step_leaves_one_indexed_copy(tmp_path: Path, catalog_url: str,
                                                   segment_bytes: bytes, step: str) -> None:
    config = make_config(tmp_path, catalog_url)
    catalog = open_catalog(config)
    record = put_segment(config, catalog, segment_bytes)
    child = multiprocessing.get_context("fork").Process(
        target=_move_and_die, args=(config, record.path, step))
    child.start()
    child.join(60)
    assert child.exitcode == 9

    reconcile(config, catalog, repair=True)

    copies = [p for p in (config.storage.cache_dir / NAME, config.storage.archive_dir / NAME)
              if p.exists()]
    assert len(copies) == 1, copies
    assert not list(config.storage.archive_dir.rglob("*.moving"))
    rows = catalog.segments()
    assert len(rows) == 1 and rows[0].path == str(copies[0])
    assert rows[0].tier == (Tier.ARCHIVE if "archive" in copies[0].parts else Tier.CACHE)
    assert file_crc32(copies[0]) == record.checksum
    assert reconcile(config, catalog, repair=False).differences == []
    catalog.close()


def test_a_full_move_then_the_archive_goes_missing_and_comes_back(
        tmp_path: Path, segment_bytes: bytes) -> None:
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}")
    catalog = open_catalog(config)
    record = put_segment(config, catalog, segment_bytes)
    events: list[MoverEvent] = []
    mover = new_mover(config, catalog, events.append)

    assert mover.step() is False  # no archive folder yet: degraded, nothing moved
    assert events[-1].kind == "degraded" and "missing" in events[-1].detail
    assert catalog.segments()[0].tier == Tier.CACHE

    config.storage.archive_dir.mkdir()
    assert mover.step() is True
    assert [e.kind for e in events[-2:]] == ["recovered", "moved"]
    row = catalog.segments()[0]
    assert row.tier == Tier.ARCHIVE and row.path == str(config.storage.archive_dir / NAME)
    assert row.checksum == record.checksum
    mover._unlink_due(force=True)
    assert not (config.storage.cache_dir / NAME).exists()


def test_a_reader_of_the_old_path_keeps_reading_through_the_move(
        tmp_path: Path, segment_bytes: bytes) -> None:
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", move_grace_s=0.2)
    config.storage.archive_dir.mkdir(parents=True)
    catalog = open_catalog(config)
    record = put_segment(config, catalog, segment_bytes)
    player = open(record.path, "rb")  # noqa: SIM115 - a player holding the file open
    head = player.read(1000)
    mover = new_mover(config, catalog, lambda event: None)
    assert mover.step()
    assert Path(record.path).exists()  # still there for late lookups during the grace
    time.sleep(0.3)
    mover._unlink_due(force=False)
    assert not Path(record.path).exists()
    assert head + player.read() == segment_bytes  # the open file reads to its end
    player.close()
    moved = catalog.segments()[0]
    assert Path(moved.path).read_bytes() == segment_bytes  # a new lookup finds the new path


def test_rate_limit_spreads_the_copy() -> None:
    """A copy that reads instantly is paced to the configured rate, chunk by chunk."""
    now = [0.0]
    waits: list[float] = []

    class FakeStop:
        def wait(self, seconds: float) -> None:
            waits.append(seconds)
            now[0] += seconds

        def is_set(self) -> bool:
            return False

    limiter = RateLimiter(bytes_per_s=10e6, clock=lambda: now[0])
    for _ in range(20):
        limiter.pace(1 << 20, FakeStop())  # type: ignore[arg-type]
    assert now[0] == pytest.approx(20 * (1 << 20) / 10e6)
    assert len(waits) == 20 and max(waits) == pytest.approx((1 << 20) / 10e6)


@pytest.fixture
def small_archive(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "archive", "8m") as archive:
        yield archive


def test_a_full_archive_is_cleaned_and_the_move_goes_on(
        tmp_path: Path, segment_bytes: bytes, small_archive: Path) -> None:
    """The old gap: archive short of room for the next segment but above its floor. The
    mover cleans it (oldest archived first, only as much as needed) and moves."""
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}",
                         archive_min_free_percent=25.0)  # a 2 MB floor
    catalog = open_catalog(config)
    archived = []
    minute = 0
    while os.statvfs(small_archive).f_bavail * os.statvfs(small_archive).f_frsize \
            >= 2 * 1024**2 + len(segment_bytes):  # fill to just above floor + one segment
        minute += 1
        path = small_archive / f"cam1/2026-01-01/11{minute:02d}00.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(segment_bytes)
        archived.append(probe_segment(path, Tier.ARCHIVE))
        catalog.add_segment(archived[-1])
    space = SpaceManager(config, catalog, lambda a: None).policy.measure(Tier.ARCHIVE)
    assert space is not None and not space.below_floor  # cleanup by floor would not run
    record = put_segment(config, catalog, segment_bytes)
    events: list[MoverEvent] = []
    mover = new_mover(config, catalog, events.append)
    assert mover.step() is True
    assert [e.kind for e in events] == ["moved"]
    rows = catalog.segments()
    kept = [r.path for r in rows if r.path != str(small_archive / NAME)]
    deleted = [r.path for r in archived if r.path not in kept]
    assert deleted and deleted == [r.path for r in archived[:len(deleted)]]  # oldest first
    # no more than the cleanup's target (a floor beyond floor + segment) asked for
    on_disk = -(-len(segment_bytes) // 4096) * 4096  # tmpfs frees whole pages
    target = SpacePolicy.cleanup_target(space, len(segment_bytes))
    assert len(deleted) == -(-(target - space.free_bytes) // on_disk)
    assert all(Path(p).exists() for p in kept) and not any(Path(p).exists() for p in deleted)
    assert file_crc32(small_archive / NAME) == record.checksum
