"""One PostgreSQL catalog shared by several boxes (schema 4): rows per device, each box's
role confined to its own rows by the database itself, an operator who reads them all, day
partitions made ahead and on demand, and `nvr-edge fleet segments` / `fleet catalog`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from nvr_edge_testing.postgres import PostgresServer

from nvr_edge.catalog import CatalogError, SegmentQuery
from nvr_edge.catalog.fleet_admin import add_box, add_operator, days, drop_days
from nvr_edge.catalog.pg_shared import DAY_MS
from nvr_edge.catalog.postgres import DAYS_AHEAD, PostgresCatalog
from nvr_edge.cli import build_parser
from nvr_edge.models import SegmentRecord, iso_utc, now_ms

TODAY = now_ms() - now_ms() % DAY_MS


def main(argv: list[str]) -> int:
    """The command as `nvr-edge` runs it, without the CLI's logging set-up."""
    args = build_parser().parse_args(argv)
    return int(args.nvr_run(args, None))


def seg(camera: str, start_ms: int, length_ms: int = 180_000, **kw) -> SegmentRecord:
    fields = dict(camera=camera, stream="main", start_ms=start_ms, end_ms=start_ms + length_ms,
                  bytes=1000, path=f"/cache/{camera}/{start_ms}.mp4", tier="cache",
                  video_codec="h264", width=1920, height=1080, has_audio=False)
    fields.update(kw)
    return SegmentRecord(**fields)


@dataclass
class Fleet:
    owner: str        # the owner's URL (the fixture's superuser)
    box_url: dict[str, str]
    operator: str
    roles: dict[str, str]


def _as(url: str, role: str) -> str:
    return url.replace("postgresql://nvr@", f"postgresql://{role}@")


@pytest.fixture(scope="module")
def fleet(postgres: PostgresServer) -> Iterator[Fleet]:
    tag = f"{os.getpid()}_{id(postgres) % 10_000}"
    owner = postgres.new_database(f"fleet_{tag}")
    assert main(["fleet", "catalog", "migrate", "--catalog", owner]) == 0  # as the owner
    roles = {"site-a": f"box_a_{tag}", "site-b": f"box_b_{tag}"}
    operator = f"ops_{tag}"
    with psycopg.connect(owner, autocommit=True) as conn:
        add_box(conn, "site-a", roles["site-a"])
        conn.execute(f"CREATE ROLE {operator} LOGIN")
        add_operator(conn, operator)
    os.environ["NVR_TEST_BOX_PW"] = "pw-box-b-77"
    try:  # the command an operator runs, the password from the environment
        assert main(["fleet", "catalog", "add-box", "--catalog", owner, "--device", "site-b",
                     "--role", roles["site-b"], "--password-env", "NVR_TEST_BOX_PW"]) == 0
    finally:
        del os.environ["NVR_TEST_BOX_PW"]
    yield Fleet(owner, {d: _as(owner, r) for d, r in roles.items()}, _as(owner, operator),
                roles)


def test_two_boxes_with_the_same_cameras_and_paths_do_not_collide(fleet: Fleet) -> None:
    a = PostgresCatalog(fleet.box_url["site-a"], "site-a")
    b = PostgresCatalog(fleet.box_url["site-b"], "site-b")
    start = TODAY + 3_600_000
    id_a = a.add_segment(seg("front", start, bytes=111))
    id_b = b.add_segment(seg("front", start, bytes=222))  # the same camera id and path
    assert id_a != id_b
    assert a.add_segment(seg("front", start, bytes=333)) == id_a  # updated, not duplicated
    [row_a] = a.segments(SegmentQuery(camera="front"))
    [row_b] = b.segments(SegmentQuery(camera="front"))
    assert (row_a.bytes, row_b.bytes) == (333, 222)
    b.move_segment(row_b.path, "/archive/front/x.mp4", "archive")
    b.set_status_by_path("/archive/front/x.mp4", "missing")
    assert a.segment_by_path(row_a.path) is not None  # box B's move left A's row alone
    assert a.segment_by_id(id_b) is None and b.segment_by_id(id_b) is not None
    assert a.usage("cache").segments == 1 and b.usage("cache").segments == 0
    b.delete_by_path("/archive/front/x.mp4")
    assert a.segments(SegmentQuery(camera="front")) == [row_a]
    a.delete_by_path(row_a.path)
    a.close()
    b.close()


def test_a_box_role_cannot_touch_another_box_rows(fleet: Fleet) -> None:
    b = PostgresCatalog(fleet.box_url["site-b"], "site-b")
    b.add_segment(seg("yard", TODAY + 7_200_000))
    b.close()
    with psycopg.connect(fleet.box_url["site-a"], autocommit=True) as conn:
        # B's rows are invisible to A's role: not read, not updated, not deleted
        assert conn.execute("SELECT count(*) FROM segments WHERE device = 'site-b'"
                            ).fetchone()[0] == 0
        assert conn.execute("UPDATE segments SET tier = 'gone' WHERE device = 'site-b'"
                            ).rowcount == 0
        assert conn.execute("DELETE FROM segments WHERE device = 'site-b'").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO segments (device, camera, stream, start_ms, end_ms, "
                         "duration_ms, bytes, path, tier, video_codec, width, height, "
                         "has_audio, indexed_ms) VALUES ('site-b', 'yard', 'main', %s, %s, 1, "
                         "1, '/forged.mp4', 'cache', 'h264', 1, 1, 0, 0)",
                         (TODAY + 1000, TODAY + 2000))
        # nor around the policies: a partition, the role map, another role, a table flood
        part = days(psycopg.connect(fleet.owner, autocommit=True))[0].name
        for sql in (f"DELETE FROM {part}", "UPDATE catalog_roles SET device = 'site-b'",
                    f"SET ROLE {fleet.roles['site-b']}", "DROP TABLE segments"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
        with pytest.raises(psycopg.errors.RaiseException, match="at most 32 days"):
            conn.execute("SELECT catalog_add_days(0, %s)", (400 * DAY_MS,))
    with psycopg.connect(fleet.owner) as owner:
        assert owner.execute("SELECT count(*) FROM segments WHERE device = 'site-b' AND "
                             "tier = 'cache'").fetchone()[0] == 1
    # the box's role claims another device: refused at open, before any write
    with pytest.raises(CatalogError, match="writes as device site-a, but this box is site-b"):
        PostgresCatalog(fleet.box_url["site-a"], "site-b")


def test_the_operator_reads_every_box_and_changes_none(fleet: Fleet) -> None:
    a = PostgresCatalog(fleet.box_url["site-a"], "site-a")
    a.add_segment(seg("gate", TODAY + 9_000_000))
    a.close()
    with psycopg.connect(fleet.operator, autocommit=True) as conn:
        devices = {row[0] for row in conn.execute("SELECT DISTINCT device FROM segments")}
        assert {"site-a", "site-b"} <= devices
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM segments")
    with pytest.raises(CatalogError, match="is given no device"):
        PostgresCatalog(fleet.operator, "site-a")  # an operator is no box


def test_days_are_made_ahead_on_demand_and_dropped_whole(fleet: Fleet) -> None:
    names = {d.name for d in days(psycopg.connect(fleet.owner, autocommit=True))}
    for n in range(-1, DAYS_AHEAD + 1):
        assert "segments_" + iso_utc(TODAY + n * DAY_MS)[:10].replace("-", "") in names
    a = PostgresCatalog(fleet.box_url["site-a"], "site-a")
    old = TODAY - 40 * DAY_MS + 60_000  # a file indexed again long after it was recorded
    a.add_segment(seg("front", old, path="/archive/front/old.mp4", tier="archive"))
    empty_day = TODAY - 20 * DAY_MS
    a.add_days(empty_day, empty_day + 1)
    a.close()
    with psycopg.connect(fleet.owner, autocommit=True) as conn:
        made = {d.from_ms for d in days(conn)}
        assert {TODAY - 40 * DAY_MS, empty_day} <= made
        # 30 days kept: the 40-day-old day goes whole, the empty past day too; yesterday
        # (empty, but a box back from an outage may still index into it) and today stay
        dropped = drop_days(conn, keep_days=30)
        assert set(dropped) == {"segments_" + iso_utc(d)[:10].replace("-", "")
                                for d in (TODAY - 40 * DAY_MS, empty_day)}
        assert {TODAY - DAY_MS, TODAY} <= {d.from_ms for d in days(conn)}
    # the operator's daily job also makes the week ahead
    assert main(["fleet", "catalog", "drop-days", "--catalog", fleet.owner, "--keep-days",
                 "30", "--ahead", "7"]) == 0
    with psycopg.connect(fleet.owner, autocommit=True) as conn:
        assert TODAY + 7 * DAY_MS in {d.from_ms for d in days(conn)}


def test_fleet_segments_answers_where_a_segment_lives(fleet: Fleet,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    a = PostgresCatalog(fleet.box_url["site-a"], "site-a")
    start = TODAY + 10 * 3_600_000
    for n in range(3):  # 3-minute segments, a gap after the second
        a.add_segment(seg("lobby", start + n * 360_000 * (n > 1) + n * 180_000 * (n <= 1),
                          path=f"/archive/lobby/{n}.mp4", tier="archive"))
    a.close()
    args = ["fleet", "segments", "--catalog", fleet.operator, "--device", "site-a",
            "--camera", "lobby"]
    assert main([*args, "--at", iso_utc(start + 200_000), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(s["device"], s["tier"], s["path"]) for s in found["segments"]] == [
        ("site-a", "archive", "/archive/lobby/1.mp4")]
    assert main([*args, "--at", iso_utc(start + 400_000)]) == 3  # in the gap
    err = capsys.readouterr().err
    assert "no segment of site-a/lobby" in err
    assert "before: " in err and "/archive/lobby/1.mp4" in err and "/archive/lobby/2.mp4" in err
    assert main([*args[:5], "site-z", *args[6:], "--at", iso_utc(start)]) == 3
    assert "no device 'site-z'" in capsys.readouterr().err
    assert main([*args, "--at", "yesterday"]) == 2
    assert "--at 'yesterday'" in capsys.readouterr().err
    bad = ["fleet", "segments", "--catalog", "postgresql://ops:pw-secret-1@127.0.0.1:1/x",
           "--device", "site-a", "--camera", "lobby", "--at", iso_utc(start)]
    assert main(bad) == 1
    err = capsys.readouterr().err
    assert "cannot open catalog" in err and "pw-secret-1" not in err
    assert main([*bad[:3], "mysql://x/y", *bad[4:]]) == 1
    assert "not a PostgreSQL catalog URL" in capsys.readouterr().err


def test_a_single_box_catalog_migrates_in_place(postgres: PostgresServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A box that had a PostgreSQL catalog of its own (schema 3, owned by its role): its
    rows become its device's, ids kept, and it goes on writing as before."""
    from nvr_edge.catalog.migrations import MIGRATIONS

    url = postgres.new_database(f"single_{os.getpid()}")
    with monkeypatch.context() as patch:
        patch.setattr(PostgresCatalog, "migrations", MIGRATIONS)
        old = PostgresCatalog(url, "site-old")
        assert old.schema_version() == 3
        for n, start in enumerate((TODAY - 2 * DAY_MS, TODAY - DAY_MS + 5, TODAY + 7)):
            old._execute("INSERT INTO segments (camera, stream, start_ms, end_ms, duration_ms, "
                         "bytes, path, tier, video_codec, width, height, has_audio, status, "
                         "indexed_ms, checksum) VALUES ('cam', 'main', ?, ?, 10, 5, ?, "
                         "'cache', 'h264', 1, 1, 0, 'ok', 0, 'crc32:1')",
                         (start, start + 10, f"/c/{n}.mp4"))
        ids = [row[0] for row in old._execute("SELECT id FROM segments ORDER BY start_ms")]
        old.close()
    # the operator's migrate command will not guess whose rows these are
    assert main(["fleet", "catalog", "migrate", "--catalog", url]) == 2
    new = PostgresCatalog(url, "site-old")
    assert new.schema_version() == 4
    rows = new.segments()
    assert [r.id for r in rows] == ids and all(r.checksum == "crc32:1" for r in rows)
    assert {row[0] for row in new._execute("SELECT device FROM segments")} == {"site-old"}
    assert new.add_segment(seg("cam", TODAY + 100)) > max(ids)  # the id sequence goes on
    new.close()
