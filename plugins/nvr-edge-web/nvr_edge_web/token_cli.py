"""`nvr-edge token`: print an access token for the HTTP API (auth.mode = local).

Added to the `nvr-edge` command through `nvr_cli_commands`; it signs with the same secret
file as the running appliance, so a token printed here opens the box's web API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from nvr_edge import ACTIONS, load_config

from .auth import ALL_CAMERAS, AuthSetupError, TokenIssueError, authenticator_for

EXIT_CONFIG = 2   # the same exit codes as the core's commands
EXIT_RUNTIME = 1


def add_token_command(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="print an access token for the HTTP API "
                                                "(auth.mode = local)")
    token.add_argument("--config", "-c", type=Path, required=True,
                       help="the appliance's TOML configuration file")
    token.add_argument("--camera", action="append", default=[], metavar="ID",
                       help="a camera the token covers (repeatable)")
    token.add_argument("--all-cameras", action="store_true",
                       help="every camera, present and future")
    token.add_argument("--action", action="append", required=True, choices=list(ACTIONS),
                       help="what the token allows (repeatable; admin implies the others)")
    token.add_argument("--ttl", type=int, default=600, help="seconds until it expires")
    token.add_argument("--subject", default="cli", help="who the token is for (its sub)")
    token.set_defaults(nvr_run=run_token)


def run_token(args: argparse.Namespace, pm: Any) -> int:
    if bool(args.camera) == args.all_cameras:
        return _fail("give --camera ID (repeatable) or --all-cameras", EXIT_CONFIG)
    config = load_config(args.config, pm)  # a ConfigError: the CLI's exit code 2
    known = {cam.id for cam in config.cameras}
    unknown = [cam for cam in args.camera if cam not in known]
    if unknown:
        return _fail(f"camera {unknown[0]!r} is not in {config.source} "
                     f"(cameras: {', '.join(sorted(known)) or 'none'})", EXIT_CONFIG)
    try:
        token = authenticator_for(config).issue(
            args.subject, args.action, ALL_CAMERAS if args.all_cameras else args.camera,
            args.ttl)
    except TokenIssueError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except AuthSetupError as exc:
        return _fail(str(exc), EXIT_RUNTIME)
    print(token)
    return 0


def _fail(message: str, code: int) -> int:
    print(f"nvr-edge: token: {message}", file=sys.stderr)
    return code
