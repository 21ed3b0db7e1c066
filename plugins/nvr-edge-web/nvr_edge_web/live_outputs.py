"""What each live output (WHEP, LL-HLS) can serve for a camera now, and if not, why.

One judgement for the routes and for `/api/cameras`, so that what the API lists is what
the routes do: a camera whose stream an output cannot carry is refused at once with the
reason (never a 201 that plays nothing, never a 503 to retry forever).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nvr_edge import StreamInfo

from .context import WebContext
from .errors import ApiError

WEBRTC_CODECS = ("h264",)  # passed through as RTP H.264 (webrtc/track.py)
HLS_CODECS = ("h264",)  # packaged as avc1 samples (hls/media.py)
B_FRAMES = ("this camera's stream has B-frames, which browsers cannot play passed through "
            "(Chromium drops frames); set the camera's encoder to a profile without B-frames "
            "(e.g. Baseline or Main with no B-frames) for its sub stream")


@dataclass(frozen=True)
class Output:
    available: bool | None  # None: not known until the camera's live stream is there
    reason: str  # why it is not available ("" when it is)
    status: int = 200  # the HTTP answer a request gets while it is not available

    def as_json(self) -> dict[str, Any]:
        return {"available": self.available, "reason": self.reason}

    def error(self) -> ApiError:
        """The answer a request for this output gets while it is not available."""
        return ApiError(self.status, self.reason,
                        {"Retry-After": "2"} if self.status == 503 else None)

    def refuse(self) -> None:
        if self.available is not True:
            raise self.error()


def _carried(camera: str, feed: Mapping[str, Any], codecs: tuple[str, ...],
             output: str) -> Output | None:
    codec = feed.get("video_codec")
    if codec and codec not in codecs:
        return Output(False, f"camera {camera} streams {codec}; {output} here carries "
                             f"{', '.join(codecs)} only", 409)
    return None


def _no_stream(camera: str, feed: Mapping[str, Any], state: Mapping[str, Any],
               mode: str) -> Output | None:
    if feed.get("has_stream"):
        return None
    if mode == "on_demand" and state.get("state") == "online":
        return Output(None, f"camera {camera}'s live stream starts when a viewer asks "
                            "(live = on_demand)", 503)
    why = state.get("reason") or ""
    shown = f" ({state.get('state')}: {why})" if state.get("state") and why else ""
    return Output(None, f"camera {camera} has no live stream now{shown}; try again shortly",
                  503)


def whep(camera: str, feed: Mapping[str, Any], state: Mapping[str, Any] | None = None,
         mode: str = "always") -> Output:
    if (refused := _carried(camera, feed, WEBRTC_CODECS, "WebRTC")) is not None:
        return refused
    if feed.get("b_frames"):
        return Output(False, B_FRAMES, 422)
    return _no_stream(camera, feed, state or {}, mode) or Output(True, "")


def hls(camera: str, feed: Mapping[str, Any], state: Mapping[str, Any] | None = None,
        mode: str = "always") -> Output:
    if (refused := _carried(camera, feed, HLS_CODECS, "LL-HLS")) is not None:
        return refused
    return _no_stream(camera, feed, state or {}, mode) or Output(True, "")


def for_camera(ctx: WebContext, camera: str) -> dict[str, Output]:
    """Each output judged on the camera's relay feed, state and live mode now."""
    feed = ctx.appliance.live.stats().get(camera) or {}
    state = (ctx.status().get("cameras") or {}).get(camera) or {}
    mode = ctx.live_mode(camera)
    return {"whep": whep(camera, feed, state, mode), "hls": hls(camera, feed, state, mode)}


def hls_rung(camera: str, rung: Mapping[str, Any], info: StreamInfo | None,
             live: Output) -> Output:
    """One rung of the camera's ladder (`/api/cameras` `live.rungs`) for the multivariant
    playlist, given the live stream's own judgement: a transcoded rung as the relay would
    admit it, the live stream as judged, a main stream beside a sub stream by its codec."""
    if live.available is not True:
        return live  # the rungs are made from the live stream, or beside it
    if rung["transcoded"]:
        return Output(True, "") if rung["available"] else \
            Output(False, rung["reason"], 503)
    if rung["stream"] != "main":
        return live
    if info is None:
        return Output(None, f"camera {camera}'s main stream has not been seen yet", 503)
    return _carried(camera, {"video_codec": info.video_codec}, HLS_CODECS, "LL-HLS") \
        or Output(True, "")


def hls_rungs(ctx: WebContext, camera: str) -> list[tuple[dict[str, Any], Output]]:
    """Every rung of the camera's ladder, best first, with what LL-HLS can do with it now."""
    live = for_camera(ctx, camera)["hls"]
    hub = ctx.appliance.live
    return [(rung, hls_rung(camera, rung, hub.info(camera, rung["stream"])
                            if rung["stream"] == "main" else None, live))
            for rung in hub.rungs(camera)]
