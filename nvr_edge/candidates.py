"""Cameras found on the network or the bus, before anyone adopted them: plain data that
`nvr_camera_candidates` returns and `nvr-edge discover` shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from nvr_edge.config_secrets import mask_url
from nvr_edge.urls import UrlParts, split_url


@dataclass(frozen=True)
class DiscoveryRequest:
    """What the operator asked for: how long to look, which credentials to try on what is
    found, hosts that multicast does not reach (behind a router, a VPN), and the network
    interfaces to search (empty: every one; the viewers' LAN may be left out)."""

    timeout_s: float = 3.0
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    hosts: tuple[str, ...] = ()
    interfaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class CandidateStream:
    """One stream a candidate offers; `url` as the camera gave it (credentials are added
    at adoption, never stored here)."""

    name: str
    role: str  # "main" (highest resolution), "sub" (lowest) or "" (neither)
    codec: str
    width: int
    height: int
    fps: float | None
    url: str


@dataclass(frozen=True)
class CameraCandidate:
    """A camera that could be adopted. `id` is stable across address changes (an ONVIF
    endpoint URN); `problem` says why details are missing (wrong password, no answer)."""

    id: str
    kind: str  # "onvif", "v4l2", or a plugin's own
    address: str
    name: str = ""
    manufacturer: str = ""
    model: str = ""
    streams: tuple[CandidateStream, ...] = ()
    problem: str = ""
    snapshot_url: str = ""  # a JPEG over HTTP (ONVIF GetSnapshotUri), "" when none

    def public(self, user: str | None = None) -> dict[str, Any]:
        """As a JSON-able dict whose stream URLs name `user` and mask any password; the
        snapshot URL without its query (some firmware puts credentials there)."""
        data = asdict(self)
        data["streams"] = [dict(s, url=display_url(s["url"], user)) for s in data["streams"]]
        data["snapshot_url"] = mask_url(self.snapshot_url.split("?", 1)[0])
        return data


def display_url(url: str, user: str | None) -> str:
    """`url` with `user` and a masked password in it, the form an operator may see."""
    parts = split_url(url)
    if parts is None or user is None or parts.user is not None:
        return mask_url(url)
    with_user = UrlParts(parts.scheme, quote(user, safe=""), "x", parts.hostport, parts.rest)
    return mask_url(with_user.text())
