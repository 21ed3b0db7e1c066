"""What GET /metrics shows: the appliance's status snapshot, HTTP and live-view counters."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from nvr_edge import CameraState

from .connections import ConnectionLimiter
from .counters import HttpCounters, LiveMetrics
from .exposition import Exposition, Sample

# (metric, kind, help, how to read it from one camera's status entry)
_CAMERA_VALUES: tuple[tuple[str, str, str, Callable[[Mapping[str, Any]], Any]], ...] = (
    ("nvr_camera_ingest_fps", "gauge", "Video frames per second received from the camera.",
     lambda c: c.get("ingest", {}).get("fps")),
    ("nvr_camera_ingest_kbps", "gauge", "Kilobits per second received from the camera.",
     lambda c: c.get("ingest", {}).get("kbps")),
    ("nvr_camera_ingest_continuity", "gauge",
     "Share of the recent time covered by received packets (1: no gap).",
     lambda c: c.get("ingest", {}).get("continuity")),
    ("nvr_camera_segments_total", "counter", "Segments closed since the appliance started.",
     lambda c: c.get("segments")),
    ("nvr_camera_recorded_bytes_total", "counter",
     "Bytes recorded since the appliance started.", lambda c: c.get("bytes")),
    ("nvr_camera_restarts_total", "counter",
     "Worker restarts since the appliance started.", lambda c: c.get("restarts")),
)

_TIER_VALUES: tuple[tuple[str, str, str], ...] = (
    ("nvr_tier_free_bytes", "free_bytes", "Free bytes on the storage tier."),
    ("nvr_tier_total_bytes", "total_bytes", "Size of the storage tier's file system."),
    ("nvr_tier_floor_bytes", "floor_bytes", "Free-space floor; below it cleanup runs."),
)


def render_metrics(status: Mapping[str, Any], camera_ids: Sequence[str], http: HttpCounters,
                   live: LiveMetrics, limiter: ConnectionLimiter | None = None) -> str:
    out = Exposition()
    cameras: Mapping[str, Any] = status.get("cameras") or {}
    _camera_families(out, cameras)
    _tier_families(out, status.get("tiers") or {})
    _appliance_families(out, status)
    out.family("nvr_http_requests_total", "counter", "HTTP requests answered, by route and "
               "status.", (({"route": route, "status": str(code)}, n)
                           for (route, code), n in sorted(http.requests().items())))
    if limiter is not None:
        out.family("nvr_http_unauthenticated_connections", "gauge",
                   "Open HTTP connections that have not shown a valid token yet.",
                   [({}, len(limiter.unauthenticated))])
        out.family("nvr_http_connections_evicted_total", "counter",
                   "Connections without a token closed to make room (at "
                   "web.max_unauthenticated_connections).", [({}, limiter.evicted)])
    viewers, sent = live.viewers(), live.bytes_out()
    out.family("nvr_live_viewers", "gauge", "Live-view sessions open now.",
               _per_camera(camera_ids, viewers))
    out.family("nvr_live_hls_clients", "gauge", "LL-HLS players that asked for the playlist "
               "in the last 10 s.", _per_camera(camera_ids, live.hls_clients(time.monotonic())))
    out.family("nvr_live_bytes_out_total", "counter", "Bytes sent to live viewers.",
               _per_camera(camera_ids, sent))
    _webrtc_families(out, live.webrtc_sessions())
    return out.text()


def _webrtc_families(out: Exposition, sessions: list[dict[str, Any]]) -> None:
    """Per open WebRTC session (labelled by camera and serial number): its rung, the
    switches made, and the receiver's last loss and round-trip time."""
    def labels(s: Mapping[str, Any]) -> dict[str, str]:
        return {"camera": s["camera"], "session": str(s["session"])}

    out.family("nvr_live_webrtc_rung", "gauge", "1 for the rung the session sends now.",
               (({**labels(s), "rung": s["rung"]}, 1) for s in sessions))
    out.family("nvr_live_webrtc_switches_total", "counter", "Rung switches of the session.",
               ((labels(s), s["switches"]) for s in sessions))
    out.family("nvr_live_webrtc_loss_ratio", "gauge", "Fraction of packets the receiver "
               "reported lost in its last report.",
               ((labels(s), s["loss"]) for s in sessions if s["loss"] is not None))
    out.family("nvr_live_webrtc_rtt_seconds", "gauge", "Round-trip time to the receiver.",
               ((labels(s), s["rtt_ms"] / 1000) for s in sessions if s["rtt_ms"] is not None))


def _per_camera(camera_ids: Iterable[str], values: Mapping[str, int]) -> list[Sample]:
    ids = list(dict.fromkeys([*camera_ids, *values]))  # a camera removed keeps its counter
    return [({"camera": cam}, values.get(cam, 0)) for cam in ids]


def _camera_families(out: Exposition, cameras: Mapping[str, Any]) -> None:
    # One sample per possible state (1 for the current one): an alert rule can then test
    # `nvr_camera_state{state="online"} == 0` without knowing the other states.
    out.family("nvr_camera_state", "gauge", "1 for the camera's current state, else 0.",
               (({"camera": cam, "state": str(state)}, int(info.get("state") == state))
                for cam, info in cameras.items() for state in CameraState))
    for name, kind, help_text, read in _CAMERA_VALUES:
        out.family(name, kind, help_text, (({"camera": cam}, read(info))
                                           for cam, info in cameras.items()
                                           if isinstance(read(info), int | float)))
    # Cameras recorded through an encoder (MJPEG, raw): which one, at what rate.
    coding = {cam: info["transcoding"] for cam, info in cameras.items()
              if isinstance(info.get("transcoding"), Mapping)}
    out.family("nvr_camera_transcode_fps", "gauge", "Frames per second the camera's "
               "encoder puts out (cameras recorded through an encoder only).",
               (({"camera": cam, "encoder": str(t.get("encoder"))}, t["fps"])
                for cam, t in coding.items() if isinstance(t.get("fps"), int | float)))


def _tier_families(out: Exposition, tiers: Mapping[str, Any]) -> None:
    for name, key, help_text in _TIER_VALUES:
        out.family(name, "gauge", help_text, (({"tier": tier}, info[key])
                                              for tier, info in tiers.items()
                                              if isinstance(info.get(key), int | float)))
    out.family("nvr_tier_degraded", "gauge", "1 while the tier is unusable (segments wait).",
               (({"tier": tier}, int(info.get("state") != "ok"))
                for tier, info in tiers.items()))
    backlog = (tiers.get("cache") or {}).get("backlog") or {}
    for key in ("segments", "bytes"):  # absent while the catalog is down
        out.family(f"nvr_cache_backlog_{key}", "gauge",
                   f"{key.capitalize()} on the cache waiting to move to the archive.",
                   _single(backlog, key))


def _appliance_families(out: Exposition, status: Mapping[str, Any]) -> None:
    catalog = {k: int(v) for k, v in (status.get("catalog") or {}).items()
               if isinstance(v, bool | int)}
    out.family("nvr_catalog_healthy", "gauge", "1 while catalog writes go straight through.",
               _single(catalog, "healthy"))
    out.family("nvr_catalog_spooled_writes", "gauge",
               "Catalog writes kept on disk until the catalog answers.",
               _single(catalog, "spooled_writes"))
    out.family("nvr_uptime_seconds", "gauge", "Seconds since the appliance started.",
               _single(status, "uptime_s"))
    probes = ((status.get("plugins") or {}).get("encoders") or {}).get("probes") or ()
    out.family("nvr_encoder_usable", "gauge", "1 when the encoder passed its test-encode "
               "probe, else 0 (the status says why).",
               (({"encoder": p["name"], "engine": p["engine"]}, int(bool(p["ok"])))
                for p in probes))


def _single(values: Mapping[str, Any], key: str) -> list[Sample]:
    value = values.get(key)
    return [({}, value)] if isinstance(value, int | float) else []
