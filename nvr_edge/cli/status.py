"""`nvr-edge status`: the running appliance's own report, with the disks read now."""

from __future__ import annotations

import json
from typing import Any

from nvr_edge.appliance.lock import InstanceLock
from nvr_edge.appliance.run import opened_catalog
from nvr_edge.appliance.status import cache_backlog, read_status, status_document, tier_rows
from nvr_edge.catalog import CatalogError
from nvr_edge.config import Config
from nvr_edge.models import CameraState, parse_iso_ms
from nvr_edge.storage.space import tier_spaces


def collect_status(config: Config) -> dict[str, Any]:
    """The shape the appliance publishes (appliance/status.py), from its status file while
    it runs; free space and the backlog are read now, whether it runs or not."""
    running = InstanceLock(config.storage.state_dir).held_elsewhere()
    reported = (read_status(config.storage.state_dir) if running else None) or {}
    cameras = reported.get("cameras") or {
        cam.id: {"state": CameraState.STOPPED, "reason": "the appliance is not running",
                 "last_segment": None} for cam in config.cameras}
    states = {tier: row.get("state") for tier, row in (reported.get("tiers") or {}).items()
              if row.get("state")}
    catalog_info: dict[str, Any] = dict(reported.get("catalog") or {})
    backlog = None
    try:
        with opened_catalog(config) as catalog:
            backlog = cache_backlog(catalog)
    except CatalogError as exc:
        catalog_info["error"] = str(exc)
    updated = reported.get("updated")
    return status_document(
        device=config.device_id, running=running,
        updated_ms=parse_iso_ms(updated) if updated else None,
        uptime_s=reported.get("uptime_s"), cameras=cameras,
        tiers=tier_rows(tier_spaces(config), states, backlog),
        system=reported.get("system"), catalog=catalog_info,
        plugins=reported.get("plugins") or {"failures": {}},
        duty_failures=reported.get("duty_failures"))


def show_status(config: Config, as_json: bool) -> int:
    status = collect_status(config)
    if as_json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"{status['device']}: {'running' if status['running'] else 'not running'}")
    for cam_id, cam in status["cameras"].items():
        last = cam.get("last_segment") or {}
        reason = cam.get("reason") if cam["state"] != CameraState.ONLINE else ""
        print(f"  camera {cam_id:16} {cam['state']:10} last segment {last.get('end', '-')}"
              + (f" ({reason})" if reason else ""))
    for tier, info in status["tiers"].items():
        backlog = info.get("backlog")
        print(f"  tier {tier:8} {info['state']:9} free {info['free_bytes'] / 1e9:.1f} GB"
              + (f", backlog {backlog['segments']} segment(s)" if backlog else ""))
    for name, part in status["plugins"].items():
        if name != "failures" and isinstance(part, dict):  # a plugin's own part
            print(f"  {name:13} " + ", ".join(f"{k} {v}" for k, v in _headline(part)))
    for plugin, hooks in status["plugins"]["failures"].items():
        print(f"  plugin {plugin} failed: "
              + ", ".join(f"{hook} x{count}" for hook, count in hooks.items()))
    return 0


def _headline(part: dict[str, Any]) -> list[tuple[str, Any]]:
    """A plugin's part in one line: its state and counts first, no nested tables."""
    first = [k for k in ("state", "queued") if k in part]
    rest = [k for k in part if k not in first and part[k] is not None
            and not isinstance(part[k], dict | list)]
    return [(k, part[k]) for k in first + rest][:8]
