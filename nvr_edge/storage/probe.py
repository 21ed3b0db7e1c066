"""Reading a segment file back: what it holds, when it starts, how long it runs."""

from __future__ import annotations

from pathlib import Path

import av

from nvr_edge.models import SegmentRecord, parse_iso_ms
from nvr_edge.storage.layout import start_ms_from_name


class ProbeError(RuntimeError):
    pass


def probe_segment(path: Path, tier: str) -> SegmentRecord:
    """Build the catalog row of a segment from the file alone (the file is the truth)."""
    try:
        with av.open(str(path)) as container:
            tags = dict(container.metadata)
            video = next(iter(container.streams.video), None)
            if video is None:
                raise ProbeError(f"{path}: no video track")
            has_audio = bool(container.streams.audio)
            first = last = None
            for packet in container.demux(video):
                if packet.pts is None:
                    continue
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                start = float(packet.pts * packet.time_base)
                first = start if first is None else min(first, start)
                last = end if last is None else max(last, end)
            codec = video.codec_context
            name, width, height = codec.name, codec.width, codec.height
    except av.FFmpegError as exc:
        raise ProbeError(f"{path}: unreadable ({exc})") from None
    duration_ms = round(((last or 0) - (first or 0)) * 1000)
    start_ms = _start_ms(path, tags)
    return SegmentRecord(
        camera=tags.get("nvr_camera") or path.parent.parent.name,
        stream=tags.get("nvr_stream") or "main", start_ms=start_ms,
        end_ms=start_ms + duration_ms, bytes=path.stat().st_size, path=str(path), tier=tier,
        video_codec=name, width=width, height=height, has_audio=has_audio)


def _start_ms(path: Path, tags: dict[str, str]) -> int:
    if "nvr_start" in tags:
        return parse_iso_ms(tags["nvr_start"])
    # <camera>/<YYYY-MM-DD>/<HHMMSS>[-n].mp4 written by another tool: second precision
    start_ms = start_ms_from_name(path)
    if start_ms is None:
        raise ProbeError(f"{path}: no nvr_start tag and not named <date>/<HHMMSS>.mp4")
    return start_ms
