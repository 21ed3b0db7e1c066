"""The spool replays in order, idempotently, and survives a torn last line."""

from __future__ import annotations

from pathlib import Path

from nvr_edge.catalog.spool import Spool, SpooledCatalog
from nvr_edge.models import SegmentRecord
from nvr_edge.plugins import make_plugin_manager


def seg(name: str, start: int) -> SegmentRecord:
    return SegmentRecord(camera="cam", stream="main", start_ms=start, end_ms=start + 10,
                         bytes=5, path=f"/cache/{name}", tier="cache", video_codec="h264",
                         width=1, height=1, has_audio=False)


def test_spooled_writes_replay_in_order_and_twice_is_harmless(tmp_path: Path,
                                                              catalog_url: str) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    catalog = SpooledCatalog(
        make_plugin_manager(load_entry_points=False).hook.nvr_catalog_open(url=catalog_url,
                                                                           create=True,
                                                                           device="box"),
        spool)
    # what a catalog outage leaves: an add, a move of that segment, another add, a delete
    ops = [{"op": "add", "record": seg("a.mp4", 0).to_dict()},
           {"op": "move", "old": "/cache/a.mp4", "new": "/archive/a.mp4", "tier": "archive",
            "checksum": "crc32:00000001"},
           {"op": "add", "record": seg("b.mp4", 10).to_dict()},
           {"op": "object", "path": "/archive/a.mp4", "key": "p/a.mp4", "at": 7},
           {"op": "add", "record": seg("c.mp4", 20).to_dict()},
           {"op": "delete", "path": "/cache/c.mp4"}]
    for op in ops:
        spool.append(op)
    with open(spool.path, "a") as f:
        f.write('{"op": "add", "rec')  # a crash in the middle of an append
    catalog = SpooledCatalog(catalog.backend, spool)
    assert catalog.spooled == 6 and not catalog.healthy

    assert catalog.drain() == 6
    assert catalog.healthy and not spool.path.exists()
    state = [(r.path, r.tier, r.checksum) for r in catalog.segments()]
    assert state == [("/archive/a.mp4", "archive", "crc32:00000001"),
                     ("/cache/b.mp4", "cache", None)]
    assert [(c.segment.path, c.object_key) for c in catalog.object_copies()] == [
        ("/archive/a.mp4", "p/a.mp4")]

    # a crash after applying entry k but before marking it: on restart the spool still
    # holds entries k.. and entry k is applied a second time
    for k in range(len(ops)):
        for row in catalog.segments():
            catalog.backend.delete_by_path(row.path)
        for op in ops[: k + 1]:
            catalog._apply(op)
        for op in ops:
            spool.append(op)
        spool.mark_applied(list(spool.entries())[k - 1][1] if k else 0)
        restarted = SpooledCatalog(catalog.backend, spool)
        assert restarted.spooled == len(ops) - k
        restarted.drain()
        assert [(r.path, r.tier, r.checksum) for r in restarted.segments()] == state, k
        assert not spool.path.exists() and not spool.marker.exists()
    catalog.close()


def test_a_new_spool_ignores_a_marker_left_by_a_crash(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    spool.mark_applied(10_000)  # the drained spool was removed, its marker was not
    spool.append({"op": "delete", "path": "/cache/a.mp4"})
    assert spool.pending() == [{"op": "delete", "path": "/cache/a.mp4"}]


def _bytes_written() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("wchar:"))


def test_draining_writes_a_constant_amount_per_entry(tmp_path: Path) -> None:
    """A day-long outage spools ~15,000 writes; rewriting the rest of the spool after each
    one wrote n²/2 entries' worth: for these 600 entries of ~330 bytes, 59 MB on top of the
    catalog's own writes (~13 MB here, SQLite's pages and fsyncs)."""
    spool = Spool(tmp_path / "spool.jsonl")
    backend = make_plugin_manager(load_entry_points=False).hook.nvr_catalog_open(
        url=f"sqlite:///{tmp_path / 'catalog.db'}", create=True, device="box")
    for n in range(600):
        spool.append({"op": "add", "record": seg(f"{n:05d}.mp4", n * 10).to_dict()})
    catalog = SpooledCatalog(backend, spool)
    before = _bytes_written()
    assert catalog.drain() == 600
    written = _bytes_written() - before
    assert len(catalog.segments()) == 600
    assert written < 35_000_000, f"{written} bytes written to drain 600 entries"
    catalog.close()
