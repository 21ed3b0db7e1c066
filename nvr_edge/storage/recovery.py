"""Making catalog and disk agree after a crash; `nvr-edge check` reports the same findings.

Order matters (docs/STORAGE.md): a `.part` file is first cut back to its last complete
fragment and fsynced, then renamed, then indexed. Each step is idempotent, so a crash
during recovery is repaired by the next recovery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nvr_edge.catalog import Catalog, SegmentQuery
from nvr_edge.config import Config
from nvr_edge.fsutil import finish_path, fsync_dir
from nvr_edge.models import SegmentStatus
from nvr_edge.storage.layout import (
    MOVING_SUFFIX,
    PART_GLOB,
    SEGMENT_GLOB,
    final_of,
    tier_roots,
)
from nvr_edge.storage.mp4box import playable_length_of
from nvr_edge.storage.probe import ProbeError, probe_segment
from nvr_edge.storage.writer_lock import is_held

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Finding:
    kind: str  # part-file | in-progress | unindexed-file | missing-file | size-mismatch | ...
    path: str
    detail: str = ""
    repaired: bool = False


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)
        log_fn = log.info if finding.repaired or finding.kind == "in-progress" else log.warning
        log_fn("%s %s %s%s", finding.kind, finding.path, finding.detail,
               " (repaired)" if finding.repaired else "")

    @property
    def differences(self) -> list[Finding]:
        return [f for f in self.findings if f.kind != "in-progress"]

    def to_dicts(self) -> list[dict[str, object]]:
        return [asdict(f) for f in self.findings]


def _files(root: Path, pattern: str, camera: str | None) -> Iterator[Path]:
    base = root / camera if camera else root
    if base.is_dir():
        yield from sorted(base.rglob(pattern))


def repair_part(part: Path) -> Path | None:
    """Cut a crashed `.part` back to its playable fragments and give it its final name.
    Returns the final path, or None when nothing playable was left (the file is removed)."""
    length = playable_length_of(str(part))
    if length == 0:
        part.unlink()
        fsync_dir(part.parent)
        return None
    final = final_of(part)
    n = 1
    while final.exists():
        final = part.with_name(f"{part.name.removesuffix('.mp4.part')}-r{n}.mp4")
        n += 1
    finish_path(part, length, final)
    return final


def reconcile(config: Config, catalog: Catalog, *, repair: bool,
              camera: str | None = None) -> Report:
    """Compare catalog and disk; with `repair`, fix every difference found. The `.part`
    files of a camera whose writer lock is held are being written: left alone."""
    report = Report()
    _finish_moves(config, catalog, report, repair, camera)
    for tier, root in tier_roots(config):
        _repair_parts(config, catalog, tier, root, report, repair, camera)
        for path in _files(root, SEGMENT_GLOB, camera):
            row = catalog.segment_by_path(str(path))
            if row is None:
                _index(catalog, path, tier, report, repair)
            elif row.status == SegmentStatus.DELETING:
                continue  # finished below: the deletion was decided, never undo it
            elif row.status == SegmentStatus.REMOTE:
                # an offload cut short: the copy was verified before the row said so
                if repair:
                    path.unlink(missing_ok=True)
                report.add(Finding("half-offloaded", str(path), "file of a segment kept in "
                                   "object storage", repaired=repair))
            elif row.bytes != path.stat().st_size or row.status != SegmentStatus.OK:
                detail = f"catalog says {row.bytes} bytes/{row.status}, file has " \
                         f"{path.stat().st_size} bytes"
                if repair:
                    _index(catalog, path, tier, report, repair=True, quiet=True)
                report.add(Finding("size-mismatch", str(path), detail, repaired=repair))
    for row in catalog.segments(SegmentQuery(camera=camera)):
        if row.status == SegmentStatus.DELETING:  # a crash interrupted a deletion: finish it
            if repair:
                Path(row.path).unlink(missing_ok=True)
                catalog.delete_by_path(row.path)
            report.add(Finding("half-deleted", row.path, "deletion interrupted",
                               repaired=repair))
            continue
        if row.status in (SegmentStatus.MISSING, SegmentStatus.REMOTE) \
                or Path(row.path).exists():
            continue
        if repair:
            catalog.set_status_by_path(row.path, SegmentStatus.MISSING)
        report.add(Finding("missing-file", row.path, "catalog row without a file",
                           repaired=repair))
    return report


def repair_parts(config: Config, catalog: Catalog, camera: str | None = None) -> Report:
    """Only the `.part` files, for when the catalog cannot be read: the files are repaired
    now and their rows go through the (spooling) catalog's writes."""
    report = Report()
    for tier, root in tier_roots(config):
        _repair_parts(config, catalog, tier, root, report, True, camera)
    return report


def _repair_parts(config: Config, catalog: Catalog, tier: str, root: Path, report: Report,
                  repair: bool, camera: str | None) -> None:
    for part in _files(root, PART_GLOB, camera):
        owner = part.relative_to(root).parts[0]
        if is_held(config.storage.state_dir, owner):
            report.add(Finding("in-progress", str(part), "being written by a live worker"))
            continue
        if not repair:
            report.add(Finding("part-file", str(part), "left by a crash"))
            continue
        size = part.stat().st_size
        final = repair_part(part)
        detail = (f"cut from {size} to {final.stat().st_size} bytes -> {final.name}"
                  if final else "no complete fragment; removed")
        report.add(Finding("part-file", str(part), detail, repaired=True))
        if final is not None:
            _index(catalog, final, tier, report, repair=True)


def _finish_moves(config: Config, catalog: Catalog, report: Report, repair: bool,
                  camera: str | None) -> None:
    """Leftovers of a tier move cut short: a partial `.moving` copy, or a segment present on
    both tiers, of which the catalog points to one (the other goes)."""
    cache, archive = config.storage.cache_dir, config.storage.archive_dir
    for partial in _files(archive, f"*{MOVING_SUFFIX}", camera):
        if repair:
            partial.unlink()
        report.add(Finding("partial-copy", str(partial), "interrupted move", repaired=repair))
    for cached in _files(cache, SEGMENT_GLOB, camera):
        twin = archive / cached.relative_to(cache)
        if not twin.exists():
            continue
        cache_row = catalog.segment_by_path(str(cached))
        # the archive copy was verified before its rename: keep it unless the catalog
        # still points to the cache copy
        extra = twin if cache_row is not None and cache_row.status == SegmentStatus.OK else cached
        if repair:
            extra.unlink()
            fsync_dir(extra.parent)
            if extra == cached and catalog.segment_by_path(str(twin)) is None:
                _index(catalog, twin, "archive", report, repair=True, quiet=True)
        report.add(Finding("duplicate", str(extra), "copy left by an interrupted move",
                           repaired=repair))


def _index(catalog: Catalog, path: Path, tier: str, report: Report, repair: bool,
           quiet: bool = False) -> None:
    if not repair:
        report.add(Finding("unindexed-file", str(path), "file without a catalog row"))
        return
    try:
        record = probe_segment(path, tier)
    except ProbeError as exc:
        report.add(Finding("unreadable-file", str(path), str(exc)))
        return
    catalog.add_segment(record)
    if not quiet:
        report.add(Finding("unindexed-file", str(path), "indexed", repaired=True))
