"""The SQLite catalog's own storage lost or damaged: found, set aside, started again empty;
read-only opens (`create=False`) never create, migrate or set anything aside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nvr_edge.catalog import CatalogError
from nvr_edge.catalog.sqlite import SqliteCatalog
from nvr_edge.models import SegmentRecord

GARBAGE = b"\x00garbage, not a database\xff" * 200


def seg(camera: str, start_s: int) -> SegmentRecord:
    return SegmentRecord(camera=camera, stream="main", start_ms=start_s * 1000,
                         end_ms=(start_s + 10) * 1000, bytes=1000, path=f"/c/{start_s}.mp4",
                         tier="cache", video_codec="h264", width=640, height=360,
                         has_audio=False)


def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


def test_a_damaged_file_at_open_is_set_aside_and_reported_once(tmp_path: Path) -> None:
    (tmp_path / "catalog.db").write_bytes(GARBAGE)
    catalog = SqliteCatalog(url(tmp_path))
    problem = catalog.heal_storage()
    assert problem is not None and "not a SQLite file" in problem and "set aside" in problem
    (aside,) = tmp_path.glob("catalog.db.damaged-*")
    assert aside.read_bytes() == GARBAGE  # kept for inspection, never deleted
    catalog.add_segment(seg("cam1", 0))
    assert len(catalog.segments()) == 1
    assert catalog.heal_storage() is None
    catalog.close()


@pytest.mark.parametrize("damage", ["delete", "overwrite", "replace"])
def test_damage_under_a_running_catalog_is_found_and_healed(tmp_path: Path,
                                                            damage: str) -> None:
    path = tmp_path / "catalog.db"
    catalog = SqliteCatalog(url(tmp_path))
    catalog.add_segment(seg("cam1", 0))
    assert catalog.heal_storage() is None
    if damage == "delete":
        path.unlink()
    elif damage == "overwrite":  # same file, new bytes
        with open(path, "r+b") as file:
            file.write(GARBAGE)
    else:
        other = tmp_path / "other.db"
        SqliteCatalog(f"sqlite:///{other}").close()
        os.replace(other, path)
    problem = catalog.heal_storage()
    expected = {"delete": "deleted", "overwrite": "not a SQLite file", "replace": "replaced"}
    assert problem is not None and expected[damage] in problem, problem
    assert catalog.segments() == []  # empty: the caller indexes the files again
    catalog.add_segment(seg("cam1", 10))
    assert len(catalog.segments()) == 1
    assert catalog.heal_storage() is None
    catalog.close()
    reopened = SqliteCatalog(url(tmp_path))
    assert len(reopened.segments()) == 1
    reopened.close()


def test_a_read_only_open_creates_and_changes_nothing(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        SqliteCatalog(url(tmp_path), create=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "catalog.db").write_bytes(GARBAGE)
    with pytest.raises(CatalogError, match="not a SQLite file"):
        SqliteCatalog(url(tmp_path), create=False)
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.db"]
    assert (tmp_path / "catalog.db").read_bytes() == GARBAGE
