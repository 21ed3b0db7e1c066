"""The `[s3]` config section: which bucket takes the copies, with which credentials."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nvr_edge import ConfigTable, Secret, SecretKey, declare_secrets, read_url

from .window import Window

# The keys belong to the endpoint: a config that points the box at another store drops the
# saved ones unless it gives them again.
declare_secrets("s3", access_key=SecretKey(Secret.VALUE, bound_to=("endpoint",)),
                secret_key=SecretKey(Secret.VALUE, bound_to=("endpoint", "access_key")))

# S3's bucket naming rules (3-63 lower-case letters, digits, dots and hyphens)
BUCKET = re.compile(r"\A[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
PREFIX = re.compile(r"\A[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*\Z")
MIN_PART_MB = 5  # S3's smallest part but the last


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    prefix: str = "nvr"
    region: str = "us-east-1"
    cameras: tuple[str, ...] = ()  # empty: every camera
    rate_mb_s: float = 2.0
    part_size_mb: int = 16
    retry_min_s: float = 2.0
    retry_max_s: float = 300.0
    window: Window | None = None  # None: upload at any time
    queue_max: int = 50_000  # ~100 camera-days of 3-minute segments
    backfill: bool = False  # also copy what was recorded before [s3] was configured

    @property
    def secure(self) -> bool:
        return self.endpoint.startswith("https://")

    @property
    def host(self) -> str:
        return self.endpoint.split("://", 1)[1].rstrip("/")

    def archives(self, camera: str) -> bool:
        return not self.cameras or camera in self.cameras


def read_s3(t: ConfigTable) -> S3Settings | None:
    """None when the file has no [s3] table: the plugin then stays idle."""
    if not t.present:
        return None
    endpoint = read_url(t, "endpoint", None, ("http", "https"),
                        "http(s)://host[:port] of the S3 API")
    if endpoint is None:
        raise t.error("endpoint", "is required (https://s3.example.com)")
    host = endpoint.split("://", 1)[1]
    if "@" in host or "/" in host.rstrip("/") or "?" in host:
        raise t.error("endpoint", "must be scheme://host[:port] only: credentials go in "
                                  "access_key and secret_key, the bucket in bucket")
    bucket = t.string("bucket", None)
    if bucket is None or not BUCKET.match(bucket):
        raise t.error("bucket", "is required: 3-63 lower-case letters, digits, '.' or '-'")
    prefix = t.string("prefix", "nvr")
    if not PREFIX.match(prefix):
        raise t.error("prefix", f"{prefix!r} must be path parts of letters, digits, '.', "
                                "'-' or '_' separated by '/'")
    access_key, secret_key = t.string("access_key", None), t.string("secret_key", None)
    if not access_key or not secret_key:
        raise t.error("access_key" if not access_key else "secret_key", "is required")
    settings = S3Settings(
        endpoint=endpoint.rstrip("/"), bucket=bucket, access_key=access_key,
        secret_key=secret_key, prefix=prefix, region=t.string("region", "us-east-1"),
        cameras=t.strings("cameras", ()),
        rate_mb_s=t.number("rate_mb_s", 2.0, 0.01, 10_000.0),
        part_size_mb=t.integer("part_size_mb", 16, MIN_PART_MB, 5 * 1024),
        retry_min_s=t.number("retry_min_s", 2.0, 0.05, 3600.0),
        retry_max_s=t.number("retry_max_s", 300.0, 0.05, 86_400.0),
        window=_window(t),
        queue_max=t.integer("queue_max", 50_000, 10, 10_000_000),
        backfill=t.boolean("backfill", False),
    )
    if settings.retry_max_s < settings.retry_min_s:
        raise t.error("retry_max_s", "must not be smaller than retry_min_s")
    return settings


def _window(t: ConfigTable) -> Window | None:
    text = t.string("window", None)
    if text is None:
        return None
    try:
        return Window.parse(text)
    except ValueError as exc:
        raise t.error("window", str(exc)) from None
