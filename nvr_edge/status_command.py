"""`nvr-edge status`: the running appliance's own report, completed with live disk figures."""

from __future__ import annotations

import json
from typing import Any

from .app import opened_catalog
from .catalog import CatalogError
from .config import Config
from .diskspace import tier_spaces
from .lock import InstanceLock
from .models import Tier
from .status import read_status


def collect_status(config: Config) -> dict[str, Any]:
    running = InstanceLock(config.storage.state_dir).held_elsewhere()
    reported = read_status(config.storage.state_dir) if running else None
    cameras = (reported or {}).get("cameras") or {
        cam.id: {"state": "stopped", "last_segment": None} for cam in config.cameras}
    tiers: dict[str, Any] = {}
    for space in tier_spaces(config):
        tiers[space.tier] = {"path": space.path, "free_bytes": space.free_bytes,
                             "total_bytes": space.total_bytes, "floor_bytes": space.floor_bytes,
                             "state": ((reported or {}).get("tiers", {}).get(space.tier, {})
                                       .get("state", "ok"))}
    catalog_info: dict[str, Any] = (reported or {}).get("catalog", {})
    try:
        with opened_catalog(config) as catalog:
            for tier in (Tier.CACHE, Tier.ARCHIVE):
                usage = catalog.usage(tier)
                tiers.setdefault(tier, {}).update(segments=usage.segments, bytes=usage.bytes)
            # the backlog: what still waits on the SSD for its move to the HDD
            cache = tiers[Tier.CACHE]
            cache["backlog_segments"], cache["backlog_bytes"] = cache["segments"], cache["bytes"]
    except CatalogError as exc:
        catalog_info = {**catalog_info, "error": str(exc)}
    return {"device": config.device_id, "running": running,
            "updated": (reported or {}).get("updated"), "cameras": cameras, "tiers": tiers,
            "catalog": catalog_info}


def show_status(config: Config, as_json: bool) -> int:
    status = collect_status(config)
    if as_json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"{status['device']}: {'running' if status['running'] else 'not running'}")
    for cam_id, cam in status["cameras"].items():
        last = cam.get("last_segment") or {}
        print(f"  camera {cam_id:16} {cam['state']:10} last segment {last.get('end', '-')}")
    for tier, info in status["tiers"].items():
        free = info.get("free_bytes")
        print(f"  tier {tier:8} {info.get('state', '?'):9} "
              f"free {free / 1e9 if free is not None else float('nan'):.1f} GB, "
              f"{info.get('segments', '?')} segments"
              + (f", backlog {info['backlog_segments']}" if "backlog_segments" in info else ""))
    return 0
