"""`nvr-edge bench catalog`: the shared PostgreSQL catalog (schema 4) at fleet scale.

A throwaway PostgreSQL with durable commits (fsync on, as in production) gets the history
of `boxes` x `cameras` recording `segment_s` segments for `hours`, loaded with COPY in the
order a fleet produces it (time slot by time slot, every box's cameras in each), so that
the indexes fill as they would in service. Then, measured:
- the COPY load rate, and the table and index size per million rows (per day partition);
- the sustained insert rate of `writers` boxes at once, each its own role, through the
  same `PostgresCatalog.add_segment` a box uses (a single-row upsert under row-level
  security, one commit each);
- p50/p95 of the operator's queries (one camera, one hour; one box, the last hour; the
  `fleet segments` lookup) and of a box's retention delete by path;
- the drain of `drain_boxes` boxes' spools after an `outage_s` outage, each box its own
  thread and role, through `SpooledCatalog.drain()`.
Prints JSON. Disk: about the measured bytes per row x rows, plus 2 GB of WAL, in the
folder `tempfile` uses (TMPDIR) for the server's data (see docs/FLEET-CATALOG.md).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from nvr_edge_testing.postgres import PostgresServer

from nvr_edge.catalog.fleet_admin import add_box, add_operator, days
from nvr_edge.catalog.fleet_lookup import locate
from nvr_edge.catalog.pg_shared import DAY_MS
from nvr_edge.catalog.postgres import PostgresCatalog
from nvr_edge.catalog.spool import Spool, SpooledCatalog
from nvr_edge.models import SegmentRecord, iso_utc

# enough WAL between checkpoints for a bulk load; the rest is PostgreSQL's defaults
SETTINGS = "-c max_wal_size=2GB -c checkpoint_timeout=15min"


def connections(drain_boxes: int, writers: int) -> int:
    """Every draining box holds a connection at once (no pooler here), plus room."""
    return max(300, drain_boxes + writers + 20)


QUERY_SAMPLES = 300
COLUMNS = ("id, device, camera, stream, start_ms, end_ms, duration_ms, bytes, path, tier, "
           "video_codec, width, height, has_audio, status, indexed_ms, checksum")


def device(n: int) -> str:
    return f"box-{n:05d}"


def camera(n: int) -> str:
    return f"cam{n:02d}"


def path(cam: str, start_ms: int, tier: str = "cache") -> str:
    stamp = iso_utc(start_ms)
    return f"/var/lib/nvr-edge/{tier}/{cam}/{stamp[:10]}/{stamp[11:19].replace(':', '')}.mp4"


def _timed(samples: list[float], fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = fn()
    samples.append((time.perf_counter() - started) * 1000)
    return result


def _quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
            "max_ms": round(ordered[-1], 2)}


def seed(owner: str, boxes: int, cameras: int, hours: float, segment_s: int,
         start_ms: int) -> dict[str, Any]:
    """COPY the history, slot by slot; returns the rows and the rate."""
    step = segment_s * 1000
    slots = int(hours * 3600 * 1000 // step)
    rows, next_id = 0, 1
    started = time.perf_counter()
    with psycopg.connect(owner, autocommit=True) as conn:
        for day in range(start_ms, start_ms + slots * step, 30 * DAY_MS):  # 32 at most a call
            conn.execute("SELECT catalog_add_days(%s, %s)",
                         (day, min(day + 30 * DAY_MS, start_ms + slots * step)))
        for slot in range(slots):
            begin = start_ms + slot * step
            cams = [(camera(c), path(camera(c), begin)) for c in range(cameras)]
            lines = []
            for b in range(boxes):
                dev = device(b)
                for cam, where in cams:
                    lines.append(f"{next_id}\t{dev}\t{cam}\tmain\t{begin}\t{begin + step}\t"
                                 f"{step}\t{31_000_000 + b}\t{where}\tcache\th264\t1920\t1080\t"
                                 f"1\tok\t{begin + step + 500}\tcrc32:{next_id:08x}\n")
                    next_id += 1
            with conn.cursor().copy(f"COPY segments ({COLUMNS}) FROM STDIN") as copy:
                copy.write("".join(lines))
            rows += len(lines)
        conn.execute("SELECT setval('segments_id_seq', %s)", (next_id,))
        conn.execute("ANALYZE segments")
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds)}


def sizes(owner: str) -> dict[str, Any]:
    with psycopg.connect(owner, autocommit=True) as conn:
        table = index = rows = 0
        for day in days(conn):
            t, i = conn.execute("SELECT pg_table_size(%s::regclass), "
                                "pg_indexes_size(%s::regclass)", (day.name, day.name)).fetchone()
            n = conn.execute(f"SELECT count(*) FROM {day.name}").fetchone()[0]
            table, index, rows = table + t, index + i, rows + n
        indexes = {name: size for name, size in conn.execute(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
            "WHERE indrelid IN (SELECT inhrelid FROM pg_inherits "
            "WHERE inhparent = 'segments'::regclass)")}
    by_kind: dict[str, int] = {}
    for name, size in indexes.items():
        kind = name.split("_", 2)[-1]  # segments_20261128_<columns>_idx / _key
        by_kind[kind] = by_kind.get(kind, 0) + size
    per_m = 1_000_000 / max(rows, 1)
    return {"rows": rows, "table_mb_per_m_rows": round(table * per_m / 2**20, 1),
            "indexes_mb_per_m_rows": round(index * per_m / 2**20, 1),
            "bytes_per_row": round((table + index) / max(rows, 1)),
            "index_mb_per_m_rows": {k: round(v * per_m / 2**20, 1)
                                    for k, v in sorted(by_kind.items())}}


def insert_rate(urls: list[str], seconds: float, at_ms: int, step: int) -> dict[str, Any]:
    """Each writer a box: `add_segment` as the appliance calls it, as fast as it goes."""
    counts = [0] * len(urls)
    latencies: list[list[float]] = [[] for _ in urls]
    stop = time.monotonic() + seconds

    def write(k: int) -> None:
        catalog = PostgresCatalog(urls[k], device(k))
        n = 0
        while time.monotonic() < stop:
            start = at_ms + n * step
            record = SegmentRecord(camera=camera(n % 32), stream="main", start_ms=start,
                                   end_ms=start + step, bytes=1, path=path(camera(n % 32), start),
                                   tier="cache", video_codec="h264", width=1920, height=1080,
                                   has_audio=True)
            _timed(latencies[k], lambda r=record: catalog.add_segment(r))
            n += 1
        counts[k] = n
        catalog.close()

    threads = [threading.Thread(target=write, args=(k,)) for k in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(counts)
    return {"writers": len(urls), "seconds": seconds, "rows": total,
            "rows_per_s": round(total / seconds),
            "per_insert": _quantiles([x for lat in latencies for x in lat])}


def operator_queries(operator: str, box_urls: list[str], boxes: int, cameras: int,
                     begin_ms: int, end_ms: int) -> dict[str, Any]:
    rng = random.Random(7)
    range_q: list[float] = []
    last_hour: list[float] = []
    lookup: list[float] = []
    with psycopg.connect(operator, autocommit=True) as conn:
        for _ in range(QUERY_SAMPLES):
            dev, cam = device(rng.randrange(boxes)), camera(rng.randrange(cameras))
            since = rng.randrange(begin_ms, max(begin_ms + 1, end_ms - 3_600_000))
            found = _timed(range_q, lambda d=dev, c=cam, s=since: conn.execute(
                "SELECT id, path, tier FROM segments WHERE device = %s AND camera = %s "
                "AND start_ms >= %s AND start_ms < %s ORDER BY start_ms",
                (d, c, s, s + 3_600_000)).fetchall())
            assert found, (dev, cam, since)
            _timed(last_hour, lambda d=dev: conn.execute(
                "SELECT camera, start_ms, path, tier FROM segments WHERE device = %s "
                "AND start_ms >= %s ORDER BY start_ms", (d, end_ms - 3_600_000)).fetchall())
            at = rng.randrange(begin_ms, end_ms)
            answer = _timed(lookup, lambda d=dev, c=cam, t=at: locate(conn, d, c, t))
            assert answer.at or answer.before, (dev, cam, at)
    deletes: list[float] = []
    catalog = PostgresCatalog(box_urls[0], device(0))
    # what a box's retention does: its oldest files go, each row by its path
    oldest = catalog._execute("SELECT path FROM segments WHERE device = ? AND start_ms >= ? "
                              "ORDER BY start_ms LIMIT 100", (device(0), begin_ms))
    for (old,) in oldest:
        _timed(deletes, lambda p=old: catalog.delete_by_path(p))
    catalog.close()
    return {"one_camera_one_hour": _quantiles(range_q), "one_box_last_hour": _quantiles(last_hour),
            "fleet_segments_lookup": _quantiles(lookup),
            "box_delete_by_path": _quantiles(deletes)}


def spool_drain(owner: str, urls: list[str], work: Path, outage_s: float, cameras: int,
                segment_s: int, at_ms: int) -> dict[str, Any]:
    """Every box spooled `outage_s` of segment closes (one add per camera per segment);
    all drain at once when the catalog answers again. Then the owner counts each box's
    rows of the outage: every spooled write must be there (the insert phase's rows at the
    same paths are the same rows: upserts keyed by path)."""
    per_box = max(1, int(outage_s // segment_s)) * cameras
    spooled = []
    for k, url in enumerate(urls):
        spool = Spool(work / f"spool-{k}.jsonl")
        for n in range(per_box):
            start = at_ms + (n // cameras) * segment_s * 1000
            cam = camera(n % cameras)
            spool.append({"op": "add", "record": SegmentRecord(
                camera=cam, stream="main", start_ms=start, end_ms=start + segment_s * 1000,
                bytes=1, path=path(cam, start), tier="cache", video_codec="h264", width=1920,
                height=1080, has_audio=True).to_dict()})
        spooled.append(SpooledCatalog(PostgresCatalog(url, device(k)), spool))
    done: list[float] = [0.0] * len(urls)
    started = time.perf_counter()

    def drain(k: int) -> None:
        spooled[k].drain()
        done[k] = time.perf_counter() - started

    threads = [threading.Thread(target=drain, args=(k,)) for k in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.perf_counter() - started
    left = sum(not catalog.healthy for catalog in spooled)
    for catalog in spooled:
        catalog.close()
    with psycopg.connect(owner) as conn:
        found = dict(conn.execute(
            "SELECT device, count(*) FROM segments WHERE start_ms >= %s AND start_ms < %s"
            " AND camera = ANY(%s) GROUP BY device",
            (at_ms, at_ms + per_box // cameras * segment_s * 1000,
             [camera(c) for c in range(cameras)])).fetchall())
    short = [device(k) for k in range(len(urls)) if found.get(device(k), 0) != per_box]
    writes = per_box * len(urls)
    return {"boxes": len(urls), "outage_s": outage_s, "writes_per_box": per_box,
            "writes": writes, "rows_found": sum(found.values()),
            "boxes_with_spool_left": left, "boxes_missing_rows": short[:10],
            "seconds_all_drained": round(total, 2),
            "writes_per_s": round(writes / total),
            "per_box_drain": _quantiles([d * 1000 for d in done])}


def run_bench(boxes: int, cameras: int, hours: float, segment_s: int, writers: int,
              insert_s: float, drain_boxes: int, outage_s: float,
              work_dir: Path | None) -> int:
    print(json.dumps(measure_catalog(boxes, cameras, hours, segment_s, writers, insert_s,
                                     drain_boxes, outage_s, work_dir), indent=2))
    return 0


def measure_catalog(boxes: int, cameras: int, hours: float, segment_s: int, writers: int,
                    insert_s: float, drain_boxes: int, outage_s: float,
                    work_dir: Path | None) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="nvr-bench-catalog-", dir=work_dir))
    server = PostgresServer().init()
    settings = f"{SETTINGS} -c max_connections={connections(drain_boxes, writers)}"
    server.start(durable=True, settings=settings)
    try:
        owner = server.new_database("fleet")
        PostgresCatalog(owner, "bench-owner").close()  # schema 4, as the owner
        roles = max(writers, drain_boxes)
        with psycopg.connect(owner, autocommit=True) as conn:
            for k in range(roles):
                add_box(conn, device(k), f"box_{k}")
            conn.execute("CREATE ROLE ops LOGIN")
            add_operator(conn, "ops")
        box_urls = [owner.replace("nvr@", f"box_{k}@") for k in range(roles)]
        operator = owner.replace("nvr@", "ops@")
        step = segment_s * 1000
        begin = (int(time.time() * 1000) // DAY_MS - int(hours // 24) - 1) * DAY_MS
        end = begin + int(hours * 3600 * 1000) // step * step
        result: dict[str, Any] = {
            "postgresql": server.bindir.parent.name, "settings": settings + " (durable)",
            "fleet": {"boxes": boxes, "cameras": cameras, "hours": hours,
                      "segment_s": segment_s},
        }
        result["copy_load"] = seed(owner, boxes, cameras, hours, segment_s, begin)
        result["size"] = sizes(owner)
        result["operator_queries"] = operator_queries(operator, box_urls, boxes, cameras,
                                                      begin, end)
        result["insert"] = insert_rate(box_urls[:writers], insert_s, end, step)
        if drain_boxes:
            result["spool_drain"] = spool_drain(owner, box_urls[:drain_boxes], root, outage_s,
                                                cameras, segment_s, end + DAY_MS // 2)
        with psycopg.connect(owner) as conn:
            result["database_mb"] = round(int(conn.execute(
                "SELECT pg_database_size('fleet')").fetchone()[0]) / 2**20)
        return result
    finally:
        server.destroy()
        for leftover in root.glob("*"):
            leftover.unlink()
        os.rmdir(root)
