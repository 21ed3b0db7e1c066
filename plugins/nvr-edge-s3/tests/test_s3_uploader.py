"""The uploader's bookkeeping on a real catalog and queue (no store needed): the start-up
scan queues what closed while nothing queued it, never twice and never what was dropped;
a full queue drops its oldest with one alert; the status tells all of it."""

from __future__ import annotations

from pathlib import Path

from nvr_edge_s3.keys import object_key
from nvr_edge_s3.queue import UploadQueue
from nvr_edge_s3.settings import S3Settings
from nvr_edge_s3.uploader import ALERT_BACKLOG, Uploader

from nvr_edge import Alert, SegmentRecord, now_ms
from nvr_edge.plugins import make_plugin_manager

MINUTE = 60_000


def settings(**kw: object) -> S3Settings:
    fields: dict = dict(endpoint="http://127.0.0.1:9", bucket="nvr", access_key="a",
                        secret_key="s", prefix="site")
    fields.update(kw)
    return S3Settings(**fields)


def add(catalog, camera: str, start_ms: int) -> SegmentRecord:
    record = SegmentRecord(camera=camera, stream="main", start_ms=start_ms,
                           end_ms=start_ms + MINUTE, bytes=10, path=f"/c/{camera}/{start_ms}.mp4",
                           tier="cache", video_codec="h264", width=1, height=1, has_audio=False)
    catalog.add_segment(record)
    return catalog.segment_by_path(record.path)


def uploader(tmp_path: Path, alerts: list[Alert], **kw: object) -> Uploader:
    catalog = make_plugin_manager(load_entry_points=False).hook.nvr_catalog_open(
        url=f"sqlite:///{tmp_path / 'c.db'}", create=True, device="box")
    return Uploader(settings(**kw), UploadQueue(tmp_path / "q.db"), catalog, alerts.append,
                    "box")


def queued_paths(up: Uploader) -> list[str]:
    return [u.source for u in up.queue.pending()]


def test_the_scan_queues_what_closed_unqueued_since_the_queue_began(tmp_path: Path) -> None:
    alerts: list[Alert] = []
    up = uploader(tmp_path, alerts, cameras=("cam",))
    began = up.queue.meta("created_ms", now_ms() - 10 * MINUTE)
    before = add(up.catalog, "cam", began - 5 * MINUTE)  # recorded before [s3] was set
    queued = add(up.catalog, "cam", began + MINUTE)
    up.enqueue([up.upload_for(queued)])
    copied = add(up.catalog, "cam", began + 2 * MINUTE)
    up.catalog.set_object_copy(copied.path, "site/box/cam/x.mp4", now_ms())
    missed = [add(up.catalog, "cam", began + n * MINUTE) for n in (3, 4)]  # a crash lost them
    add(up.catalog, "other", began + 3 * MINUTE)  # a camera not archived
    up._scan()
    assert queued_paths(up) == [queued.path] + [m.path for m in missed]
    up._scan()  # again: nothing twice
    assert len(up.queue) == 3
    [entry] = [u for u in up.queue.pending() if u.source == missed[0].path]
    assert (entry.key, entry.segment_id) == (object_key("site", "box", missed[0]), missed[0].id)
    assert before.path not in queued_paths(up)


def test_backfill_queues_the_older_recordings_too(tmp_path: Path) -> None:
    up = uploader(tmp_path, [], backfill=True)
    old = add(up.catalog, "cam", now_ms() - 30 * 24 * 60 * MINUTE)
    up._scan()
    assert queued_paths(up) == [old.path]


def test_a_full_queue_drops_its_oldest_with_one_alert_and_the_scan_respects_it(
        tmp_path: Path) -> None:
    alerts: list[Alert] = []
    up = uploader(tmp_path, alerts, queue_max=10, backfill=True)
    start = now_ms() - 100 * MINUTE
    rows = [add(up.catalog, "cam", start + n * MINUTE) for n in range(14)]
    for row in rows:
        up.enqueue([up.upload_for(row)])
    assert queued_paths(up) == [r.path for r in rows[4:]]
    assert [a.code for a in alerts] == [ALERT_BACKLOG]
    assert "from " in alerts[0].message and "kept on this box only" in alerts[0].message
    status = up.status()
    assert (status["queued"], status["dropped"]) == (10, 4)
    fresh = uploader(tmp_path, alerts, queue_max=10, backfill=True)  # the next start
    fresh._scan()
    assert queued_paths(fresh) == [r.path for r in rows[4:]]  # the dropped stay dropped

