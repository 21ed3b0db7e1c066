"""`nvr-edge fleet segments` and `nvr-edge fleet catalog`: the shared PostgreSQL catalog
seen by the fleet's operator (docs/FLEET-CATALOG.md). Plugins add their own `fleet`
commands (the MQTT plugin's `fleet status`) through `nvr_edge.fleet_subcommands`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from nvr_edge.api import fleet_subcommands
from nvr_edge.catalog import CatalogError
from nvr_edge.models import iso_utc, parse_iso_ms

EXIT_NOT_FOUND = 3


def add_parser(subparsers: Any) -> None:
    kinds = fleet_subcommands(subparsers)
    segments = kinds.add_parser("segments", help="where a camera's segment at a moment lives "
                                                 "(box, tier, path), from the shared catalog")
    segments.add_argument("--catalog", required=True,
                          help="postgresql://operator@host/db (an operator's or the owner's)")
    segments.add_argument("--device", required=True, help="the box's [device] id")
    segments.add_argument("--camera", required=True)
    segments.add_argument("--at", required=True, help="ISO 8601 time (UTC when no zone)")
    segments.add_argument("--json", action="store_true")
    segments.set_defaults(nvr_run=run_segments)

    catalog = kinds.add_parser("catalog", help="the shared catalog's roles and retention "
                                               "(with the owner's URL)")
    actions = catalog.add_subparsers(dest="catalog_action", required=True)
    migrate = actions.add_parser("migrate", help="apply the shared schema (as the owner)")
    migrate.add_argument("--catalog", required=True)
    migrate.add_argument("--device", help="whose rows a single-box catalog holds (needed "
                                          "when it holds any)")
    migrate.set_defaults(nvr_run=run_migrate)
    box = actions.add_parser("add-box", help="a login role that writes one box's rows only")
    box.add_argument("--catalog", required=True)
    box.add_argument("--device", required=True)
    box.add_argument("--role", required=True)
    box.add_argument("--password-env", metavar="VAR",
                     help="set the role's password from this environment variable")
    box.set_defaults(nvr_run=run_add_box)
    operator = actions.add_parser("add-operator", help="let an existing role read every box")
    operator.add_argument("--catalog", required=True)
    operator.add_argument("--role", required=True)
    operator.set_defaults(nvr_run=run_add_operator)
    drop = actions.add_parser("drop-days", help="the daily job: drop day partitions past "
                                                "retention or empty, make days ahead")
    drop.add_argument("--catalog", required=True)
    drop.add_argument("--keep-days", type=float, required=True,
                      help="the fleet's longest retention: older days go whole")
    drop.add_argument("--ahead", type=int, default=7, help="days to make ahead (at most 31)")
    drop.set_defaults(nvr_run=run_drop_days)


def _fail(message: str, code: int = 1) -> int:
    print(f"nvr-edge fleet: {message}", file=sys.stderr)
    return code


def run_segments(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge.catalog.fleet_admin import connect
    from nvr_edge.catalog.fleet_lookup import UnknownDevice, locate

    try:
        at_ms = parse_iso_ms(args.at)
    except ValueError as exc:
        return _fail(f"--at {args.at!r}: {exc}", 2)
    try:
        with connect(args.catalog) as conn:
            answer = locate(conn, args.device, args.camera, at_ms)
    except CatalogError as exc:
        return _fail(str(exc))
    except UnknownDevice:
        return _fail(f"no device {args.device!r} in the catalog", EXIT_NOT_FOUND)
    except Exception as exc:  # a catalog of another schema, a role without rights
        from nvr_edge.logs import redact

        return _fail(f"catalog {redact(args.catalog)}: {redact(str(exc)).strip()}")
    if args.json:
        print(json.dumps({"device": args.device, "camera": args.camera, "at": iso_utc(at_ms),
                          "segments": [s.to_dict() for s in answer.at],
                          "before": answer.before.to_dict() if answer.before else None,
                          "after": answer.after.to_dict() if answer.after else None},
                         indent=2))
    else:
        for s in answer.at:
            print(f"{s.device}  {s.camera}/{s.stream}  {iso_utc(s.start_ms)} - "
                  f"{iso_utc(s.end_ms)}  {s.tier}  {s.path}  {s.status}"
                  + (f"  object {s.object_key}" if s.object_key else ""))
    if answer.at:
        return 0
    nearest = ", ".join(f"{side} {iso_utc(s.start_ms)} - {iso_utc(s.end_ms)} ({s.tier} "
                        f"{s.path})" for side, s in (("before:", answer.before),
                                                     ("after:", answer.after)) if s)
    return _fail(f"no segment of {args.device}/{args.camera} at {iso_utc(at_ms)}; nearest "
                 f"{nearest or 'none: the camera has no segment in the catalog'}",
                 EXIT_NOT_FOUND)


def run_migrate(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge.catalog.fleet_admin import connect, single_box_rows
    from nvr_edge.catalog.postgres import PostgresCatalog

    try:
        with connect(args.catalog) as conn:
            rows = single_box_rows(conn)
        if rows and not args.device:
            return _fail(f"the catalog holds {rows} rows of a single box: name that box "
                         "with --device", 2)
        catalog = PostgresCatalog(args.catalog, args.device or "unassigned")
        version = catalog.schema_version()
        catalog.close()
    except CatalogError as exc:
        return _fail(str(exc))
    print(f"catalog at schema version {version}")
    return 0


def run_add_box(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge.catalog.fleet_admin import add_box, connect

    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            return _fail(f"--password-env: ${args.password_env} is empty or unset", 2)
    try:
        with connect(args.catalog) as conn:
            add_box(conn, args.device, args.role, password)
    except CatalogError as exc:
        return _fail(str(exc))
    print(f"role {args.role} writes device {args.device}'s rows only")
    return 0


def run_add_operator(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge.catalog.fleet_admin import add_operator, connect

    try:
        with connect(args.catalog) as conn:
            add_operator(conn, args.role)
    except CatalogError as exc:
        return _fail(str(exc))
    print(f"role {args.role} reads every box's rows")
    return 0


def run_drop_days(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge.catalog.fleet_admin import add_days_ahead, connect, drop_days

    try:
        with connect(args.catalog) as conn:
            dropped = drop_days(conn, args.keep_days)
            made = add_days_ahead(conn, args.ahead)
    except CatalogError as exc:
        return _fail(str(exc))
    print(json.dumps({"dropped": dropped, "made": made}))
    return 0
