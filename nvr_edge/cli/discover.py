"""`nvr-edge discover`: cameras not yet adopted, from every plugin's
`nvr_camera_candidates`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pluggy

from nvr_edge.appliance.observers import Observers
from nvr_edge.candidates import CameraCandidate, DiscoveryRequest

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("discover", help="list cameras on the network not yet adopted")
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout", type=float, default=3.0, metavar="S",
                   help="seconds to wait for replies (default 3)")
    p.add_argument("--user", help="user to try on every camera found")
    p.add_argument("--password-file", type=Path, metavar="F",
                   help="file holding that user's password (never on the command line)")
    p.add_argument("--host", action="append", default=[], metavar="H",
                   help="also ask this host, name or subnet (10.1.2.0/24) directly: "
                        "multicast does not cross routers")
    p.add_argument("--interface", action="append", default=[], metavar="IF",
                   help="search only on this network interface (default: every one)")


def run(args: argparse.Namespace, pm: pluggy.PluginManager) -> int:
    if args.timeout <= 0 or args.timeout > 60:
        print("nvr-edge discover: --timeout must be in (0, 60] seconds", file=sys.stderr)
        return 2
    if (args.user is None) != (args.password_file is None):
        print("nvr-edge discover: --user and --password-file go together", file=sys.stderr)
        return 2
    password = None
    if args.password_file is not None:
        try:
            password = args.password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            print(f"nvr-edge discover: cannot read the password file: {exc.strerror}",
                  file=sys.stderr)
            return 2
    request = DiscoveryRequest(timeout_s=args.timeout, user=args.user, password=password,
                               hosts=tuple(args.host), interfaces=tuple(args.interface))
    # a plugin that raises loses its candidates, not the command
    observers = Observers(pm, alert=lambda alert: log.warning("%s", alert.message))
    found = merged(observers.notify("nvr_camera_candidates", request=request))
    if args.json:
        print(json.dumps([c.public(args.user) for c in found], indent=2))
        return 0
    for candidate in found:
        print(describe(candidate, args.user))
    print(f"{len(found)} camera(s) found")
    return 0


def merged(answers: list[list[CameraCandidate]]) -> list[CameraCandidate]:
    """All plugins' candidates, the first to name an id winning, sorted by address."""
    by_id: dict[str, CameraCandidate] = {}
    for answer in answers:
        for candidate in answer:
            by_id.setdefault(candidate.id, candidate)
    return sorted(by_id.values(), key=lambda c: (c.address, c.id))


def describe(candidate: CameraCandidate, user: str | None) -> str:
    data = candidate.public(user)
    head = " ".join(filter(None, (candidate.manufacturer, candidate.model)))
    lines = [f"{candidate.kind} {candidate.address} {candidate.name!r} {head} ({candidate.id})"]
    if candidate.problem:
        lines.append(f"  problem: {candidate.problem}")
    for s in data["streams"]:
        fps = f"{s['fps']:g} fps" if s["fps"] else "? fps"
        lines.append(f"  {s['role'] or '-':4} {s['name']}: {s['codec']} "
                     f"{s['width']}x{s['height']} {fps} {s['url']}")
    return "\n".join(lines)
