"""Plain data shared by the worker, the supervisor, the catalog and plugins."""

from __future__ import annotations

import enum
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


class CameraState(enum.StrEnum):
    STARTING = "starting"
    CONNECTING = "connecting"
    ONLINE = "online"        # packets are being recorded
    OFFLINE = "offline"      # the camera does not answer on its RTSP port
    RESTARTING = "restarting"
    DISABLED = "disabled"
    STOPPED = "stopped"


class Tier(enum.StrEnum):
    CACHE = "cache"      # SSD
    ARCHIVE = "archive"  # HDD


class TierState(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # missing, read-only or full: segments wait on the cache


class SegmentStatus(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"    # the file is gone
    DELETING = "deleting"  # removal under way
    REMOTE = "remote"      # the file left the box; a verified copy is in object storage


class AlertLevel(enum.StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class LiveMode(enum.StrEnum):
    """When a camera's live view is relayed."""

    ALWAYS = "always"        # the worker sends packets all the time (instant first frame)
    ON_DEMAND = "on_demand"  # only while someone watches
    OFF = "off"              # no live view


@dataclass(frozen=True)
class SegmentRecord:
    """One closed segment file, as indexed in the catalog. Times are UTC epoch milliseconds."""

    camera: str
    stream: str
    start_ms: int
    end_ms: int
    bytes: int
    path: str
    tier: str
    video_codec: str
    width: int
    height: int
    has_audio: bool
    id: int | None = None
    status: str = SegmentStatus.OK
    checksum: str | None = None  # "crc32:<hex>" of the whole file

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def start(self) -> str:
        return iso_utc(self.start_ms)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_ms"] = self.duration_ms
        data["start"] = self.start
        data["end"] = iso_utc(self.end_ms)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentRecord:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Alert:
    """Something an operator should know. `code` is stable and machine-readable."""

    code: str
    level: AlertLevel
    message: str
    camera: str | None = None
    at_ms: int = field(default_factory=lambda: now_ms())


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def parse_iso_ms(text: str) -> int:
    """ISO 8601 to epoch ms; a time without a zone is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)
