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

    # a crash after applying entry k but before taking it off the spool: on restart the
    # spool still holds entries k.. and entry k is applied a second time
    for k in range(len(ops)):
        for row in catalog.segments():
            catalog.backend.delete_by_path(row.path)
        for op in ops[: k + 1]:
            catalog._apply(op)
        spool.keep(ops[k:])
        restarted = SpooledCatalog(catalog.backend, spool)
        restarted.drain()
        assert [(r.path, r.tier, r.checksum) for r in restarted.segments()] == state, k
    catalog.close()
