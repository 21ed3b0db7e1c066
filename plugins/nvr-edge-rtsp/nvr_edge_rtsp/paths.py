"""The path table: `/<camera>/<stream>` to a feed of the live relay: `main`, `sub` and the
transcoded rungs (`/<camera>/240p`), whose feed is the rung's hub stream (encoded in the
camera's worker while someone watches)."""

from __future__ import annotations

from dataclasses import dataclass

from nvr_edge import RUNG_NAMES, CameraConfig, Config

from .protocol import RtspError

LIVE, MAIN = "live", "main"  # the hub's stream names (nvr_edge.live.hub)


@dataclass(frozen=True)
class Route:
    camera: str
    stream: str   # the path's name: main, sub, (rungs)
    feed: str     # the hub stream that carries it


def streams_of(camera: CameraConfig) -> dict[str, str]:
    """A camera's served streams: path name -> hub stream. Without a sub stream the live
    feed is the main stream; with one, the main stream has a feed of its own."""
    if camera.live == "off":
        return {}
    rungs = {name: name for name in RUNG_NAMES}
    if camera.sub is None:
        return {"main": LIVE, **rungs}
    return {"main": MAIN, "sub": LIVE, **rungs}


def route(config: Config, camera: str | None, stream: str | None) -> Route:
    """The feed a DESCRIBE/SETUP path names, or RtspError(404) saying what exists."""
    if not camera or not stream:
        raise RtspError(404, "paths are /<camera>/<stream>, e.g. /cam1/main")
    found = next((c for c in config.cameras if c.id == camera), None)
    if found is None or not found.enabled:
        raise RtspError(404, f"no camera {camera[:64]!r}")
    streams = streams_of(found)
    if stream not in streams:
        have = ", ".join(streams) or "none: its live relay is off"
        raise RtspError(404, f"camera {camera!r} has no stream {stream[:32]!r} ({have})")
    return Route(camera, stream, streams[stream])
