"""Adoption: a heard-of camera, asked once more with the operator's credentials, written
into the config as a camera like any other (its proposed main and sub streams, the
credentials in their URLs) and remembered by URN under `[onvif.adopted]`."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from nvr_edge import Appliance, CameraCandidate, ControlError, mask_url
from nvr_edge_onvif.candidates import describe
from nvr_edge_onvif.probe import ProbeMatch
from nvr_edge_onvif.registry import Registry
from nvr_edge_onvif.soap import Credentials

log = logging.getLogger(__name__)
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


def adopt(appliance: Appliance, registry: Registry, urn: str, camera_id: str | None,
          name: str | None, credentials: Credentials | None) -> dict[str, Any]:
    """Add the camera `urn` as `camera_id` (default: from its name); what was written, with
    masked URLs. ControlError when it is unknown, refuses the credentials or has no stream."""
    match = heard(registry, urn)
    config = appliance.config
    taken = {c.id for c in config.cameras}
    earlier = [c for c, u in config.sections["onvif"].adopted.items() if u == urn]
    if any(c in taken for c in earlier):
        raise ControlError(f"{urn} is adopted already")
    candidate, roles = asked(match, credentials)
    main = with_credentials(roles["main"], credentials)
    sub = with_credentials(roles["sub"], credentials) if "sub" in roles else None
    stream_plays(appliance, urn, main)
    chosen: dict[str, str] = {}

    def add(document: dict[str, Any]) -> dict[str, Any]:
        # on the document as it is when the change lands (another adoption or edit made
        # while the camera was asked is kept: a merge patch replaces the whole list)
        cameras = document.get("cameras", [])
        onvif = dict(document.get("onvif", {}))
        adopted = dict(onvif.get("adopted", {}))
        ids = {str(c.get("id")) for c in cameras}
        if any(u == urn and c in ids for c, u in adopted.items()):
            raise ControlError(f"{urn} is adopted already")
        taken = ids | {c.id for c in appliance.config.cameras}
        new_id = camera_id or free_id(candidate, taken)
        if new_id in taken:
            raise ControlError(f"camera id {new_id!r} is taken")
        entry = {"id": new_id, "name": name or candidate.name or new_id, "main": main}
        if sub is not None:
            entry["sub"] = sub
        chosen["id"] = new_id
        # an earlier adoption whose camera was deleted since is dropped
        adopted = {c: u for c, u in adopted.items() if u != urn}
        return {**document, "cameras": [*cameras, entry],
                "onvif": {**onvif, "adopted": {**adopted, new_id: urn}}}

    change = appliance.edit_config(add)
    camera_id = chosen["id"]
    log.info("discovery: %s adopted as camera %s (%s)", urn, camera_id, candidate.address)
    return {"camera": camera_id, "id": urn, "main": mask_url(main),
            "sub": mask_url(sub) if sub is not None else None, **change.as_dict()}


def stream_plays(appliance: Appliance, urn: str, url: str) -> None:
    """The main stream opened once (the built-in `test_stream`) before anything is written:
    a camera whose RTSP password differs from its ONVIF one, or whose stream is off, is
    refused here rather than added to fail."""
    if not any(c.name == "test_stream" for c in appliance.commands()):
        return  # the snapshots plugin blocked: the worker will say
    try:
        appliance.run_command("test_stream", {"url": url})
    except ControlError as exc:
        raise ControlError(f"{urn}: its main stream does not play: {exc}") from None


def asked(match: ProbeMatch, credentials: Credentials | None
          ) -> tuple[CameraCandidate, dict[str, str]]:
    """The camera asked over SOAP with `credentials`: its candidate and stream URLs by role
    (`main` always there); ControlError when it refuses or offers no stream."""
    candidate = describe(match, credentials)
    if candidate.problem:
        raise ControlError(f"{match.urn} at {candidate.address}: {candidate.problem}")
    roles = {s.role: s.url for s in candidate.streams if s.role}
    if "main" not in roles:
        raise ControlError(f"{match.urn} at {candidate.address} offers no RTSP stream")
    return candidate, roles


def heard(registry: Registry, urn: str) -> ProbeMatch:
    match = registry.get(urn)
    if match is None:
        raise ControlError(f"no camera {urn!r} was heard of: run discover first (or wait "
                           "for its Hello)")
    return match


def with_credentials(url: str, credentials: Credentials | None) -> str:
    """The camera's stream URL with the user and password in it (percent-encoded, as the
    recorder expects), unless the camera put some there already."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ControlError("the camera gave a malformed stream URL") from None
    if credentials is None or "@" in parts.netloc:
        return url
    head = f"{parts.scheme}://{parts.netloc}"  # client.stream_uri made sure of the scheme
    userinfo = f"{quote(credentials.user, safe='')}:{quote(credentials.password, safe='')}@"
    return f"{parts.scheme}://{userinfo}{parts.netloc}{url[len(head):]}"


def free_id(candidate: CameraCandidate, taken: set[str]) -> str:
    """A camera id from the candidate's name (or URN), not in `taken`."""
    base = _NOT_ID.sub("-", candidate.name).strip("-")[:48] or \
        "onvif-" + _NOT_ID.sub("", candidate.id)[-8:]
    found, n = base, 2
    while found in taken:
        found, n = f"{base}-{n}", n + 1
    return found


def credentials_of(args: Mapping[str, Any]) -> Credentials | None:
    user, password = args.get("user"), args.get("password")
    if (user is None) != (password is None):
        raise ControlError("`user` and `password` go together")
    return Credentials(user, password) if user is not None else None
