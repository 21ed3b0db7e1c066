"""GET /api/segments/<id>.mp4: a recorded segment, whole or by HTTP Range.

The file served is the one the catalog names for that id; nothing from the request
reaches the file system but the integer id, and the catalog's path must lie inside the
configured cache or archive folder. A segment whose file left the box (status "remote")
is read from its copy in object storage, through the plugin that made it
(`nvr_segment_reader`), range for range."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from nvr_edge import RemoteSegment, SegmentRecord, SegmentStatus, StorageConfig

from .auth import require
from .context import CONTEXT
from .errors import ApiError
from .guard import authenticate

log = logging.getLogger(__name__)
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.IGNORECASE)
ID_PATTERN = r"[0-9]{1,18}"  # fits a signed 64-bit column; anything else never routes here
PLAYABLE = (SegmentStatus.OK, SegmentStatus.REMOTE)
CACHE_CONTROL = "private, max-age=3600"  # a closed segment never changes


async def segment_file(request: web.Request) -> web.StreamResponse:
    grant = await authenticate(request)
    segment_id = int(request.match_info["id"])
    ctx = request.app[CONTEXT]
    segment = await ctx.read_catalog(ctx.catalog.segment_by_id, segment_id)
    if segment is None or segment.status not in PLAYABLE:  # "missing", "deleting"
        raise ApiError(404, f"there is no segment {segment_id}")
    require(grant, "playback", segment.camera)
    if segment.status == SegmentStatus.REMOTE:
        return await _remote_copy(request, segment)
    path, size = await asyncio.to_thread(_stored_file, ctx.config.storage, segment)
    check_range(request, size)
    return web.FileResponse(path, headers={
        "Content-Type": "video/mp4",
        "Content-Disposition": f'attachment; filename="{download_name(segment)}"',
        "Cache-Control": CACHE_CONTROL,
    })


async def _remote_copy(request: web.Request, segment: SegmentRecord) -> web.StreamResponse:
    """The copy in object storage, streamed as it arrives. The first piece is read before
    the headers go out, so a store that cannot serve is a 502, not a cut-off 200."""
    ctx = request.app[CONTEXT]
    readers = await asyncio.to_thread(ctx.appliance.call_hook, "nvr_segment_reader",
                                      segment=segment, catalog=ctx.catalog,
                                      config=ctx.config)
    reader: RemoteSegment | None = next((r for r in readers if r is not None), None)
    if reader is None:
        raise ApiError(404, f"segment {segment.id} left this box and no plugin can read its "
                            "copy (is the object-store plugin configured?)")
    size = segment.bytes
    check_range(request, size)
    first, last = byte_range(request.headers.get("Range"), size)
    ranged = request.headers.get("Range") is not None
    headers = {
        "Content-Type": "video/mp4", "Accept-Ranges": "bytes",
        "Content-Length": str(last - first + 1),
        "Content-Disposition": f'attachment; filename="{download_name(segment)}"',
        "Cache-Control": CACHE_CONTROL, "X-Segment-Location": "object-store",
        **({"Content-Range": f"bytes {first}-{last}/{size}"} if ranged else {})}
    if request.method == "HEAD":  # the size is the catalog's: the store is not asked
        return web.Response(status=206 if ranged else 200, headers=headers)
    chunks = reader.chunks(first, last - first + 1)
    try:
        piece = await asyncio.to_thread(next, chunks, None)
    except OSError as exc:
        raise ApiError(502, f"segment {segment.id} is kept in object storage, which cannot "
                            f"serve it now: {exc}") from None
    response = web.StreamResponse(status=206 if ranged else 200, headers=headers)
    await response.prepare(request)
    while piece is not None:
        await response.write(piece)
        try:
            piece = await asyncio.to_thread(next, chunks, None)
        except OSError as exc:  # the headers are out: all that is left is to cut it short
            log.warning("segment %d: reading its copy broke off: %s", segment.id, exc)
            return response  # the client sees fewer bytes than Content-Length said
    await response.write_eof()
    return response


def byte_range(header: str | None, size: int) -> tuple[int, int]:
    """First and last byte of a satisfiable Range (see `satisfiable`), or the whole file."""
    match = _RANGE.fullmatch(header) if header else None
    if match is None:
        return 0, size - 1
    first, last = match.group(1), match.group(2)
    if not first:
        return max(0, size - int(last)), size - 1
    return int(first), min(size - 1, int(last)) if last else size - 1


def _stored_file(storage: StorageConfig, segment: SegmentRecord) -> tuple[Path, int]:
    """The segment's file and size; ApiError 404 when it is gone or lies outside storage."""
    path = Path(segment.path).resolve()
    roots = (storage.cache_dir.resolve(), storage.archive_dir.resolve())
    if not any(path.is_relative_to(root) for root in roots):
        log.warning("segment %d: catalog path outside the storage folders; not served",
                    segment.id)
        raise ApiError(404, f"there is no segment {segment.id}")
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        raise ApiError(404, f"segment {segment.id} is in the catalog but its file is missing "
                            "(removed by cleanup or retention?)")
    return path, info.st_size


def check_range(request: web.Request, size: int) -> None:
    """416 (JSON) for a Range that cannot be served, before FileResponse answers: malformed,
    several ranges, starting past the end, or a suffix of 0 bytes (`bytes=-0`, which
    aiohttp would read as the whole file and answer 206)."""
    header = request.headers.get("Range")
    if header is None or satisfiable(header, size):
        return
    raise ApiError(416, f"the Range must be one bytes range within the file's {size} "
                        "bytes", {"Content-Range": f"bytes */{size}"})


def satisfiable(header: str, size: int) -> bool:
    """RFC 9110 14.1.2: `first-last` (first <= last, first < size), `first-`, or `-suffix`
    with suffix > 0 on a non-empty file."""
    match = _RANGE.fullmatch(header)
    if match is None:
        return False
    first, last = match.group(1), match.group(2)
    if not first:
        return bool(last) and int(last) > 0 and size > 0
    return int(first) < size and (not last or int(first) <= int(last))


def download_name(segment: SegmentRecord) -> str:
    camera = re.sub(r"[^A-Za-z0-9_-]", "_", segment.camera)
    start = datetime.fromtimestamp(segment.start_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{camera}-{start}.mp4"
