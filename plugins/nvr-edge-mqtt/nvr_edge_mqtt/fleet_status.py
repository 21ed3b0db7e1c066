"""`nvr-edge fleet status --broker URL`: the fleet at a glance, from the retained topics
every box keeps on its broker (availability, health, camera states, discovery lists),
without asking any box anything: boxes online and offline, cameras not recording, disks
near full, cameras found and waiting to be adopted."""

from __future__ import annotations

import argparse
import fnmatch
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

QUIET_S = 0.5  # retained messages arrive in one burst after subscribing: then quiet
NEAR_FULL_FREE = 0.05  # a tier with less free than this share (or under its floor)


@dataclass
class BoxView:
    availability: str = "unknown"
    health: dict[str, Any] = field(default_factory=dict)
    cameras: dict[str, str] = field(default_factory=dict)
    found: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # source -> list

    def waiting(self) -> list[dict[str, str]]:
        """Cameras a discovery source lists that nobody adopted or ignored yet."""
        return [{"source": source, "id": str(c.get("id", "")),
                 "address": str(c.get("address", "")), "name": str(c.get("name") or "")}
                for source, found in sorted(self.found.items()) for c in found
                if not c.get("ignored") and not c.get("adopted_as")]

    def not_recording(self) -> list[str]:
        return sorted(c for c, state in self.cameras.items()
                      if state not in ("online", "disabled", ""))

    def near_full(self) -> list[str]:
        full = []
        for name, tier in (self.health.get("tiers") or {}).items():
            free, total = tier.get("free_bytes") or 0, tier.get("total_bytes") or 0
            if tier.get("state", "ok") != "ok" or free < (tier.get("floor_bytes") or 0) \
                    or (total and free / total < NEAR_FULL_FREE):
                full.append(name)
        return sorted(full)


def _health(text: str) -> dict[str, Any]:
    """A box's health report as `summary` reads it. The broker is shared: anything may
    sit on a topic, so a report of another shape is shown as unreadable, not a crash."""
    unreadable: dict[str, Any] = {"overall": "unreadable", "problems": ["health unreadable"]}
    try:
        report = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return unreadable
    if not isinstance(report, dict):
        return unreadable
    tiers = report.get("tiers")
    problems = report.get("problems")
    tiers_ok = isinstance(tiers, dict) and all(
        isinstance(t, dict) and all(isinstance(t.get(k) or 0, (int, float))
                                    for k in ("free_bytes", "total_bytes", "floor_bytes"))
        for t in tiers.values())
    if not tiers_ok or not isinstance(problems, list) or \
            not all(isinstance(p, str) for p in problems) or \
            not isinstance(report.get("overall"), str):
        return unreadable
    return report


def _found(text: str) -> list[dict[str, Any]]:
    """A discovery topic's `candidates`; anything else on it lists nothing (see `_health`)."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return []
    found = body.get("candidates") if isinstance(body, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def collect(host: str, port: int, prefix: str, timeout_s: float) -> dict[str, BoxView]:
    """Every box's retained state under `prefix`, read until the burst is over."""
    boxes: dict[str, BoxView] = {}
    lock = threading.Lock()
    last = [time.monotonic()]
    subscribed = threading.Event()

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")[len(prefix.split("/")):]
        text = message.payload.decode(errors="replace")
        with lock:
            last[0] = time.monotonic()
            if len(parts) < 2:
                return
            box = boxes.setdefault(parts[0], BoxView())
            if parts[1:] == ["availability"]:
                box.availability = text or "unknown"
            elif parts[1:] == ["health"] and text:
                box.health = _health(text)
            elif len(parts) == 4 and parts[1] == "camera" and parts[3] == "state":
                if text:
                    box.cameras[parts[2]] = text
                else:
                    box.cameras.pop(parts[2], None)
            elif len(parts) == 3 and parts[1] == "discovery":
                box.found[parts[2]] = _found(text) if text else []

    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                         client_id=f"nvr-edge-fleet-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_connect = lambda c, *_: c.subscribe(
        [(f"{prefix}/+/availability", 1), (f"{prefix}/+/health", 1),
         (f"{prefix}/+/camera/+/state", 1), (f"{prefix}/+/discovery/+", 1)])
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        if not subscribed.wait(timeout_s):
            raise TimeoutError(f"the broker at {host}:{port} did not answer within "
                               f"{timeout_s:.0f} s")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with lock:
                if time.monotonic() - last[0] > QUIET_S:
                    break
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    return boxes


def summary(boxes: dict[str, BoxView]) -> dict[str, Any]:
    rows = {device: {"availability": box.availability,
                     "overall": box.health.get("overall"),
                     "cameras_online": sum(1 for s in box.cameras.values() if s == "online"),
                     "cameras": len(box.cameras),
                     "not_recording": box.not_recording(),
                     "near_full": box.near_full(),
                     "found": box.waiting(),
                     "problems": box.health.get("problems", [])}
            for device, box in sorted(boxes.items())}
    return {"boxes": len(rows),
            "online": sum(1 for r in rows.values() if r["availability"] == "online"),
            "offline": sorted(d for d, r in rows.items() if r["availability"] != "online"),
            "cameras_not_recording": sum(len(r["not_recording"]) for r in rows.values()),
            "near_full": sorted(d for d, r in rows.items() if r["near_full"]),
            "cameras_found": sum(len(r["found"]) for r in rows.values()),
            "devices": rows}


def table(report: dict[str, Any]) -> str:
    lines = [f"{report['online']} of {report['boxes']} boxes online; "
             f"{report['cameras_not_recording']} cameras not recording; "
             f"{len(report['near_full'])} boxes with a disk near full; "
             f"{report['cameras_found']} cameras found, waiting to be adopted",
             f"{'box':<24} {'state':<9} {'health':<9} {'cameras':>8} {'found':>5}  problems"]
    for device, row in report["devices"].items():
        problems = "; ".join(row["problems"]) or "-"
        lines.append(f"{device:<24} {row['availability']:<9} {row['overall'] or '?':<9} "
                     f"{row['cameras_online']:>3}/{row['cameras']:<4} {len(row['found']):>5}  "
                     f"{problems}")
    return "\n".join(lines)


def add_fleet_command(subparsers: Any) -> None:
    from nvr_edge import fleet_subcommands

    kinds = fleet_subcommands(subparsers)  # beside the core's `fleet segments`
    status = kinds.add_parser("status", help="boxes online/offline, cameras not recording, "
                                             "disks near full, cameras found (retained topics)")
    status.add_argument("--broker", required=True, help="mqtt://host[:port]")
    status.add_argument("--prefix", default="nvr", help="the boxes' topic_prefix")
    status.add_argument("--group", default="*", help="device ids matching this pattern")
    status.add_argument("--timeout", type=float, default=10.0)
    status.add_argument("--json", action="store_true")
    status.set_defaults(nvr_run=run_fleet_status)


def run_fleet_status(args: argparse.Namespace, _pm: Any) -> int:
    url = urlsplit(args.broker)
    if url.scheme != "mqtt" or not url.hostname:
        print("nvr-edge fleet status: --broker must be mqtt://host[:port]")
        return 2
    try:
        boxes = collect(url.hostname, url.port or 1883, args.prefix, args.timeout)
    except (OSError, TimeoutError) as exc:
        print(f"nvr-edge fleet status: cannot read the broker {args.broker}: {exc}")
        return 1
    report = summary({d: b for d, b in boxes.items() if fnmatch.fnmatchcase(d, args.group)})
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0 if not report["offline"] else 3
