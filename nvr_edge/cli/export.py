"""`nvr-edge export --camera C --from T1 --to T2 -o OUT`: one MP4 of a camera's recording
(storage/export.py), from this box's disks or, for segments that left it, from their copy
in object storage (hook `nvr_segment_reader`)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import pluggy

from nvr_edge.catalog import Catalog, SegmentQuery
from nvr_edge.config import Config
from nvr_edge.models import SegmentRecord, SegmentStatus, iso_utc
from nvr_edge.storage.segment_source import segment_source

EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--camera", required=True)
    parser.add_argument("--from", dest="start", required=True,
                        help="ISO 8601 with an offset, e.g. 2026-11-28T10:00:00+01:00")
    parser.add_argument("--to", dest="end", required=True, help="ISO 8601 with an offset")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the MP4 to write")


def instant_ms(text: str, name: str) -> int:
    """Milliseconds since the epoch; ValueError naming `name` and the expected shape."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--{name} {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"--{name} {text!r} has no offset: say which clock, e.g. "
                         f"{text}Z or {text}+01:00")
    return int(moment.timestamp() * 1000)


def run_export(config: Config, pm: pluggy.PluginManager, args: argparse.Namespace) -> int:
    from nvr_edge.appliance.run import opened_catalog
    from nvr_edge.storage.export import ExportError, export_clip  # PyAV: only when exporting

    try:
        from_ms, to_ms = instant_ms(args.start, "from"), instant_ms(args.end, "to")
    except ValueError as exc:
        print(f"nvr-edge export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if to_ms <= from_ms:
        print("nvr-edge export: --to must be after --from", file=sys.stderr)
        return EXIT_USAGE
    with opened_catalog(config, pm) as catalog:
        segments = catalog.segments(SegmentQuery(
            camera=args.camera, stream="main", since_ms=from_ms, until_ms=to_ms,
            status=(SegmentStatus.OK, SegmentStatus.REMOTE)))

        def opener(segment: SegmentRecord) -> str | BinaryIO:
            return open_segment(segment, catalog, config, pm)

        def progress(done: int, total: int) -> None:
            print(f"export: {done}/{total} segment(s)", file=sys.stderr)

        try:
            result = export_clip(segments, from_ms, to_ms, args.output, opener, progress)
        except ExportError as exc:
            print(f"nvr-edge export: {args.camera}: {exc}", file=sys.stderr)
            return 1
    print(f"{result.path}: {args.camera} from {iso_utc(result.start_ms)} to "
          f"{iso_utc(result.end_ms)} ({(result.end_ms - result.start_ms) / 1000:.1f} s, "
          f"{result.segments} segment(s))")
    return 0


def open_segment(segment: SegmentRecord, catalog: Catalog, config: Config,
                 pm: pluggy.PluginManager) -> str | BinaryIO:
    """The segment's file on this box, or a seekable reader of its copy off the box."""
    return segment_source(segment, lambda: pm.hook.nvr_segment_reader(
        segment=segment, catalog=catalog, config=config))
