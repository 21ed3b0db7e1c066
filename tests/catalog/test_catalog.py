"""The same tests against both backends (SQLite and a real PostgreSQL started by the tests)."""

from __future__ import annotations

import pytest

from nvr_edge.catalog import SegmentQuery
from nvr_edge.catalog.migrations import LATEST_VERSION
from nvr_edge.models import SegmentRecord
from nvr_edge.plugins import make_plugin_manager


def open_catalog(url: str, device: str = "box"):
    return make_plugin_manager(load_entry_points=False).hook.nvr_catalog_open(url=url, create=True,
                                                                    device=device)


def seg(camera: str, start_s: int, length_s: int = 10, **kw) -> SegmentRecord:
    base = 1_700_000_000_000
    fields = dict(camera=camera, stream="main", start_ms=base + start_s * 1000,
                  end_ms=base + (start_s + length_s) * 1000, bytes=1000 + start_s,
                  path=f"/c/{camera}/{start_s}.mp4", tier="cache", video_codec="h264",
                  width=1920, height=1080, has_audio=True)
    fields.update(kw)
    return SegmentRecord(**fields)


def test_schema_is_migrated_once(catalog_url: str) -> None:
    catalog = open_catalog(catalog_url)
    latest = catalog.migrations[-1][0]  # PostgreSQL: 4, the catalog shared by a fleet
    assert catalog.schema_version() == latest == (4 if "postgresql" in catalog_url
                                                  else LATEST_VERSION)
    catalog.close()
    again = open_catalog(catalog_url)  # reopening applies nothing twice
    assert again.schema_version() == latest
    again.close()


def test_rows_round_trip_and_queries_filter(catalog_url: str) -> None:
    catalog = open_catalog(catalog_url)
    for start in (0, 10, 20):
        catalog.add_segment(seg("front", start))
    catalog.add_segment(seg("yard", 5, has_audio=False, width=640, height=360))
    rows = catalog.segments(SegmentQuery(camera="front"))
    assert [r.start_ms - rows[0].start_ms for r in rows] == [0, 10_000, 20_000]
    assert rows[0].duration_ms == 10_000 and rows[0].has_audio is True
    assert all(r.id is not None and r.status == "ok" for r in rows)
    base = 1_700_000_000_000
    window = catalog.segments(SegmentQuery(since_ms=base + 12_000, until_ms=base + 21_000))
    assert [(r.camera, r.start_ms - base) for r in window] == [
        ("yard", 5_000), ("front", 10_000), ("front", 20_000)]
    yard = catalog.segment_by_path("/c/yard/5.mp4")
    assert yard is not None and (yard.width, yard.height, yard.has_audio) == (640, 360, False)
    assert yard.id is not None and catalog.segment_by_id(yard.id) == yard
    assert catalog.segment_by_id(yard.id + 1000) is None
    catalog.close()


def test_the_same_path_twice_updates_instead_of_duplicating(catalog_url: str) -> None:
    catalog = open_catalog(catalog_url)
    first = catalog.add_segment(seg("front", 0))
    second = catalog.add_segment(seg("front", 0, bytes=5, tier="archive"))
    assert first == second
    rows = catalog.segments()
    assert len(rows) == 1 and rows[0].bytes == 5 and rows[0].tier == "archive"
    catalog.set_status_by_path("/c/front/0.mp4", "missing")
    assert catalog.segments(SegmentQuery(status="missing"))[0].id == first
    catalog.move_segment("/c/front/0.mp4", "/a/front/0.mp4", "archive", "crc32:0000abcd")
    moved = catalog.segment_by_path("/a/front/0.mp4")
    assert moved is not None and moved.id == first and moved.checksum == "crc32:0000abcd"
    assert catalog.usage("archive").segments == 0  # status missing does not count
    catalog.delete_by_path("/a/front/0.mp4")
    assert catalog.segments() == []
    catalog.close()


def test_object_copies_are_recorded_and_follow_a_move(catalog_url: str) -> None:
    catalog = open_catalog(catalog_url)
    catalog.add_segment(seg("front", 0))
    catalog.add_segment(seg("yard", 5))
    assert catalog.object_copies() == []
    catalog.set_object_copy("/c/front/0.mp4", "box/dev/front/x.mp4", 1234)
    catalog.move_segment("/c/front/0.mp4", "/a/front/0.mp4", "archive")
    catalog.add_segment(seg("front", 0, path="/a/front/0.mp4", tier="archive"))  # re-index
    [copy] = catalog.object_copies()
    assert (copy.segment.path, copy.object_key, copy.archived_ms) == (
        "/a/front/0.mp4", "box/dev/front/x.mp4", 1234)
    assert catalog.object_copies(camera="yard") == []
    # what cleanup asks when "archived" means verified in object storage
    assert [r.camera for r in catalog.segments(SegmentQuery(copied=True))] == ["front"]
    assert [r.camera for r in catalog.segments(SegmentQuery(copied=False))] == ["yard"]
    assert catalog.object_copy("/a/front/0.mp4") == copy
    assert catalog.object_copy("/c/yard/5.mp4") is None
    catalog.set_status_by_path("/a/front/0.mp4", "remote")
    assert len(catalog.segments(SegmentQuery(status=("ok", "remote")))) == 2
    assert [r.camera for r in catalog.segments(SegmentQuery(status="remote"))] == ["front"]
    catalog.close()


def test_unreachable_postgres_is_a_clear_error_without_password() -> None:
    from nvr_edge.catalog import CatalogError

    with pytest.raises(CatalogError) as caught:
        open_catalog("postgresql://nvr:sekrit99@127.0.0.1:1/x?connect_timeout=2")
    assert "sekrit99" not in str(caught.value)
    assert "cannot open catalog postgresql://nvr:***@127.0.0.1:1/x" in str(caught.value)


def test_an_old_catalog_is_upgraded_in_place(catalog_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A catalog left at schema version 1 gains version 2 (checksums) and keeps its rows."""
    from nvr_edge.catalog.migrations import MIGRATIONS
    from nvr_edge.catalog.postgres import PostgresCatalog
    from nvr_edge.catalog.sqlite import SqliteCatalog

    with monkeypatch.context() as patch:
        for backend in (SqliteCatalog, PostgresCatalog):
            patch.setattr(backend, "migrations", MIGRATIONS[:1])
        old = open_catalog(catalog_url)
        assert old.schema_version() == 1
        old._execute("INSERT INTO segments (camera, stream, start_ms, end_ms, duration_ms, "
                     "bytes, path, tier, video_codec, width, height, has_audio, status, "
                     "indexed_ms) VALUES ('cam', 'main', 0, 10, 10, 5, '/p.mp4', 'cache', "
                     "'h264', 1, 1, 0, 'ok', 0)")
        old.close()
    upgraded = open_catalog(catalog_url)
    assert upgraded.schema_version() == upgraded.migrations[-1][0] >= LATEST_VERSION == 3
    row = upgraded.segment_by_path("/p.mp4")
    assert row is not None and row.checksum is None and row.bytes == 5
    upgraded.move_segment("/p.mp4", "/a/p.mp4", "archive", "crc32:00000002")
    moved = upgraded.segment_by_path("/a/p.mp4")
    assert moved is not None and moved.checksum == "crc32:00000002"
    upgraded.close()
