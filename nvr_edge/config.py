"""The appliance's configuration: one TOML file, validated into typed, frozen objects.

Each key is declared once, on its dataclass field (`config_key()`: default, range or choices,
one-line doc); one generic reader (`read_section`) checks a table against those
declarations, and plugins declare their own sections the same way. Every problem is
reported as one `ConfigError` naming the file, the key path (`cameras[1].main`) and what
is wrong. Relative paths are resolved against the file's own folder so a config can
travel with its data (the demo relies on it).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from enum import Enum
from functools import cache, partial
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from nvr_edge.config_secrets import Secret, declare_secrets, is_secret_key
from nvr_edge.logs import redact
from nvr_edge.models import LiveMode
from nvr_edge.urls import control_problem, split_url, url_problem
from nvr_edge.v4l2_source import V4l2UrlError, is_v4l2_url, parse_v4l2_url

# \A and \Z, not ^ and $: `$` also matches before a trailing newline ("cam\n").
SAFE_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
CAMERA_SCHEMES = ("rtsp", "rtsps")
CATALOG_SCHEMES = ("sqlite", "postgresql", "postgres")
DEFAULT_ROOT = Path("/var/lib/nvr-edge")


class ConfigError(ValueError):
    """A configuration problem, located by file and key path."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, redact(problem)
        shown = key if len(key) <= 100 else key[:97] + "..."  # a 90 KB typo is no message
        where = f"{source}: {shown}" if key else source
        super().__init__(f"{where}: {self.problem}")


# Each key is declared once, on its dataclass field: default, range or choices, one-line
# doc. The generic reader (`read_section`) and the docs check (`describe_section`) read
# those declarations, so no default is written twice.
_DECLARATION = "nvr_edge.config_key"  # where a declaration sits in a field's metadata
_REQUIRED = object()

ValueReader = Callable[["ConfigTable", str, Any], Any]
Check = Callable[["ConfigTable", Any], None]


@dataclass(frozen=True)
class ConfigKey:
    """One declared key. Its type is the field's annotation: bool, int, float, str, Path,
    a StrEnum or tuple[str, ...], each optionally `| None`."""

    doc: str
    lo: float | None = None          # inclusive bounds of an int or a float
    hi: float | None = None
    choices: tuple[str, ...] = ()    # the allowed strings (a StrEnum: its members)
    read: ValueReader | None = None  # (table, key, default) -> value: what a type cannot say
    shown: str | None = None         # the documented default, when the real one is computed
    secret: Secret | None = None     # masked wherever the config is shown (config_secrets)


@dataclass(frozen=True)
class ConfigGroup:
    """A field that is itself a declared dataclass: its own sub-table (`[recording.retry]`)
    or, with a prefix, keys of its parent's table (`storage.cache_min_free_gb`)."""

    cls: type
    prefix: str | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    check: Check | None = None


def config_key(default: Any = _REQUIRED, *, doc: str, lo: float | None = None,
               hi: float | None = None, choices: tuple[str, ...] = (),
               read: ValueReader | None = None, shown: str | None = None,
               secret: Secret | None = None) -> Any:
    """Declare a config key as a field of a frozen dataclass; without a default the key is
    required. A plugin declares its section the same way and reads it with `read_section`:

        @dataclass(frozen=True)
        class GreeterSettings:
            greeting: str = config_key("hello", doc="what the greeter says")
            times: int = config_key(1, lo=1, hi=10, doc="how often it says it")

        @hookimpl
        def nvr_config_sections():
            return {"greeter": lambda table: read_section(GreeterSettings, table)}

    `secret` (a `Secret`) masks the value, or its password or stream key, wherever the
    config is shown."""
    metadata = {_DECLARATION: ConfigKey(doc, lo, hi, tuple(choices), read, shown, secret)}
    if default is _REQUIRED:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def config_subtable(cls: type, *, check: Check | None = None) -> Any:
    """Declare a sub-table read into the declared dataclass `cls`; `check(table, value)`
    then enforces the rules that span its keys."""
    return field(default_factory=cls, metadata={_DECLARATION: ConfigGroup(cls, check=check)})


def config_group(cls: type, prefix: str, **defaults: Any) -> Any:
    """Declare `cls`'s keys inside the parent's table, each name prefixed (`cache_`), with
    `defaults` in place of the ones `cls` declares."""
    return field(default_factory=partial(cls, **defaults),
                 metadata={_DECLARATION: ConfigGroup(cls, prefix, defaults)})


def _identifier(what: str) -> ValueReader:
    def read(table: ConfigTable, name: str, default: Any) -> str:
        value = table.string(name, default)
        if not SAFE_ID.match(value):
            raise table.error(
                name,
                f"{what} {value!r} must be 1-64 letters, digits, '-' or '_', starting with a "
                "letter or digit (it names folders and topics)",
            )
        return value
    return read


def read_url(table: ConfigTable, name: str, default: Any, schemes: tuple[str, ...],
             expected: str = "", encode_userinfo: bool = False) -> Any:
    """The URL at `name` (or `default` when absent), checked against `schemes` (any case)
    and given back with its scheme in lower case, the form FFmpeg and the clients match:
    what check-config accepts must run (`encode_userinfo`: user and password
    percent-encoded too, for clients that split at the first '@'). Errors never quote the
    password."""
    value = table.string(name, default)
    if value is None:
        return None
    problem = url_problem(value, schemes, expected)
    if problem:
        raise table.error(name, problem)
    parts = split_url(value)
    assert parts is not None  # url_problem checked it
    return parts.encoded() if encode_userinfo else parts.text()


def _camera_url(table: ConfigTable, name: str, default: Any) -> str | None:
    return read_url(table, name, default,  # type: ignore[no-any-return]
                    CAMERA_SCHEMES, "an rtsp:// or rtsps:// URL")


def _main_url(table: ConfigTable, name: str, default: Any) -> str | None:
    """An RTSP URL, or a local capture device's `v4l2:/dev/...?...` (v4l2_source.py)."""
    value = table.string(name, default)
    if value is None or not is_v4l2_url(value):
        return read_url(table, name, default,  # type: ignore[no-any-return]
                        CAMERA_SCHEMES, "an rtsp:// or rtsps:// URL, or v4l2:/dev/...")
    problem = control_problem(value)
    if problem:
        raise table.error(name, problem)
    try:
        parse_v4l2_url(value)
    except V4l2UrlError as exc:
        raise table.error(name, f"bad v4l2: URL: {exc}") from None
    return "v4l2" + value[4:]  # the scheme in lower case, as for RTSP


def _catalog_url(table: ConfigTable, name: str, default: Any) -> str | None:
    value = table.string(name, default)
    if value is None or not value.lower().startswith("sqlite:"):
        # libpq ends the userinfo at the first '@': hand it an encoded password
        return read_url(table, name, default,  # type: ignore[no-any-return]
                        CATALOG_SCHEMES, "sqlite:///PATH or postgresql://...",
                        encode_userinfo=True)
    problem = control_problem(value)
    if problem:
        raise table.error(name, problem)
    if not value[len("sqlite:"):].startswith("///"):
        raise table.error(name, "sqlite URLs need an absolute path: sqlite:////var/lib/x.db")
    return "sqlite:" + value[len("sqlite:"):]


@dataclass(frozen=True)
class RetryPolicyConfig:
    """The reconnect schedule: retries before the alert, first delay, growth, cap."""

    max_retries: int = config_key(
        5, lo=1, hi=1000,
        doc="retries before the camera_connection_failed alert (then every max_delay_ms)")
    initial_delay_ms: int = config_key(1000, lo=10, hi=600_000, doc="first wait")
    max_delay_ms: int = config_key(30_000, lo=10, hi=3_600_000, doc="the longest wait")
    backoff_multiplier: float = config_key(2.0, lo=1.0, hi=10.0, doc="growth per failure")


def _check_retry(t: ConfigTable, retry: RetryPolicyConfig) -> None:
    if retry.max_delay_ms < retry.initial_delay_ms:
        raise t.error("max_delay_ms", "must not be smaller than initial_delay_ms")


@dataclass(frozen=True)
class StallConfig:
    """Stall detection: a gap longer than timeout_ms counts one drop."""

    timeout_ms: int = config_key(
        500, lo=50, hi=60_000, doc="a gap longer than this counts one drop")
    max_drops: int = config_key(10, lo=1, hi=1000, doc="more drops than this in a row: reconnect")


@dataclass(frozen=True)
class RecordingConfig:
    retry: RetryPolicyConfig = config_subtable(RetryPolicyConfig, check=_check_retry)
    stall: StallConfig = config_subtable(StallConfig)
    connect_timeout_s: float = config_key(10.0, lo=0.5, hi=120.0, doc="RTSP open timeout")
    probe_interval_s: float = config_key(
        1.0, lo=0.1, hi=60.0,
        doc="how often an offline camera's RTSP port (a USB camera: its device node) is "
            "checked while it waits")
    fragment_ms: int = config_key(
        1000, lo=100, hi=10_000, doc="fMP4 fragment length: what a power cut can lose")
    unsupported_audio: str = config_key(
        "transcode", choices=("transcode", "drop"),
        doc="audio MP4 cannot carry: transcoded to AAC or dropped")
    engine: str = config_key(
        "pyav", choices=("pyav", "native"),
        doc="the packet path: PyAV in Python, or the compiled loop (native/remux.c) for "
            "H.264/H.265 cameras recorded by the default writer")


@dataclass(frozen=True)
class FloorConfig:
    """Free space a tier must keep: the larger of an absolute and a relative floor."""

    min_free_gb: float = config_key(0.0, lo=0.0, hi=100_000.0, doc="free space to keep, GiB")
    min_free_percent: float = config_key(
        0.0, lo=0.0, hi=90.0, doc="free space to keep, percent of the tier's size")

    def bytes_for(self, total_bytes: int) -> int:
        return int(max(self.min_free_gb * 1024**3, total_bytes * self.min_free_percent / 100))


@dataclass(frozen=True)
class StorageConfig:
    cache_dir: Path = config_key(DEFAULT_ROOT / "cache", doc="SSD: segments are written here")
    archive_dir: Path = config_key(
        DEFAULT_ROOT / "archive", doc="HDD: the tier mover moves closed segments here")
    state_dir: Path = config_key(
        DEFAULT_ROOT / "state", doc="lock file, status file, catalog spool, default SQLite catalog")
    segment_seconds: int = config_key(
        180, lo=10, hi=600, doc="a segment ends at the first keyframe at or after this length")
    cache_floor: FloorConfig = config_group(FloorConfig, "cache_", min_free_percent=5.0)
    archive_floor: FloorConfig = config_group(FloorConfig, "archive_", min_free_percent=5.0)
    delete_policy: str = config_key(
        "archived", choices=("archived", "any"),
        doc="what emergency cleanup may delete: archived segments only (with an object store: "
            "verified there), or any")
    move_rate_mb_s: float = config_key(20.0, lo=0.1, hi=10_000.0, doc="tier mover copy rate")
    move_grace_s: float = config_key(
        30.0, lo=0.0, hi=3600.0,
        doc="how long a moved segment's cache copy stays for readers of the old path")
    archive_retry_s: float = config_key(
        30.0, lo=0.5, hi=3600.0, doc="how often a degraded archive is retried")


@dataclass(frozen=True)
class HealthConfig:
    """Worker health checks (CPU, memory, segment rate) and the restart storm guard."""

    check_interval_s: float = config_key(5.0, lo=0.2, hi=600.0, doc="how often workers are checked")
    cpu_warn_percent: float = config_key(
        80.0, lo=1.0, hi=1000.0, doc="a worker above this (of one core) raises camera_cpu_high")
    rss_limit_mb: int = config_key(
        1024, lo=16, hi=1_000_000, doc="a worker above this is restarted")
    segments_window_s: int = config_key(
        600, lo=60, hi=86_400,
        doc="online this long with under half the expected segments: restart")
    restart_delay_s: float = config_key(
        5.0, lo=0.0, hi=600.0, doc="wait before restarting a worker")
    storm_restarts: int = config_key(
        5, lo=1, hi=1000, doc="more restarts than this within storm_window_s: disable the camera")
    storm_window_s: int = config_key(
        600, lo=10, hi=86_400, doc="the window storm_restarts counts in")
    storm_disable_s: int = config_key(
        1800, lo=1, hi=604_800,
        doc="how long an unstable camera stays disabled before it is retried")


@dataclass(frozen=True)
class CameraConfig:
    id: str = config_key(
        doc="1-64 of A-Z a-z 0-9 - _ (names folders)", read=_identifier("camera id"))
    main: str = config_key(
        doc="rtsp:// or rtsps:// URL of the stream to record, or a USB camera's "
            "v4l2:/dev/...?fourcc=MJPG&width=W&height=H&fps=F",
        read=_main_url, secret=Secret.URL)
    sub: str | None = config_key(
        None, doc="the live-view stream; without it the main stream is relayed",
        read=_camera_url, secret=Secret.URL)
    name: str = config_key("", doc="a display name")
    enabled: bool = config_key(True, doc="false: not recorded, state disabled")
    retention_days: float = config_key(
        0.0, lo=0.0, hi=36_500.0,
        doc="delete segments older than this (0: keep until space is needed)")
    live: LiveMode = config_key(
        LiveMode.ALWAYS, doc="the live relay: kept running, started by the first viewer, or off")


@dataclass(frozen=True)
class DeviceSection:
    """[device], read into Config.device_id."""

    id: str = config_key(
        doc="this box's id: 1-64 of A-Z a-z 0-9 - _", read=_identifier("device id"))


@dataclass(frozen=True)
class CatalogSection:
    """[catalog], read into Config.catalog_url (the default depends on storage.state_dir)."""

    url: str | None = config_key(
        None,
        doc="sqlite:////abs/path.db or postgresql://user[:pw]@host:port/db",
        read=_catalog_url,
        shown="sqlite:///<state_dir>/catalog.db",
        secret=Secret.URL)


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


# The core sections declared with config_key(), by the key path docs/CONFIG.md writes them
# under (tests/test_config_docs.py compares the two).
DECLARED_SECTIONS: Mapping[str, type] = {
    "device": DeviceSection, "storage": StorageConfig, "catalog": CatalogSection,
    "recording": RecordingConfig, "health": HealthConfig, "cameras[]": CameraConfig,
}


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
            shown = "" if is_secret_key(self.path, name) else f" {_show(value)}"
            raise self.error(name, f"expected {kind}, got {_kind(value)}{shown}")
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
        problem = control_problem(value)  # a NUL cannot reach the OS; a newline is a typo
        if problem:
            raise self.error(name, problem)
        try:
            path = Path(value).expanduser()
        except RuntimeError:  # ~nosuchuser
            raise self.error(name, "names the home folder of an unknown user") from None
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


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _kind(v: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(v), type(v).__name__)


def _show(v: Any) -> str:
    text = redact(repr(v))  # before cutting: a cut URL would hide its '@' from redact
    return text if len(text) <= 60 else text[:57] + "..."


def read_section(cls: type[T], table: ConfigTable, check: Check | None = None) -> T:
    """Read `table` into the dataclass `cls` whose fields are declared with `config_key()`,
    refuse unknown keys, then run `check(table, value)` for rules that span keys."""
    _declare_secrets_of(cls, table.path)
    value = cls(**_read_fields(cls, table, "", {}))
    table.finish()
    if check is not None:
        check(table, value)
    return value


def _declare_secrets_of(cls: type, path: str) -> None:
    """Hand `cls`'s `secret=` keys to the masking of shown config, under the table's path
    (`cameras[2]` declares for every `cameras[]`)."""
    secrets = {doc.key.rpartition(".")[2]: doc.declared.secret
               for doc in describe_section(cls, "x")
               if doc.declared.secret is not None and doc.key.count(".") == 1}
    if secrets:
        declare_secrets(path, **secrets)


def _read_fields(cls: type, table: ConfigTable, prefix: str,
                 defaults: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f, declared, default in _declared(cls, defaults):
        key = prefix + f.name
        if isinstance(declared, ConfigKey):
            values[f.name] = _read_value(table, key, default, declared, _value_type(cls, f.name))
        elif declared.prefix is None:
            values[f.name] = read_section(declared.cls, table.table(key), declared.check)
        else:
            values[f.name] = declared.cls(**_read_fields(
                declared.cls, table, prefix + declared.prefix, declared.defaults))
    return values


def _read_value(t: ConfigTable, key: str, default: Any, s: ConfigKey, kind: Any) -> Any:
    if key not in t.data:
        t.seen.add(key)
        if default is _REQUIRED:
            raise t.error(key, "is required")
        return default
    if s.read is not None:
        return s.read(t, key, default)
    return _read_typed(t, key, default, s, kind)


def _read_typed(t: ConfigTable, key: str, default: Any, s: ConfigKey, kind: Any) -> Any:
    """A present key, read by its declared type (a StrEnum comes back as its member)."""
    lo = -math.inf if s.lo is None else s.lo
    hi = math.inf if s.hi is None else s.hi
    if kind is bool:
        return t.boolean(key, default)
    if kind is int:
        return t.integer(key, default, lo, hi)  # type: ignore[arg-type]  # inf: unbounded
    if kind is float:
        return t.number(key, default, lo, hi)
    if kind is Path:
        return t.path_(key, default)
    if kind is tuple:
        return t.strings(key, default)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(t.choice(key, default, s.choices or tuple(kind)))
    if kind is str:
        return t.choice(key, default, s.choices) if s.choices else t.string(key, default)
    raise TypeError(f"{t.key(key)}: no reader for {kind!r}; declare it with read=...")


@cache
def _type_hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _value_type(cls: type, name: str) -> Any:
    """The declared type without its `| None`: `tuple[str, ...]` gives `tuple`."""
    hint = _type_hints(cls)[name]
    if get_origin(hint) in (Union, UnionType):
        (hint,) = (arg for arg in get_args(hint) if arg is not type(None))
    return get_origin(hint) or hint


def _declared(cls: type, defaults: Mapping[str, Any],
              ) -> Iterator[tuple[Field[Any], ConfigKey | ConfigGroup, Any]]:
    """The fields `cls` declares, each with its default (`defaults` first)."""
    for f in fields(cls):
        declared = f.metadata.get(_DECLARATION)
        if declared is None:
            continue
        if f.name in defaults:
            default = defaults[f.name]
        elif f.default is not MISSING:
            default = f.default
        else:
            default = _REQUIRED if f.default_factory is MISSING else f.default_factory()
        yield f, declared, default


@dataclass(frozen=True)
class ConfigKeyDoc:
    """A declared key as its documentation shows it."""

    key: str            # the full key path: storage.segment_seconds, cameras[].id
    default: Any        # None when required
    required: bool
    declared: ConfigKey


def describe_section(cls: type, path: str) -> list[ConfigKeyDoc]:
    """Every key the dataclass `cls` declares, under the table `path` (`storage`,
    `cameras[]`), with the default docs must show (tests/test_config_docs.py)."""
    return list(_describe(cls, f"{path}.", {}))


def _describe(cls: type, prefix: str, defaults: Mapping[str, Any]) -> Iterator[ConfigKeyDoc]:
    for f, declared, default in _declared(cls, defaults):
        key = prefix + f.name
        if isinstance(declared, ConfigKey):
            required = default is _REQUIRED
            yield ConfigKeyDoc(key, None if required else default, required, declared)
        elif declared.prefix is None:
            yield from _describe(declared.cls, f"{key}.", {})
        else:
            yield from _describe(declared.cls, prefix + declared.prefix, declared.defaults)


def _read_recording(t: ConfigTable) -> RecordingConfig:
    return read_section(RecordingConfig, t)


def _check_storage(t: ConfigTable, storage: StorageConfig) -> None:
    if storage.cache_dir == storage.archive_dir:
        raise t.error("archive_dir", "must differ from cache_dir")


def _read_storage(t: ConfigTable) -> StorageConfig:
    return read_section(StorageConfig, t, _check_storage)


def _read_health(t: ConfigTable) -> HealthConfig:
    return read_section(HealthConfig, t)


def _read_cameras(root: ConfigTable) -> tuple[CameraConfig, ...]:
    root.seen.add("cameras")
    raw = root.data.get("cameras", [])
    if not isinstance(raw, list):
        raise root.error("cameras", f"expected an array of tables ([[cameras]]), got {_kind(raw)}")
    cameras: list[CameraConfig] = []
    for index, item in enumerate(raw):
        t = ConfigTable(item, f"cameras[{index}]", root.source, root.base_dir)
        cam = read_section(CameraConfig, t)
        if any(c.id == cam.id for c in cameras):
            raise t.error("id", f"duplicate camera id {cam.id!r}")
        cameras.append(cam)
    return tuple(cameras)


# A config is 4 levels deep ({"rtmp": {"push": [{"url": ...}]}}); deeper is no config, and
# code that walks documents (masking, patches) recurses.
MAX_DEPTH = 32


def nesting_depth(value: Any) -> int:
    """How deeply tables and arrays nest in `value` (a scalar: 0); iterative, so no
    document can exhaust the stack here."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, Mapping) else \
            item if isinstance(item, list | tuple) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


SectionReader = Callable[[ConfigTable], Any]
CORE_SECTIONS = ("device", "storage", "catalog", "recording", "health", "cameras")


def parse_config(data: Mapping[str, Any], source: str = "<config>",
                 base_dir: Path | None = None,
                 readers: Mapping[str, SectionReader] | None = None) -> Config:
    """Validate an already-parsed TOML document.

    `readers` parse the plugins' sections (`nvr_edge.plugins.section_readers_of(pm)`);
    without them a plugin's table is an unknown key."""
    readers = readers or {}
    if nesting_depth(data) > MAX_DEPTH:
        raise ConfigError(source, "", f"nested too deeply (at most {MAX_DEPTH} levels)")
    root = ConfigTable(data, "", source, base_dir or Path.cwd())
    device_id = read_section(DeviceSection, root.table("device")).id

    storage = _read_storage(root.table("storage"))

    catalog = read_section(CatalogSection, root.table("catalog"))
    catalog_url = catalog.url or f"sqlite:///{storage.state_dir / 'catalog.db'}"

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
    except RecursionError:  # tomllib recurses into nested arrays
        raise ConfigError(source, "", f"nested too deeply (at most {MAX_DEPTH} levels)") from None
    return parse_config(data, source, path.resolve().parent, readers)
