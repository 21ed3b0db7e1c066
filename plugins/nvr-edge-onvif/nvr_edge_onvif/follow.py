"""An adopted camera seen at a new address (a DHCP lease ran out): its stream URLs follow
it, under the same camera id, and an alert says so.

Only URLs whose host was the camera's old address change (a camera whose streams come
from elsewhere, an RTSP proxy, is left alone). The move is noticed between two sightings
in one run of the box (a Hello or an answer to a probe); a camera that moved while the
box was off is not followed yet.
"""

from __future__ import annotations

import copy
import logging
from urllib.parse import urlsplit

from nvr_edge import Alert, Appliance
from nvr_edge_onvif.probe import ProbeMatch

log = logging.getLogger(__name__)
ALERT_CODE = "camera_address_changed"


def follow(appliance: Appliance, old: ProbeMatch, new: ProbeMatch) -> str | None:
    """Point the camera adopted from `new.urn` at `new.host`; its id, or None when no
    configured camera came from that URN or none of its URLs named the old address."""
    config = appliance.config
    camera_id = next((c for c, urn in config.sections["onvif"].adopted.items()
                      if urn == new.urn), None)
    cameras = copy.deepcopy(list(config.document.get("cameras", [])))
    entry = next((c for c in cameras if c.get("id") == camera_id), None)
    if camera_id is None or entry is None:
        return None
    changed = False
    for key in ("main", "sub"):
        url = entry.get(key)
        if isinstance(url, str) and (moved := moved_url(url, old.host, new.host)) != url:
            entry[key], changed = moved, True
    if not changed:
        return None
    appliance.patch_config({"cameras": cameras})  # the worker restarts on the new URLs
    message = (f"camera {camera_id} ({new.urn}) moved from {old.host} to {new.host}: its "
               "stream URLs follow it")
    log.warning("discovery: %s", message)
    alert = Alert(ALERT_CODE, "warning", message, camera=camera_id)  # type: ignore[arg-type]
    appliance.call_hook("nvr_alert", alert=alert, config=appliance.config)
    return camera_id


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
