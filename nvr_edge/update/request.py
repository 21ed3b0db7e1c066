"""The `update` command's request and the policy that refuses one (pure: no I/O).

A version is dotted release numbers with an optional build label after '+'
(`0.3.1`, `0.3.1+4f2a9c`, what image/build stamps on a bundle). Order is by the release
numbers; the label only tells builds of one release apart (neither is older)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nvr_edge.api import CommandError
from nvr_edge.urls import url_problem

URL_SCHEMES = ("http", "https")
_VERSION = re.compile(r"\A(\d{1,9}(?:\.\d{1,9}){0,5})(?:\+([A-Za-z0-9][A-Za-z0-9._-]{0,63}))?\Z")
_SHA256 = re.compile(r"\A[0-9a-fA-F]{64}\Z")
# A state in which an update owns the box: a second one is refused.
HEALTH_TIMEOUT_S = 600  # the new slot's time to show it records (the gate's timeout)
HEALTH_TIMEOUT_RANGE = (60, 3600)
BUSY_STATES = ("downloading", "verifying", "installing", "rebooting", "testing")


@dataclass(frozen=True)
class Version:
    release: tuple[int, ...]
    label: str = ""

    def __str__(self) -> str:
        text = ".".join(map(str, self.release))
        return f"{text}+{self.label}" if self.label else text

    def key(self) -> tuple[int, ...]:
        """The release padded with zeros, so 1.2 and 1.2.0 compare equal."""
        return self.release + (0,) * (6 - len(self.release))


def parse_version(text: str) -> Version | None:
    match = _VERSION.match(text)
    if match is None:
        return None
    return Version(tuple(int(n) for n in match.group(1).split(".")), match.group(2) or "")


@dataclass(frozen=True)
class UpdateRequest:
    url: str
    version: Version
    sha256: str | None = None  # lower-case hex
    allow_downgrade: bool = False
    health_timeout_s: int = HEALTH_TIMEOUT_S


def parse_request(args: Mapping[str, Any]) -> UpdateRequest:
    """The command's arguments (types already checked against its params) -> a request,
    or CommandError naming the argument and what is wrong with it."""
    url = args["url"]
    problem = url_problem(url, URL_SCHEMES, "an http:// or https:// URL of the bundle")
    if problem:
        raise CommandError(f"argument 'url': {problem}")
    version = parse_version(args["version"])
    if version is None:
        raise CommandError(f"argument 'version': {args['version'][:80]!r} is not a version "
                           "(dotted numbers, optionally +build, e.g. 0.3.1+4f2a9c)")
    sha256 = args.get("sha256")
    if sha256 is not None and not _SHA256.match(sha256):
        raise CommandError("argument 'sha256': expected 64 hexadecimal digits")
    timeout = args.get("health_timeout_s", HEALTH_TIMEOUT_S)
    low, high = HEALTH_TIMEOUT_RANGE
    if not low <= timeout <= high:
        raise CommandError(f"argument 'health_timeout_s': {timeout} is not in {low}..{high}")
    return UpdateRequest(url, version, sha256.lower() if sha256 else None,
                         bool(args.get("allow_downgrade", False)), int(timeout))


def refusal(request: UpdateRequest, *, running: str | None, state: str | None,
            slot: str | None, free_bytes: int | None, bundle_bytes: int | None,
            reserve_bytes: int) -> str | None:
    """Why this box must not take `request` now, or None. `running`: the version the box
    runs (None: unknown); `state`: the last update's state; `slot`: the booted A/B slot
    (None: not an A/B box); `free_bytes`: free space on the data partition;
    `bundle_bytes`: the bundle's size if the server said; `reserve_bytes`: what must stay
    free beside it (the recorders' floor)."""
    if slot is None:
        return "this box was not booted from an A/B slot (no rauc.slot= on the kernel " \
               "command line): it cannot be updated in place"
    if state in BUSY_STATES:
        return f"another update is under way (state {state})"
    current = parse_version(running) if running else None
    if not request.allow_downgrade:
        if current is None:
            return (f"the running version {running or 'unknown'!r} cannot be compared with "
                    f"{request.version}; give allow_downgrade to install anyway")
        if str(current) == str(request.version):
            return f"version {request.version} is already running (allow_downgrade " \
                   "reinstalls it)"
        if request.version.key() < current.key():
            return f"version {request.version} is older than the running {current} " \
                   "(allow_downgrade permits it)"
    if bundle_bytes is not None and free_bytes is not None \
            and free_bytes < bundle_bytes + reserve_bytes:
        return (f"the data partition has {free_bytes // 2**20} MiB free; the bundle needs "
                f"{bundle_bytes // 2**20} MiB plus {reserve_bytes // 2**20} MiB kept free "
                "for recording")
    return None
