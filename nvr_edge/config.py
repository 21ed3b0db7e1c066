"""The appliance's configuration: one TOML file, validated into typed, frozen objects.

Every problem is reported as one `ConfigError` naming the file, the key path
(`cameras[1].main`) and what is wrong. Relative paths are resolved against the
file's own folder so a config can travel with its data (the demo relies on it).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from nvr_edge.logs import redact
from nvr_edge.models import LiveMode

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
CAMERA_SCHEMES = ("rtsp", "rtsps")
CATALOG_SCHEMES = ("sqlite", "postgresql", "postgres")
DEFAULT_ROOT = Path("/var/lib/nvr-edge")


class ConfigError(ValueError):
    """A configuration problem, located by file and key path."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, redact(problem)
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {self.problem}")


@dataclass(frozen=True)
class RetryPolicyConfig:
    """The spec's RetryPolicy: tries before giving up, first delay, growth, cap."""

    max_retries: int = 5
    initial_delay_ms: int = 1000
    max_delay_ms: int = 30000
    backoff_multiplier: float = 2.0


@dataclass(frozen=True)
class StallConfig:
    """The spec's FrameDropMonitor: a gap longer than timeout_ms counts one drop."""

    timeout_ms: int = 500
    max_drops: int = 10


@dataclass(frozen=True)
class RecordingConfig:
    retry: RetryPolicyConfig = field(default_factory=RetryPolicyConfig)
    stall: StallConfig = field(default_factory=StallConfig)
    connect_timeout_s: float = 10.0
    probe_interval_s: float = 1.0
    fragment_ms: int = 1000
    unsupported_audio: str = "transcode"  # or "drop"


@dataclass(frozen=True)
class FloorConfig:
    """Free space a tier must keep: the larger of an absolute and a relative floor."""

    min_free_gb: float = 0.0
    min_free_percent: float = 0.0

    def bytes_for(self, total_bytes: int) -> int:
        return int(max(self.min_free_gb * 1024**3, total_bytes * self.min_free_percent / 100))


@dataclass(frozen=True)
class StorageConfig:
    cache_dir: Path = DEFAULT_ROOT / "cache"
    archive_dir: Path = DEFAULT_ROOT / "archive"
    state_dir: Path = DEFAULT_ROOT / "state"
    segment_seconds: int = 180
    cache_floor: FloorConfig = field(default_factory=lambda: FloorConfig(min_free_percent=5))
    archive_floor: FloorConfig = field(default_factory=lambda: FloorConfig(min_free_percent=5))
    delete_policy: str = "archived"  # or "any": may emergency cleanup delete unarchived?
    move_rate_mb_s: float = 20.0
    move_grace_s: float = 30.0       # the cache copy outlives the move for open readers
    archive_retry_s: float = 30.0


@dataclass(frozen=True)
class HealthConfig:
    """The spec's RecordingProcessMonitor and the restart storm guard."""

    check_interval_s: float = 5.0
    cpu_warn_percent: float = 80.0
    rss_limit_mb: int = 1024
    segments_window_s: int = 600
    restart_delay_s: float = 5.0
    storm_restarts: int = 5
    storm_window_s: int = 600
    storm_disable_s: int = 1800


@dataclass(frozen=True)
class CameraConfig:
    id: str
    main: str
    sub: str | None = None
    name: str = ""
    enabled: bool = True
    retention_days: float = 0.0  # 0: keep until space is needed
    live: LiveMode = LiveMode.ALWAYS


@dataclass(frozen=True)
class Config:
    device_id: str
    storage: StorageConfig
    catalog_url: str
    recording: RecordingConfig
    cameras: tuple[CameraConfig, ...]
    source: str = "<config>"
    health: HealthConfig = field(default_factory=HealthConfig)
    # Plugins' own tables ([mqtt], [web] ...), each parsed by the reader the plugin gave
    # through the nvr_config_sections hook.
    sections: Mapping[str, Any] = field(default_factory=dict)
    # The TOML document as written (relative paths unresolved): what get_config shows
    # and what a change is applied to before the file is rewritten.
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def camera(self, camera_id: str) -> CameraConfig:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(camera_id)


T = TypeVar("T")


class ConfigTable:
    """A TOML table being read: tracks the key path and rejects unknown keys.

    Plugins read their own sections with it, so their errors look like the core's."""

    def __init__(self, data: Any, path: str, source: str, base_dir: Path) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(source, path, f"expected a table, got {_kind(data)}")
        self.data, self.path, self.source, self.base_dir = data, path, source, base_dir
        self.seen: set[str] = set()
        self.present = True  # False: an absent table read as empty (all defaults)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, problem: str) -> ConfigError:
        return ConfigError(self.source, self.key(name), problem)

    def _get(self, name: str, default: Any, check: Callable[[Any], bool], kind: str) -> Any:
        self.seen.add(name)
        if name not in self.data:
            if default is _REQUIRED:
                raise self.error(name, "is required")
            return default
        value = self.data[name]
        if not check(value):
            raise self.error(name, f"expected {kind}, got {_kind(value)} {_show(value)}")
        return value

    def string(self, name: str, default: Any = None) -> Any:
        return self._get(name, default, lambda v: isinstance(v, str), "a string")

    def boolean(self, name: str, default: bool) -> bool:
        return self._get(name, default, lambda v: isinstance(v, bool), "true or false")

    def integer(self, name: str, default: Any, lo: int, hi: int) -> int:
        value = self._get(name, default, _is_int, "an integer")
        if not lo <= value <= hi:
            raise self.error(name, f"must be between {lo} and {hi}, got {value}")
        return value

    def number(self, name: str, default: float, lo: float, hi: float) -> float:
        value = self._get(name, default, _is_number, "a number")
        if not (math.isfinite(value) and lo <= value <= hi):
            raise self.error(name, f"must be between {lo} and {hi}, got {value}")
        return float(value)

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        value = self.string(name, default)
        if value not in options:
            raise self.error(name, f"must be one of {', '.join(options)}, got {value!r}")
        return value

    def path_(self, name: str, default: Path) -> Path:
        value = self.string(name, None)
        if value is None:
            return default
        if not value.strip():
            raise self.error(name, "must not be empty")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def table(self, name: str) -> ConfigTable:
        self.seen.add(name)
        table = ConfigTable(self.data.get(name, {}), self.key(name), self.source, self.base_dir)
        table.present = name in self.data
        return table

    def strings(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._get(name, default, lambda v: isinstance(v, list | tuple)
                          and all(isinstance(x, str) for x in v), "an array of strings")
        return tuple(value)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise self.error(unknown[0], "unknown key (a typo?)")


_REQUIRED = object()


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _kind(v: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(v), type(v).__name__)


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _identifier(table: ConfigTable, name: str, what: str) -> str:
    value = table.string(name, _REQUIRED)
    if not SAFE_ID.match(value):
        raise table.error(
            name,
            f"{what} {value!r} must be 1-64 letters, digits, '-' or '_', starting with a "
            "letter or digit (it names folders and topics)",
        )
    return value


def _camera_url(table: ConfigTable, name: str, default: Any) -> str | None:
    value = table.string(name, default)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise table.error(name, f"is not a valid URL ({exc})") from None
    if parts.scheme not in CAMERA_SCHEMES:
        raise table.error(name, f"expected an rtsp:// or rtsps:// URL, got {redact(value)!r}")
    if not parts.hostname:
        raise table.error(name, f"has no host: {redact(value)!r}")
    if port == 0:
        raise table.error(name, "port 0 is not a camera port")
    return value


def _catalog_url(table: ConfigTable, state_dir: Path) -> str:
    value = table.string("url", None)
    if value is None:
        return f"sqlite:///{state_dir / 'catalog.db'}"
    scheme = value.split(":", 1)[0]
    if scheme not in CATALOG_SCHEMES or "://" not in value:
        raise table.error(
            "url", f"expected sqlite:///PATH or postgresql://..., got {redact(value)!r}"
        )
    if scheme == "sqlite" and not value.removeprefix("sqlite://").startswith("/"):
        raise table.error("url", "sqlite URLs need an absolute path: sqlite:////var/lib/x.db")
    return value


def _read_recording(t: ConfigTable) -> RecordingConfig:
    r = t.table("retry")
    retry = RetryPolicyConfig(
        max_retries=r.integer("max_retries", 5, 1, 1000),
        initial_delay_ms=r.integer("initial_delay_ms", 1000, 10, 600_000),
        max_delay_ms=r.integer("max_delay_ms", 30_000, 10, 3_600_000),
        backoff_multiplier=r.number("backoff_multiplier", 2.0, 1.0, 10.0),
    )
    r.finish()
    if retry.max_delay_ms < retry.initial_delay_ms:
        raise r.error("max_delay_ms", "must not be smaller than initial_delay_ms")
    s = t.table("stall")
    stall = StallConfig(
        timeout_ms=s.integer("timeout_ms", 500, 50, 60_000),
        max_drops=s.integer("max_drops", 10, 1, 1000),
    )
    s.finish()
    recording = RecordingConfig(
        retry=retry,
        stall=stall,
        connect_timeout_s=t.number("connect_timeout_s", 10.0, 0.5, 120.0),
        probe_interval_s=t.number("probe_interval_s", 1.0, 0.1, 60.0),
        fragment_ms=t.integer("fragment_ms", 1000, 100, 10_000),
        unsupported_audio=t.choice("unsupported_audio", "transcode", ("transcode", "drop")),
    )
    t.finish()
    return recording


def _read_floor(t: ConfigTable, prefix: str) -> FloorConfig:
    return FloorConfig(
        min_free_gb=t.number(f"{prefix}_min_free_gb", 0.0, 0.0, 100_000.0),
        min_free_percent=t.number(f"{prefix}_min_free_percent", 5.0, 0.0, 90.0),
    )


def _read_storage(t: ConfigTable) -> StorageConfig:
    storage = StorageConfig(
        cache_dir=t.path_("cache_dir", DEFAULT_ROOT / "cache"),
        archive_dir=t.path_("archive_dir", DEFAULT_ROOT / "archive"),
        state_dir=t.path_("state_dir", DEFAULT_ROOT / "state"),
        segment_seconds=t.integer("segment_seconds", 180, 10, 600),
        cache_floor=_read_floor(t, "cache"),
        archive_floor=_read_floor(t, "archive"),
        delete_policy=t.choice("delete_policy", "archived", ("archived", "any")),
        move_rate_mb_s=t.number("move_rate_mb_s", 20.0, 0.1, 10_000.0),
        move_grace_s=t.number("move_grace_s", 30.0, 0.0, 3600.0),
        archive_retry_s=t.number("archive_retry_s", 30.0, 0.5, 3600.0),
    )
    t.finish()
    if storage.cache_dir == storage.archive_dir:
        raise t.error("archive_dir", "must differ from cache_dir")
    return storage


def _read_health(t: ConfigTable) -> HealthConfig:
    health = HealthConfig(
        check_interval_s=t.number("check_interval_s", 5.0, 0.2, 600.0),
        cpu_warn_percent=t.number("cpu_warn_percent", 80.0, 1.0, 1000.0),
        rss_limit_mb=t.integer("rss_limit_mb", 1024, 16, 1_000_000),
        segments_window_s=t.integer("segments_window_s", 600, 60, 86_400),
        restart_delay_s=t.number("restart_delay_s", 5.0, 0.0, 600.0),
        storm_restarts=t.integer("storm_restarts", 5, 1, 1000),
        storm_window_s=t.integer("storm_window_s", 600, 10, 86_400),
        storm_disable_s=t.integer("storm_disable_s", 1800, 1, 604_800),
    )
    t.finish()
    return health


def _read_cameras(root: ConfigTable) -> tuple[CameraConfig, ...]:
    root.seen.add("cameras")
    raw = root.data.get("cameras", [])
    if not isinstance(raw, list):
        raise root.error("cameras", f"expected an array of tables ([[cameras]]), got {_kind(raw)}")
    cameras: list[CameraConfig] = []
    for index, item in enumerate(raw):
        t = ConfigTable(item, f"cameras[{index}]", root.source, root.base_dir)
        cam = CameraConfig(
            id=_identifier(t, "id", "camera id"),
            main=_camera_url(t, "main", _REQUIRED) or "",
            sub=_camera_url(t, "sub", None),
            name=t.string("name", ""),
            enabled=t.boolean("enabled", True),
            retention_days=t.number("retention_days", 0.0, 0.0, 36500.0),
            live=LiveMode(t.choice("live", LiveMode.ALWAYS, tuple(LiveMode))),
        )
        t.finish()
        if any(c.id == cam.id for c in cameras):
            raise t.error("id", f"duplicate camera id {cam.id!r}")
        cameras.append(cam)
    return tuple(cameras)


SectionReader = Callable[[ConfigTable], Any]
CORE_SECTIONS = ("device", "storage", "catalog", "recording", "health", "cameras")


def parse_config(data: Mapping[str, Any], source: str = "<config>",
                 base_dir: Path | None = None,
                 readers: Mapping[str, SectionReader] | None = None) -> Config:
    """Validate an already-parsed TOML document.

    `readers` parse the plugins' sections (`nvr_edge.plugins.section_readers_of(pm)`);
    without them a plugin's table is an unknown key."""
    readers = readers or {}
    root = ConfigTable(data, "", source, base_dir or Path.cwd())
    device = root.table("device")
    device_id = _identifier(device, "id", "device id")
    device.finish()

    storage = _read_storage(root.table("storage"))

    cat = root.table("catalog")
    catalog_url = _catalog_url(cat, storage.state_dir)
    cat.finish()

    recording = _read_recording(root.table("recording"))
    health = _read_health(root.table("health"))
    cameras = _read_cameras(root)
    sections = {name: _read_section(root, name, reader) for name, reader in readers.items()
                if name not in CORE_SECTIONS}
    root.finish()
    return Config(device_id, storage, catalog_url, recording, cameras, source, health,
                  sections, document=data)


def _read_section(root: ConfigTable, name: str, reader: SectionReader) -> Any:
    table = root.table(name)
    value = reader(table)
    table.finish()
    return value


def load_config(path: str | Path,
                readers: Mapping[str, SectionReader] | None = None) -> Config:
    """Read and validate a config file; every failure is a ConfigError."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(source, "", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"invalid TOML: {exc}") from None
    return parse_config(data, source, path.resolve().parent, readers)
