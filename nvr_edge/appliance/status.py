"""The appliance's status: built here, written by the running supervisor, read by the CLI."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nvr_edge.catalog import Catalog, CatalogError
from nvr_edge.models import Tier, TierState, iso_utc
from nvr_edge.storage.space_policy import TierSpace

STATUS_FILE = "status.json"


def write_status(state_dir: Path, status: dict[str, Any]) -> None:
    """Atomically (a reader never sees half a file); not fsynced: it is rewritten each tick."""
    path = state_dir / STATUS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=1, default=str))
    os.replace(tmp, path)


def read_status(state_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir / STATUS_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def tier_rows(spaces: Iterable[TierSpace], states: Mapping[str, str],
              backlog: dict[str, int] | None) -> dict[str, dict[str, Any]]:
    """Each tier's free space, floor and state; the cache also has its `backlog` (segments
    and bytes waiting for the archive; None while the catalog cannot say)."""
    rows: dict[str, dict[str, Any]] = {
        space.tier: {"path": space.path, "free_bytes": space.free_bytes,
                     "total_bytes": space.total_bytes, "floor_bytes": space.floor_bytes,
                     "state": states.get(space.tier, TierState.OK)}
        for space in spaces}
    if Tier.CACHE in rows:
        rows[Tier.CACHE]["backlog"] = backlog
    return rows


def cache_backlog(catalog: Catalog) -> dict[str, int] | None:
    """Segments and bytes on the cache still waiting for the archive (None: unknown)."""
    try:
        usage = catalog.usage(Tier.CACHE)
    except CatalogError:
        return None
    return {"segments": usage.segments, "bytes": usage.bytes}


def status_document(*, device: str, running: bool, updated_ms: int | None,
                    uptime_s: float | None, cameras: dict[str, Any],
                    tiers: dict[str, Any], system: dict[str, Any] | None,
                    catalog: dict[str, Any], plugins: dict[str, Any],
                    duty_failures: dict[str, int] | None = None) -> dict[str, Any]:
    """The status: one shape for the `nvr_status` hook, the status file, `nvr-edge status
    --json`, MQTT health and /metrics (docs/PLUGINS.md, `nvr_status`)."""
    return {"device": device, "running": running,
            "updated": iso_utc(updated_ms) if updated_ms is not None else None,
            "uptime_s": None if uptime_s is None else round(uptime_s),
            "cameras": cameras, "tiers": tiers, "system": system, "catalog": catalog,
            "plugins": plugins, "duty_failures": duty_failures or {}}
