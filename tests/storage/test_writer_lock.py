"""Recovery never touches a `.part` file whose camera a live process holds."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from nvr_edge.catalog.spool import Spool, SpooledCatalog
from nvr_edge.config import Config, parse_config
from nvr_edge.plugins import make_plugin_manager
from nvr_edge.storage.recovery import reconcile, repair_parts
from nvr_edge.storage.writer_lock import WriterLock, is_held

from ..media import fragmented_mp4


def make_config(tmp_path: Path) -> Config:
    return parse_config({
        "device": {"id": "box"},
        "storage": {"cache_dir": str(tmp_path / "cache"),
                    "archive_dir": str(tmp_path / "archive"),
                    "state_dir": str(tmp_path / "state")},
        "catalog": {"url": f"sqlite:///{tmp_path / 'catalog.db'}"}})


@pytest.fixture
def partial(tmp_path: Path) -> tuple[Config, Path, bytes]:
    """A camera's `.part` file: two complete fragments and a third cut short."""
    source = tmp_path / "src.mp4"
    data = fragmented_mp4(source, 3)
    config = make_config(tmp_path)
    part = config.storage.cache_dir / "cam1" / "2026-11-28" / "080000.mp4.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:-500])
    return config, part, data[:-500]


def catalog_of(config: Config) -> SpooledCatalog:
    backend = make_plugin_manager(load_entry_points=False).hook.nvr_catalog_open(
        url=config.catalog_url, create=True, device=config.device_id)
    return SpooledCatalog(backend, Spool(config.storage.state_dir / "spool.jsonl"))


def hold_in_child(config: Config, camera: str, ready: multiprocessing.Event,
                  release: multiprocessing.Event) -> None:
    lock = WriterLock(config.storage.state_dir, camera)
    assert lock.acquire(threading.Event())
    ready.set()
    release.wait(30)


def test_a_held_cameras_part_is_left_alone_then_repaired_once_free(partial) -> None:
    config, part, data = partial
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=hold_in_child, args=(config, "cam1", ready, release))
    holder.start()
    catalog = catalog_of(config)
    try:
        assert ready.wait(10)
        assert is_held(config.storage.state_dir, "cam1")
        for report in (reconcile(config, catalog, repair=True),
                       repair_parts(config, catalog, "cam1"), repair_parts(config, catalog)):
            assert [f.kind for f in report.findings] == ["in-progress"]
            assert report.differences == []
        assert part.read_bytes() == data  # not cut, not renamed
        assert catalog.segments() == []
    finally:
        release.set()
        holder.join(10)
    assert not is_held(config.storage.state_dir, "cam1")  # the kernel let go at exit
    report = reconcile(config, catalog, repair=True)
    assert [f.kind for f in report.differences] == ["part-file", "unindexed-file"]
    final = part.with_name("080000.mp4")
    assert not part.exists() and [r.path for r in catalog.segments()] == [str(final)]
    assert 0 < final.stat().st_size < len(data)  # cut back to its complete fragments
    catalog.close()


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    first = WriterLock(tmp_path, "cam1")
    assert first.acquire(threading.Event())
    stop = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(WriterLock(tmp_path, "cam1")
                                                           .acquire(stop)))
    waiter.start()
    waiter.join(0.6)
    assert waiter.is_alive() and result == []  # blocked while the first holds it
    stop.set()
    waiter.join(5)
    assert result == [False]  # a stop ends the wait
    first.release()
    second = WriterLock(tmp_path, "cam1")
    assert second.acquire(threading.Event())
    assert is_held(tmp_path, "cam1") and not is_held(tmp_path, "cam2")
    second.release()
