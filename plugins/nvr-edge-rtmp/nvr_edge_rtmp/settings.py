"""The `[rtmp]` config section: which camera is pushed where."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from nvr_edge import ConfigTable, Secret, declare_secrets, mask_url, url_problem

SCHEMES = ("rtmp", "rtmps")
# The last path part of a push URL is the stream key: whoever holds it streams as us.
declare_secrets("rtmp.push[]", url=Secret.STREAM_URL)


@dataclass(frozen=True)
class PushTarget:
    camera: str
    url: str

    def __post_init__(self) -> None:
        # FFmpeg matches the scheme exactly; check_url accepts any case, so what it
        # accepts must also push.
        scheme, sep, rest = self.url.partition("://")
        if sep and scheme.lower() in SCHEMES:
            object.__setattr__(self, "url", f"{scheme.lower()}://{rest}")

    @property
    def display(self) -> str:
        return display_url(self.url)


@dataclass(frozen=True)
class RtmpSettings:
    targets: tuple[PushTarget, ...] = ()
    retry_min_s: float = 1.0
    retry_max_s: float = 30.0


def display_url(url: str) -> str:
    """The URL for logs and answers: password and stream key masked."""
    return mask_url(url, stream_key=True)


def check_url(url: str) -> str | None:
    """Why `url` is no RTMP target, or None (never quoting its password or stream key)."""
    problem = url_problem(url, SCHEMES, "rtmp://host/app/stream or rtmps://...")
    if problem:
        return problem
    if len([p for p in urlsplit(url).path.split("/") if p]) < 2:
        return "needs an application and a stream name: rtmp://host/app/stream"
    return None


def read_rtmp(t: ConfigTable) -> RtmpSettings:
    t.seen.add("push")
    raw = t.data.get("push", [])
    if not isinstance(raw, list):
        raise t.error("push", "expected an array of tables ([[rtmp.push]])")
    targets = []
    for index, item in enumerate(raw):
        entry = ConfigTable(item, f"{t.key('push')}[{index}]", t.source, t.base_dir)
        target = PushTarget(entry.string("camera", None) or "", entry.string("url", None) or "")
        if not target.camera:
            raise entry.error("camera", "is required")
        problem = check_url(target.url) if target.url else "is required"
        if problem:
            raise entry.error("url", problem)
        entry.finish()
        targets.append(target)
    settings = RtmpSettings(tuple(targets), t.number("retry_min_s", 1.0, 0.1, 600.0),
                            t.number("retry_max_s", 30.0, 0.1, 3600.0))
    if settings.retry_max_s < settings.retry_min_s:
        raise t.error("retry_max_s", "must not be smaller than retry_min_s")
    return settings
