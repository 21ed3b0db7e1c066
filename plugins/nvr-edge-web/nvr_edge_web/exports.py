"""Export as an API: `POST /api/exports` {camera, from, to} starts one MP4 of the range
(nvr_edge/storage/export.py: stream copy joined across segments, the camera and times in
its metadata) and answers 202 with the job; `GET /api/exports/<id>` tells its progress
(segments done of total), `GET /api/exports/<id>.mp4` downloads it once done.

One export runs at a time (it reads the disks the recorder writes to; the others wait,
"queued"). Files go to <state_dir>/exports, are kept KEEP_S after they are done, and at
most KEPT jobs are remembered; the folder is emptied when the server starts.

The state folder also holds the catalog and its spool, so an export that would leave it
less than KEEP_FREE of its file system free is refused up front (507, with the sizes), and
a file cut short by a full disk is removed."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import web

from nvr_edge import (
    ExportError,
    SegmentQuery,
    SegmentRecord,
    SegmentStatus,
    export_clip,
    iso_utc,
    segment_source,
)

from . import params
from .auth import require
from .body import parse_json, read_body
from .context import CONTEXT, WebContext
from .errors import ApiError
from .guard import authenticate

log = logging.getLogger(__name__)
MAX_RANGE_MS = 24 * 3600 * 1000
KEEP_S = 3600.0
KEPT = 20
KEEP_FREE = 0.10  # of the exports folder's file system: the catalog and spool live there
MIB = 1024 * 1024
JOB_ID = r"[A-Za-z0-9_-]{16,32}"


@dataclass
class ExportJob:
    id: str
    camera: str
    from_ms: int
    to_ms: int
    path: Path
    state: str = "queued"  # running, done, failed
    done: int = 0
    total: int = 0
    error: str = ""
    finished_at: float | None = None
    result: dict[str, Any] = field(default_factory=dict)
    estimate: int = 0  # bytes the file will take, from its segments (stream copy)

    def as_json(self) -> dict[str, Any]:
        body = {"id": self.id, "camera": self.camera, "from": iso_utc(self.from_ms),
                "to": iso_utc(self.to_ms), "state": self.state, "done": self.done,
                "total": self.total, "error": self.error, "url": f"/api/exports/{self.id}",
                **self.result}
        if self.state == "done":
            body["download"] = f"/api/exports/{self.id}.mp4"
        return body

    def progress(self, done: int, total: int) -> None:  # from the export's thread
        self.done, self.total = done, total


class ExportJobs:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.jobs: dict[str, ExportJob] = {}
        self.turn = asyncio.Lock()  # one export at a time
        self.tasks: set[asyncio.Task[None]] = set()
        shutil.rmtree(folder, ignore_errors=True)  # a restart forgets the jobs: their files

    def add(self, camera: str, from_ms: int, to_ms: int) -> ExportJob:
        self._prune()
        if len(self.jobs) >= KEPT:
            raise ApiError(429, f"{KEPT} exports are kept or running: try again later")
        job_id = secrets.token_urlsafe(12)
        job = ExportJob(job_id, camera, from_ms, to_ms, self.folder / f"{job_id}.mp4")
        self.jobs[job_id] = job
        return job

    def check_room(self, estimate: int) -> None:
        """Refuse an export that would eat into the state folder's reserve, counting the
        bytes that jobs queued or running have yet to write."""
        self.folder.mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(self.folder)
        pending = sum(max(0, j.estimate - _size(j.path)) for j in self.jobs.values()
                      if j.state in ("queued", "running"))
        keep = int(usage.total * KEEP_FREE)
        if usage.free - pending - estimate < keep:
            raise ApiError(507, f"this export needs about {estimate / MIB:.0f} MiB; the box "
                                f"has {usage.free / MIB:.0f} MiB free for exports, "
                                f"{pending / MIB:.0f} MiB of it promised to exports under "
                                f"way, and keeps {keep / MIB:.0f} MiB free for its catalog: "
                                "choose a shorter range or wait")

    def _prune(self) -> None:
        now = time.monotonic()
        for job in list(self.jobs.values()):
            if job.finished_at is not None and now - job.finished_at > KEEP_S:
                job.path.unlink(missing_ok=True)
                del self.jobs[job.id]

    def get(self, job_id: str) -> ExportJob:
        self._prune()
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"there is no export {job_id} (exports are kept "
                                f"{KEEP_S / 60:.0f} minutes)")
        return job


EXPORTS = web.AppKey("nvr_exports", ExportJobs)


def add_routes(app: web.Application, state_dir: Path) -> None:
    app[EXPORTS] = ExportJobs(state_dir / "exports")
    app.router.add_post("/api/exports", start_export)
    app.router.add_get(f"/api/exports/{{id:{JOB_ID}}}", export_status)
    app.router.add_get(f"/api/exports/{{id:{JOB_ID}}}.mp4", export_file)
    app.on_cleanup.append(_cancel)


async def _cancel(app: web.Application) -> None:
    for task in list(app[EXPORTS].tasks):
        task.cancel()


async def start_export(request: web.Request) -> web.Response:
    grant = await authenticate(request)
    body = parse_json(await read_body(request))
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object: {camera, from, to}")
    camera = params.camera_id(body.get("camera") if isinstance(body.get("camera"), str)
                              else None)
    fields = {k: body[k] for k in ("from", "to") if isinstance(body.get(k), str)}
    from_ms, to_ms = params.time_range(fields, MAX_RANGE_MS, "24 hours")
    require(grant, "playback", camera)
    jobs = request.app[EXPORTS]
    ctx = request.app[CONTEXT]
    rows = await ctx.read_catalog(ctx.catalog.segments, _query(camera, from_ms, to_ms))
    estimate = sum(_share(row, from_ms, to_ms) for row in rows)
    jobs.check_room(estimate)
    job = jobs.add(camera, from_ms, to_ms)
    job.estimate = estimate
    task = asyncio.create_task(_run(request.app[CONTEXT], jobs, job))
    jobs.tasks.add(task)
    task.add_done_callback(jobs.tasks.discard)
    return web.json_response(job.as_json(), status=202)


async def _run(ctx: WebContext, jobs: ExportJobs, job: ExportJob) -> None:
    async with jobs.turn:
        job.state = "running"
        try:
            rows = await ctx.read_catalog(ctx.catalog.segments,
                                          _query(job.camera, job.from_ms, job.to_ms))
            job.total = len(rows)
            jobs.folder.mkdir(parents=True, exist_ok=True)
            result = await asyncio.to_thread(
                export_clip, rows, job.from_ms, job.to_ms, job.path,
                lambda segment: _open_segment(ctx, segment), job.progress)
        except ExportError as exc:
            job.state, job.error = "failed", str(exc)
        except OSError as exc:  # the disk filled after all (segments bigger than listed)
            log.error("export %s of %s failed: %s", job.id, job.camera, exc)
            job.state, job.error = "failed", f"the export could not be written: {exc}"
        except Exception as exc:  # the job says so; the server goes on
            log.exception("export %s of %s failed", job.id, job.camera)
            job.state, job.error = "failed", f"the export failed: {exc}"
        else:
            job.state = "done"
            job.result = {"start": iso_utc(result.start_ms), "end": iso_utc(result.end_ms),
                          "bytes": job.path.stat().st_size, "segments": result.segments}
        finally:
            job.finished_at = time.monotonic()
            if job.state == "failed":
                job.path.unlink(missing_ok=True)


def _query(camera: str, from_ms: int, to_ms: int) -> SegmentQuery:
    return SegmentQuery(camera=camera, stream="main", since_ms=from_ms, until_ms=to_ms,
                        status=(SegmentStatus.OK, SegmentStatus.REMOTE))


def _share(row: SegmentRecord, from_ms: int, to_ms: int) -> int:
    """The bytes of `row` inside the range (a stream copy keeps the bitrate)."""
    inside = min(row.end_ms, to_ms) - max(row.start_ms, from_ms)
    return row.bytes * max(0, inside) // max(1, row.end_ms - row.start_ms)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _open_segment(ctx: WebContext, segment: SegmentRecord) -> str | BinaryIO:
    """The file on this box, or a ranged reader of its copy in object storage."""
    def remote() -> Any:
        readers = ctx.appliance.call_hook("nvr_segment_reader", segment=segment,
                                          catalog=ctx.catalog, config=ctx.config)
        return next((r for r in readers if r is not None), None)

    return segment_source(segment, remote)


async def _allowed_job(request: web.Request) -> ExportJob:
    grant = await authenticate(request)
    job = request.app[EXPORTS].get(request.match_info["id"])
    require(grant, "playback", job.camera)
    return job


async def export_status(request: web.Request) -> web.Response:
    return web.json_response((await _allowed_job(request)).as_json())


async def export_file(request: web.Request) -> web.StreamResponse:
    job = await _allowed_job(request)
    if job.state != "done":
        raise ApiError(409, f"export {job.id} is {job.state}"
                            + (f": {job.error}" if job.error else ""))
    return web.FileResponse(job.path, headers={
        "Content-Type": "video/mp4",
        "Content-Disposition": f'attachment; filename="{download_name(job)}"'})


def download_name(job: ExportJob) -> str:
    camera = re.sub(r"[^A-Za-z0-9_-]", "_", job.camera)
    stamp = iso_utc(job.from_ms).replace(":", "").replace("-", "")
    return f"{camera}-{stamp}.mp4"
