"""Adoption of a USB camera: its proposed main stream (or the mode asked for) written into
the config as a camera like any other. No credentials: a local device has none."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from nvr_edge import Appliance, CameraCandidate, Command, ControlError, Param

log = logging.getLogger(__name__)
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


def adopt(appliance: Appliance, candidates: list[CameraCandidate], candidate_id: str,
          camera_id: str | None, name: str | None, mode: str | None) -> dict[str, Any]:
    """Add the device `candidate_id` (`v4l2:<by-id name>`) as `camera_id`; `mode` picks a
    stream by name (`mjpeg 1280x720@30`), default the proposed main one."""
    candidate = next((c for c in candidates if c.id == candidate_id), None)
    if candidate is None:
        raise ControlError(f"no USB camera {candidate_id!r} is plugged in (see discover)")
    if not candidate.streams:
        raise ControlError(f"{candidate_id}: {candidate.problem or 'it offers no stream'}")
    wanted = [s for s in candidate.streams if (s.name == mode if mode else s.role == "main")]
    if not wanted:
        raise ControlError(f"{candidate_id} offers no mode {mode!r} (modes: "
                           f"{', '.join(s.name for s in candidate.streams)})")
    url = wanted[0].url
    device = url.split("?", 1)[0]
    chosen: dict[str, str] = {}

    def add(document: dict[str, Any]) -> dict[str, Any]:
        # on the document as it is when the change lands: another adoption or edit made
        # meanwhile is kept (a merge patch replaces the whole camera list)
        cameras = document.get("cameras", [])
        running = [*appliance.config.cameras]  # discovered cameras too
        if any(str(c.get("main", "")).split("?", 1)[0] == device for c in cameras) or \
                any(c.main.split("?", 1)[0] == device for c in running):
            raise ControlError(f"{candidate_id} is adopted already")
        taken = {c.id for c in running} | {str(c.get("id")) for c in cameras}
        new_id = camera_id or free_id(candidate, taken)
        if new_id in taken:
            raise ControlError(f"camera id {new_id!r} is taken")
        chosen.update(id=new_id, name=name or candidate.name or new_id)
        return {**document, "cameras": [*cameras, {**chosen, "main": url}]}

    change = appliance.edit_config(add)
    camera_id = chosen["id"]
    log.info("v4l2: %s adopted as camera %s (%s)", candidate_id, camera_id, wanted[0].name)
    return {"camera": camera_id, "id": candidate_id, "main": url, **change.as_dict()}


def free_id(candidate: CameraCandidate, taken: set[str]) -> str:
    base = _NOT_ID.sub("-", candidate.name).strip("-")[:48] or "usb-camera"
    found, n = base, 2
    while found in taken:
        found, n = f"{base}-{n}", n + 1
    return found


def adopt_command(appliance: Appliance, candidates: Any) -> Command:
    """`candidates()`: the USB cameras plugged in now."""
    def run(args: Mapping[str, Any]) -> dict[str, Any]:
        return adopt(appliance, candidates(), args["id"], args.get("camera"),
                     args.get("name"), args.get("mode"))

    return Command("adopt_usb_camera", "add a plugged-in USB camera to the config and "
                   "record it (MJPEG/YUYV through the encoders)", run, {
                       "id": Param("string", "the candidate's id (v4l2:<by-id name>)"),
                       "camera": Param("string", "the new camera's id (default: from its "
                                       "name)", required=False),
                       "name": Param("string", "a display name", required=False),
                       "mode": Param("string", "a stream by name, e.g. 'mjpeg 1280x720@30' "
                                     "(default: the proposed main one)", required=False)})
