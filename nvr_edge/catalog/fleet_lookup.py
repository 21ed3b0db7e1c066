"""Where a segment of a fleet lives: one box's camera at one moment, in the shared catalog."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nvr_edge.catalog.pg_shared import DAY_MS
from nvr_edge.models import iso_utc

_COLUMNS = "device, camera, stream, start_ms, end_ms, tier, path, status, object_key"


@dataclass(frozen=True)
class Located:
    device: str
    camera: str
    stream: str
    start_ms: int
    end_ms: int
    tier: str
    path: str
    status: str
    object_key: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "start": iso_utc(self.start_ms), "end": iso_utc(self.end_ms)}


@dataclass(frozen=True)
class Answer:
    at: list[Located]            # the segments that hold the moment (one per stream)
    before: Located | None       # when none does: the nearest ones on either side
    after: Located | None


class UnknownDevice(LookupError):
    pass


def locate(conn: Any, device: str, camera: str, at_ms: int) -> Answer:
    """Every bound names `start_ms`, so each query reads the partitions of one or two days
    (a segment never spans more than a day), or walks days in order to the nearest row."""
    known = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM catalog_roles WHERE device = %s) "
        "OR EXISTS (SELECT 1 FROM segments WHERE device = %s)", (device, device)).fetchone()[0]
    if not known:
        raise UnknownDevice(device)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM segments WHERE device = %s AND camera = %s "
        "AND start_ms <= %s AND start_ms > %s AND end_ms > %s ORDER BY start_ms, stream",
        (device, camera, at_ms, at_ms - DAY_MS, at_ms)).fetchall()
    if rows:
        return Answer([Located(*row) for row in rows], None, None)
    before = conn.execute(
        f"SELECT {_COLUMNS} FROM segments WHERE device = %s AND camera = %s "
        "AND start_ms <= %s ORDER BY start_ms DESC LIMIT 1", (device, camera, at_ms)).fetchone()
    after = conn.execute(
        f"SELECT {_COLUMNS} FROM segments WHERE device = %s AND camera = %s "
        "AND start_ms > %s ORDER BY start_ms LIMIT 1", (device, camera, at_ms)).fetchone()
    return Answer([], Located(*before) if before else None, Located(*after) if after else None)
