"""An adopted camera seen at a new address (a DHCP lease ran out): its stream URLs follow
it, under the same camera id, and an alert says so.

Only URLs whose host was the camera's old address change (a camera whose streams come
from elsewhere, an RTSP proxy, is left alone). A move is noticed two ways: between two
sightings in one run of the box (a Hello or an answer to a probe), or when an adopted
camera that is not online is seen at another address than its URLs name (it moved while
the box was off, or before the box heard it: `refind.py` looks for such cameras).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from nvr_edge import Alert, Appliance
from nvr_edge_onvif.probe import ProbeMatch

log = logging.getLogger(__name__)
ALERT_CODE = "camera_address_changed"


class _Unchanged(Exception):
    """No camera of that URN names the old host: nothing to write."""


def follow(appliance: Appliance, old_host: str, new: ProbeMatch) -> str | None:
    """Point the camera adopted from `new.urn` at `new.host`; its id, or None when no
    configured camera came from that URN or none of its URLs named `old_host`."""
    followed: list[str] = []

    def move(document: dict[str, Any]) -> dict[str, Any]:
        # on the document as it is when the change lands: an edit made meanwhile is kept
        camera_id, entry = adopted_entry(appliance, document.get("cameras", []), new.urn)
        if camera_id is None or entry is None:
            raise _Unchanged
        changed = False
        for key in ("main", "sub"):
            url = entry.get(key)
            if isinstance(url, str) and (moved := moved_url(url, old_host, new.host)) != url:
                entry[key], changed = moved, True
        if not changed:
            raise _Unchanged
        followed.append(camera_id)
        return document  # the worker restarts on the new URLs

    try:
        appliance.edit_config(move)
    except _Unchanged:
        return None
    camera_id = followed[0]
    message = (f"camera {camera_id} ({new.urn}) moved from {old_host} to {new.host}: its "
               "stream URLs follow it")
    log.warning("discovery: %s", message)
    alert = Alert(ALERT_CODE, "warning", message, camera=camera_id)  # type: ignore[arg-type]
    appliance.call_hook("nvr_alert", alert=alert, config=appliance.config)
    return camera_id


def follow_if_lost(appliance: Appliance, seen: ProbeMatch) -> str | None:
    """`seen` is an adopted camera at another address than its main URL names, and that
    camera is not online: follow it there (a camera that records where it is, through a
    proxy say, is left alone). Its id, or None."""
    camera_id, entry = adopted_entry(appliance, appliance.config.document.get("cameras", []),
                                     seen.urn)
    if camera_id is None or entry is None or not isinstance(entry.get("main"), str):
        return None
    try:
        old_host = urlsplit(entry["main"]).hostname
    except ValueError:
        return None
    if old_host is None or old_host == seen.host:
        return None
    state = appliance.status().get("cameras", {}).get(camera_id, {}).get("state")
    if state == "online":
        return None
    return follow(appliance, old_host, seen)


def adopted_entry(appliance: Appliance, cameras: list[dict[str, Any]], urn: str
                  ) -> tuple[str | None, dict[str, Any] | None]:
    """The id of the camera adopted from `urn` and its table in `cameras`."""
    adopted = appliance.config.sections["onvif"].adopted
    camera_id = next((c for c, u in adopted.items() if u == urn), None)
    entry = next((c for c in cameras if c.get("id") == camera_id), None)
    return camera_id, entry


def moved_url(url: str, old_host: str, new_host: str) -> str:
    """`url` with its host `old_host` replaced by `new_host` (userinfo, port and path
    kept), or `url` itself when its host is another."""
    try:
        parts = urlsplit(url)
        if parts.hostname != old_host:
            return url
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return url
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{new_host}{port}" if "@" in parts.netloc else f"{new_host}{port}"
    head = f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}://{netloc}{url[len(head):]}"
