"""From a ProbeMatch to a candidate: ask the camera who it is and what it streams."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

from nvr_edge import CameraCandidate, CandidateStream
from nvr_edge_onvif.client import OnvifClient, main_and_sub
from nvr_edge_onvif.probe import ProbeMatch
from nvr_edge_onvif.soap import AuthError, Credentials, OnvifError

log = logging.getLogger(__name__)

BUDGET_S = 10.0  # per camera, for all its calls: a slow one still ends the command soon


def describe(match: ProbeMatch, credentials: Credentials | None,
             budget_s: float = BUDGET_S) -> CameraCandidate:
    """A candidate for `match`, asked for at most `budget_s` seconds in all; what the camera
    would not tell is named in `problem`."""
    deadline = time.monotonic() + budget_s
    base = CameraCandidate(id=match.urn, kind="onvif",
                           address=urlsplit(match.xaddrs[0]).hostname or match.sender,
                           name=match.scope("name"), model=match.scope("hardware"))
    problem = ""
    for xaddr in match.xaddrs:  # the first that answers; IPv4 ones come first
        try:
            return _ask(base, OnvifClient(xaddr, credentials, deadline))
        except AuthError as exc:
            problem = f"wrong user or password: {exc}" if credentials else \
                f"credentials needed: {exc}"
            break  # another address of the same camera refuses them alike
        except OnvifError as exc:
            problem = str(exc)
    log.info("discovery: %s at %s: %s", match.urn, base.address, problem)
    return replace(base, problem=problem)


def _optional(step: Callable[[], None]) -> None:
    """A step some cameras do not support; refused credentials still end the camera."""
    try:
        step()
    except AuthError:
        raise
    except OnvifError as exc:
        log.debug("discovery: %s skipped: %s", step.__name__, exc)


def _ask(base: CameraCandidate, client: OnvifClient) -> CameraCandidate:
    client.sync_clock()
    info = client.device_information()
    _optional(client.find_media_service)  # else media on the device address, as many do
    _optional(client.find_media2_service)  # else Media1 only
    uris = {}
    for profile in client.profiles():
        try:
            uris[profile] = client.stream_uri(profile.token)
        except AuthError:
            raise
        except OnvifError as exc:  # one odd profile (no RTSP, say) costs only itself
            log.info("discovery: %s profile %r left out: %s", base.id, profile.token, exc)
    roles = main_and_sub(list(uris))
    streams = tuple(CandidateStream(p.name, roles.get(p.token, ""), p.codec, p.width,
                                    p.height, p.fps, uri) for p, uri in uris.items())
    return replace(base, manufacturer=info.manufacturer, model=info.model or base.model,
                   streams=streams, snapshot_url=_snapshot_uri(base, client, roles))


def _snapshot_uri(base: CameraCandidate, client: OnvifClient, roles: dict[str, str]) -> str:
    """The sub profile's snapshot (the main one's if there is no sub), or "" (many cameras
    have none, or an HTTP one that needs what we do not send)."""
    by_role = {role: token for token, role in roles.items()}
    token = by_role.get("sub") or by_role.get("main")
    if token is None:
        return ""
    try:
        return client.snapshot_uri(token)
    except AuthError:
        raise
    except OnvifError as exc:
        log.info("discovery: %s has no snapshot URI: %s", base.id, exc)
        return ""
