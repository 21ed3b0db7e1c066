"""What each topic carries, built from the core's status snapshot and hook arguments.

Nothing here holds a camera URL: those carry passwords, and payloads leave the box; every
JSON payload is written by `dumps`, which redacts each string once more."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from nvr_edge import Alert, Config, SegmentRecord, iso_utc, now_ms, redact

# The retained camera state topic carries one of four words (what Home Assistant and
# dashboards switch on); the detailed state and reason travel in the event.
PUBLIC_STATE = {"online": "online", "restarting": "restarting", "disabled": "disabled"}


def public_state(state: str) -> str:
    return PUBLIC_STATE.get(state, "offline")


MAX_REASON = 300  # a retained topic holds one line, not an essay quoted from a camera


def shown_reason(state: str, reason: str) -> str:
    """What the retained reason topic says: why the camera is not online ("" when it is)."""
    if public_state(state) == "online":
        return ""
    return redact(reason)[:MAX_REASON]


def dumps(payload: Any) -> str:
    """JSON for the wire, each string (keys too) through the log redactor: a password must
    not leave the box by any mistake. String by string, not over the text: in free text a
    URL's userinfo runs to the last '@' before a '/', which could swallow JSON structure."""
    return json.dumps(_redacted(payload), separators=(",", ":"),
                      default=lambda value: redact(str(value)))


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


def hardware_model() -> str:
    """The board's model where the firmware exposes it (device tree on ARM, DMI on PCs)."""
    for path in ("/proc/device-tree/model", "/sys/class/dmi/id/product_name"):
        try:
            text = Path(path).read_text(errors="replace").strip("\x00\n ")
        except OSError:
            continue
        if text:
            return text
    return "unknown"


def info(config: Config, version: str, plugins: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "device": config.device_id,
        "firmware": {"name": "nvr-edge", "version": version},
        "hardware": {"model": hardware_model(), "machine": platform.machine(),
                     "kernel": platform.release()},
        "plugins": plugins,
        "cameras": [{"id": c.id, "name": c.name or c.id, "enabled": c.enabled,
                     "live_stream": c.sub is not None} for c in config.cameras],
    }


def health(status: dict[str, Any]) -> dict[str, Any]:
    """Overall status, tiers, load; `overall` is critical for storage or catalog trouble,
    warning while an enabled camera is not recording."""
    tiers = {}
    trouble = []
    for name, tier in status.get("tiers", {}).items():
        tiers[name] = {"state": tier.get("state", "ok"), "free_bytes": tier.get("free_bytes"),
                       "total_bytes": tier.get("total_bytes"),
                       "floor_bytes": tier.get("floor_bytes")}
        if "backlog" in tier:
            tiers[name]["backlog"] = tier["backlog"]
        if tier.get("state") != "ok" or tier.get("free_bytes", 0) < tier.get("floor_bytes", 0):
            trouble.append(("critical", f"{name} tier {tier.get('state')}"))
    catalog = status.get("catalog", {})
    if not catalog.get("healthy", True):
        trouble.append(("critical", "catalog unreachable"))
    cameras = status.get("cameras", {})
    not_recording = sorted(cam for cam, c in cameras.items()
                           if c.get("state") not in ("online", "disabled", "stopped"))
    if not_recording:
        trouble.append(("warning", "not recording: " + ", ".join(not_recording)))
    levels = [level for level, _ in trouble]
    overall = "critical" if "critical" in levels else "warning" if levels else "ok"
    return {
        "overall": overall, "problems": [text for _, text in trouble],
        "tiers": tiers, "system": status.get("system", {}),
        "cameras": {"total": len(cameras),
                    "online": sum(1 for c in cameras.values() if c.get("state") == "online")},
        "catalog": {"healthy": catalog.get("healthy", True),
                    "spooled_writes": catalog.get("spooled_writes", 0)},
        "uptime_s": status.get("uptime_s"),
    }


def health_signature(report: dict[str, Any]) -> tuple[Any, ...]:
    """What counts as a change worth a new retained health message: the status and states
    exactly, quantities in coarse steps (so CPU noise does not publish every 2 s)."""
    system = report.get("system", {})

    def step(value: Any, size: float) -> Any:
        return None if value is None else round(value / size)

    def backlog_step(tier: dict[str, Any]) -> int | None:
        # every closed segment waits a moment for the mover: only a growing pile counts
        segments = (tier.get("backlog") or {}).get("segments")
        return None if segments is None else (segments // 8).bit_length()

    tiers = tuple(sorted(
        (name, t["state"], step(100 * (t["free_bytes"] or 0) / (t["total_bytes"] or 1), 1),
         backlog_step(t))
        for name, t in report["tiers"].items()))
    return (report["overall"], tuple(report["problems"]), tiers,
            report["cameras"]["online"], report["catalog"]["healthy"],
            band(system.get("cpu_percent"), (50, 80, 95)),
            band(system.get("memory_percent"), (70, 85, 95)),
            step(system.get("temperature_c"), 5))


def band(value: float | None, edges: tuple[float, ...]) -> int | None:
    """Which of the bands split at `edges` holds `value` (CPU moves by tens of percent
    from one 2 s sample to the next on a busy box; only a new band is news)."""
    return None if value is None else sum(value >= edge for edge in edges)


def stats(status: dict[str, Any], interval_s: float) -> dict[str, Any]:
    cameras = {}
    for cam, c in status.get("cameras", {}).items():
        counters = c.get("counters", {})
        ingest = c.get("ingest", {})
        cameras[cam] = {
            "state": c.get("state"), "bitrate_kbps": ingest.get("kbps", 0.0),
            "fps": ingest.get("fps", 0.0),
            "packets_received": counters.get("received", 0),
            "packets_lost": counters.get("rejected", 0),
            "segments_written": c.get("segments", 0),
            "recorded_s": c.get("recorded_s", 0),
            "continuity": ingest.get("continuity", 0.0),
            "restarts": c.get("restarts", 0),
        }
    return {"at": iso_utc(now_ms()), "interval_s": interval_s, "cameras": cameras}


def discovery_lists(status: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each status part that lists `candidates` (the cameras a discovery plugin knows of:
    `plugins.onvif`), by part name, without the `last_seen` that changes at every sighting:
    what `<base>/discovery/<name>` keeps retained."""
    lists = {}
    for name, part in status.get("plugins", {}).items():
        if isinstance(part, dict) and isinstance(part.get("candidates"), list):
            lists[name] = [{k: v for k, v in c.items() if k != "last_seen"}
                           for c in part["candidates"] if isinstance(c, dict)]
    return lists


def update_state(status: dict[str, Any]) -> dict[str, Any] | None:
    """The `update` status part (built-in plugin `update`): what `<base>/update` keeps
    retained. None while the appliance has no such part."""
    part = status.get("plugins", {}).get("update")
    return part if isinstance(part, dict) else None


def segment_event(segment: SegmentRecord) -> dict[str, Any]:
    return {"type": "segment_closed", "at": iso_utc(now_ms()), "camera": segment.camera,
            "segment": {"id": segment.id, "stream": segment.stream, "start": segment.start,
                        "end": iso_utc(segment.end_ms), "duration_ms": segment.duration_ms,
                        "bytes": segment.bytes, "tier": segment.tier,
                        "codec": segment.video_codec, "width": segment.width,
                        "height": segment.height, "audio": segment.has_audio}}


def alert_event(alert: Alert) -> dict[str, Any]:
    return {"type": "alert", "at": iso_utc(alert.at_ms), "code": alert.code,
            "level": alert.level, "camera": alert.camera, "message": alert.message}


def state_event(camera: str, state: str, reason: str) -> dict[str, Any]:
    return {"type": "camera_state", "at": iso_utc(now_ms()), "camera": camera,
            "state": public_state(state), "detail": state, "reason": reason}


def tier_event(tier: str, state: str, reason: str) -> dict[str, Any]:
    return {"type": "tier_state", "at": iso_utc(now_ms()), "tier": tier, "state": state,
            "reason": reason}
