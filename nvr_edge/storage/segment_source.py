"""Where a recorded segment's bytes are read from: its file on this box, or a seekable
reader of its copy off the box (a plugin's `nvr_segment_reader`). Light (no PyAV): the CLI
and the web plugin both open segments through it before anything is decoded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nvr_edge.api import RemoteSegment
from nvr_edge.models import SegmentRecord, SegmentStatus
from nvr_edge.storage.range_file import RangeFile


class ExportError(RuntimeError):
    """Nothing to export, or a segment that cannot be read; the message says which."""


def segment_source(segment: SegmentRecord,
                   find_remote: Callable[[], RemoteSegment | None]) -> str | BinaryIO:
    """The segment's path on this box, else a reader of the copy `find_remote()` names;
    ExportError when neither exists."""
    if segment.status == SegmentStatus.OK and Path(segment.path).exists():
        return segment.path
    remote = find_remote()
    if remote is None:
        raise ExportError(f"segment {segment.start} left this box and no plugin can read its "
                          "copy (is the object-store plugin configured?)")
    return RangeFile(remote, segment.bytes)
