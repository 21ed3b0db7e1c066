"""Making catalog and disk agree after a crash; `nvr-edge check` reports the same findings.

Order matters (docs/STORAGE.md): a `.part` file is first cut back to its last complete
fragment and fsynced, then renamed, then indexed. Each step is idempotent, so a crash
during recovery is repaired by the next recovery.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .catalog import Catalog, SegmentQuery
from .config import Config
from .fsutil import fsync_dir
from .models import Tier
from .mp4box import playable_length_of
from .probe import ProbeError, probe_segment

log = logging.getLogger(__name__)

# A .part touched this recently belongs to a running worker, not to a crash.
IN_PROGRESS_S = 15.0


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


def tier_roots(config: Config) -> list[tuple[str, Path]]:
    return [(Tier.CACHE, config.storage.cache_dir), (Tier.ARCHIVE, config.storage.archive_dir)]


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
    fd = os.open(part, os.O_RDWR)
    try:
        os.ftruncate(fd, length)
        os.fsync(fd)
    finally:
        os.close(fd)
    final = part.with_name(part.name.removesuffix(".part"))
    n = 1
    while final.exists():
        final = part.with_name(f"{part.name.removesuffix('.mp4.part')}-r{n}.mp4")
        n += 1
    os.rename(part, final)
    fsync_dir(final.parent)
    return final


def reconcile(config: Config, catalog: Catalog, *, repair: bool, writers_active: bool,
              camera: str | None = None) -> Report:
    """Compare catalog and disk; with `repair`, fix every difference found.

    `writers_active`: an appliance is running, so recently touched `.part` files are
    segments being written, not crash leftovers."""
    report = Report()
    now = time.time()
    for tier, root in tier_roots(config):
        for part in _files(root, "*.mp4.part", camera):
            if writers_active and now - part.stat().st_mtime < IN_PROGRESS_S:
                report.add(Finding("in-progress", str(part), "being written"))
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
        for path in _files(root, "*.mp4", camera):
            row = catalog.segment_by_path(str(path))
            if row is None:
                _index(catalog, path, tier, report, repair)
            elif row.bytes != path.stat().st_size or row.status != "ok":
                detail = f"catalog says {row.bytes} bytes/{row.status}, file has " \
                         f"{path.stat().st_size} bytes"
                if repair:
                    _index(catalog, path, tier, report, repair=True, quiet=True)
                report.add(Finding("size-mismatch", str(path), detail, repaired=repair))
    for row in catalog.segments(SegmentQuery(camera=camera)):
        if Path(row.path).exists() or row.status == "missing":
            continue
        if repair and row.id is not None:
            catalog.set_status(row.id, "missing")
        report.add(Finding("missing-file", row.path, "catalog row without a file",
                           repaired=repair))
    return report


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
