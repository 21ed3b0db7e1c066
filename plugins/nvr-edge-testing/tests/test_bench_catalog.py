"""`nvr-edge bench catalog` for a handful of boxes: the history is loaded, every figure is
there and adds up (rows loaded and sized, every box's spool drained)."""

from __future__ import annotations

from pathlib import Path

from nvr_edge_testing.bench.catalog import measure_catalog


def test_a_small_fleet_catalog_is_measured_end_to_end(tmp_path: Path) -> None:
    # its own durable PostgreSQL (initdb, start): ~3 s, 13 s on a loaded VM
    run = measure_catalog(boxes=3, cameras=2, hours=1, segment_s=180, writers=2, insert_s=1,
                          drain_boxes=2, outage_s=360, work_dir=tmp_path)
    assert run["copy_load"]["rows"] == run["size"]["rows"] == 3 * 2 * 20
    assert run["size"]["bytes_per_row"] > 100  # a row and its five index entries
    for query in run["operator_queries"].values():
        assert query["n"] > 0 and 0 < query["p50_ms"] <= query["p95_ms"] <= query["max_ms"]
    assert run["insert"]["rows"] > 0 and run["insert"]["writers"] == 2
    assert run["spool_drain"]["writes"] == 2 * 2 * 2  # 2 boxes, 2 segments x 2 cameras
    assert run["spool_drain"]["per_box_drain"]["n"] == 2
    assert run["spool_drain"]["rows_found"] == 8
    assert run["spool_drain"]["boxes_with_spool_left"] == 0
    assert run["spool_drain"]["boxes_missing_rows"] == []
