"""The `nvr-edge` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pluggy

from nvr_edge.appliance.lock import AlreadyRunning, InstanceLock
from nvr_edge.appliance.observers import Observers
from nvr_edge.appliance.state_folder import StateFolderError
from nvr_edge.catalog import CatalogError, SegmentQuery
from nvr_edge.cli import discover
from nvr_edge.cli import export as export_cli
from nvr_edge.cli import fleet as fleet_cli
from nvr_edge.config import Config, ConfigError
from nvr_edge.config_store import public_document, to_toml
from nvr_edge.encode.plugin import ENCODERS
from nvr_edge.logs import setup_logging
from nvr_edge.models import iso_utc, parse_iso_ms
from nvr_edge.plugins import describe_plugins, load_config, make_plugin_manager

EXIT_RUNTIME = 1
EXIT_CONFIG = 2


def _config_arg(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--config", "-c", type=Path, required=required,
                        help="the appliance's TOML configuration file")


def build_parser(pm: pluggy.PluginManager | None = None) -> argparse.ArgumentParser:
    """The parser, with the subcommands plugins add (`nvr_cli_commands`)."""
    parser = argparse.ArgumentParser(prog="nvr-edge", description=__doc__)
    parser.add_argument("--log-level", default=None,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="default INFO (a plugin's subcommand may choose another)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="record every configured camera until stopped")
    _config_arg(run)

    check_config = sub.add_parser("check-config", help="validate a configuration file")
    check_config.add_argument("file", type=Path)
    check_config.add_argument("--show", action="store_true",
                              help="then print it as TOML with every secret masked")

    plugins = sub.add_parser("plugins", help="list active plugins and their hooks")
    plugins.add_argument("--json", action="store_true")
    plugins.add_argument("--probe", action="store_true",
                         help="test-encode every offered encoder now and show the results")
    _config_arg(plugins, required=False)

    check = sub.add_parser("check", help="compare catalog and disk")
    _config_arg(check)
    check.add_argument("--repair", action="store_true", help="fix every difference found")
    check.add_argument("--json", action="store_true")

    status = sub.add_parser("status", help="cameras, tiers and backlog of this appliance")
    _config_arg(status)
    status.add_argument("--json", action="store_true")

    segments = sub.add_parser("segments", help="list recorded segments")
    _config_arg(segments)
    segments.add_argument("--camera")
    segments.add_argument("--since", help="ISO 8601 time (UTC when no zone is given)")
    segments.add_argument("--until", help="ISO 8601 time (UTC when no zone is given)")
    segments.add_argument("--json", action="store_true")

    discover.add_parser(sub)

    export = sub.add_parser("export", help="one MP4 of a camera between two times")
    _config_arg(export)
    export_cli.add_arguments(export)

    fleet_cli.add_parser(sub)

    if pm is not None:  # a plugin that fails here loses its subcommands, not the CLI
        Observers(pm, alert=lambda _alert: None).notify("nvr_cli_commands", subparsers=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    pm = make_plugin_manager()  # the one plugin manager of this process
    args = build_parser(pm).parse_args(argv)
    level = getattr(logging, args.log_level or "INFO")
    setup_logging(level)
    try:
        return _dispatch(args, level, pm)
    except ConfigError as exc:
        print(f"nvr-edge: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (CatalogError, AlreadyRunning, StateFolderError) as exc:
        print(f"nvr-edge: {exc}", file=sys.stderr)
        return EXIT_RUNTIME


def _dispatch(args: argparse.Namespace, level: int, pm: pluggy.PluginManager) -> int:
    command = args.command
    plugin_command = getattr(args, "nvr_run", None)
    if plugin_command is not None:
        return int(plugin_command(args, pm))
    if command == "check-config":
        config = load_config(args.file, pm)
        print(f"{args.file}: ok ({len(config.cameras)} camera(s), device {config.device_id})")
        if args.show:  # what get_config and /api/config show: secrets masked by structure
            print(to_toml(public_document(config.document)), end="")
        return 0
    if command == "plugins":
        return _plugins(pm, args.json, args.probe,
                        load_config(args.config, pm) if args.config else None)
    if command == "discover":
        return discover.run(args, pm)
    config = load_config(args.config, pm)
    if command == "run":
        from nvr_edge.appliance.run import run_appliance

        try:
            run_appliance(config, pm=pm, log_level=level)
        except Exception:
            # Workers are stopped and segments closed by now (stop runs in a finally). Exit
            # at once: a plugin's leftover thread must not keep a half-dead box running
            # that systemd would never restart.
            logging.getLogger("nvr_edge").critical(
                "the appliance stopped on an unexpected error; exiting", exc_info=True)
            logging.shutdown()
            os._exit(EXIT_RUNTIME)
        return 0
    if command == "check":
        return _check(config, args.repair, args.json, pm)
    if command == "segments":
        return _segments(config, args)
    if command == "export":
        return export_cli.run_export(config, pm, args)
    if command == "status":
        from nvr_edge.cli.status import show_status

        return show_status(config, args.json)
    raise AssertionError(command)


def _plugins(pm: pluggy.PluginManager, as_json: bool, probe: bool = False,
             config: Config | None = None) -> int:
    infos = describe_plugins(pm)
    probes = [r.as_dict() for r in ENCODERS.probe_all(pm, config)] if probe else None
    if as_json:
        listed = [info.__dict__ for info in infos]
        print(json.dumps(listed if probes is None else {"plugins": listed, "encoders": probes},
                         indent=2))
        return 0
    for info in infos:
        origin = "built-in" if info.builtin else "installed"
        print(f"{info.name} {info.version} ({origin}): {', '.join(info.hooks)}")
    for result in probes or ():
        first = result["first_packet_s"]
        print(f"encoder {result['name']} ({result['engine']}): {result['reason']}, "
              f"probe {result['seconds']:.2f} s"
              + (f", first packet after {first:.3f} s" if first is not None else ""))
    if probes is not None:
        print(f"preferred by the board: {ENCODERS.prefer or 'none'}")
    return 0


def _check(config: Config, repair: bool, as_json: bool, pm: pluggy.PluginManager) -> int:
    from nvr_edge.appliance.run import opened_catalog
    from nvr_edge.storage.recovery import Finding, reconcile

    lock = InstanceLock(config.storage.state_dir)
    running = lock.held_elsewhere()
    if repair and running:
        raise AlreadyRunning("the appliance is running; stop it before `check --repair`")
    with opened_catalog(config, create=repair) as catalog:  # plain `check` changes nothing
        report = reconcile(config, catalog, repair=repair)
        # a plugin that fails here is reported as a difference, not a crash of `check`
        observers = Observers(pm, alert=lambda alert: report.add(
            Finding("plugin-failed", alert.camera or "-", alert.message)))
        for found in observers.notify("nvr_check", config=config, catalog=catalog):
            for kind, path, detail in found or ():
                report.add(Finding(kind, path, detail))
    if as_json:
        print(json.dumps({"differences": len(report.differences),
                          "findings": report.to_dicts()}, indent=2))
    else:
        for f in report.findings:
            mark = " [repaired]" if f.repaired else ""
            print(f"{f.kind:15} {f.path} {f.detail}{mark}")
        print(f"{len(report.differences)} difference(s)")
    unrepaired = [f for f in report.differences if not f.repaired]
    return 1 if unrepaired else 0


def _segments(config: Config, args: argparse.Namespace) -> int:
    from nvr_edge.appliance.run import opened_catalog

    try:
        since = parse_iso_ms(args.since) if args.since else None
        until = parse_iso_ms(args.until) if args.until else None
    except ValueError as exc:
        print(f"nvr-edge: --since/--until: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    with opened_catalog(config) as catalog:
        rows = catalog.segments(SegmentQuery(camera=args.camera, since_ms=since,
                                             until_ms=until))
    if args.json:
        print(json.dumps([row.to_dict() for row in rows], indent=2))
        return 0
    for row in rows:
        print(f"{row.camera:16} {iso_utc(row.start_ms)} {row.duration_ms / 1000:7.1f}s "
              f"{row.bytes:>11} {row.status:7} {row.path}")
    return 0
