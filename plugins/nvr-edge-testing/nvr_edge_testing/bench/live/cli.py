"""`nvr-edge bench live`: measure the live view glass to glass and print one JSON object.

Needs what the test suite needs: GStreamer's RTSP server with x264 (the clock camera),
Debian's Chromium, and hls.js installed by setup-js.sh for the LL-HLS phase.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import sys
import tempfile
from pathlib import Path


def _viewers(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: want a list like 1,4,8") from None
    if not steps or steps[0] != 1 or any(b <= a for a, b in itertools.pairwise(steps)):
        raise argparse.ArgumentTypeError(f"{text!r}: steps start at 1 and grow")
    return steps


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: want WIDTHxHEIGHT") from None
    return width, height


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=15.0, help="each measured window")
    p.add_argument("--viewers", type=_viewers, default=(1, 4, 8, 16),
                   help="viewer ramp: total viewers per step (default 1,4,8,16)")
    p.add_argument("--reloads", type=int, default=3,
                   help="page loads timed for the first frame (default 3)")
    p.add_argument("--hls-runs", type=int, default=1,
                   help="LL-HLS windows, each from a fresh page load (default 1; the target "
                        "holds when every one meets it)")
    p.add_argument("--size", type=parse_size, default=(1280, 720), help="the sub stream's size")
    p.add_argument("--work-dir", type=Path,
                   help="keep clips, logs and the appliance's files here (default: a "
                        "temporary folder, removed afterwards)")


def run_bench(args: argparse.Namespace) -> int:
    from .run import Plan, run  # aiohttp and av: not for every `nvr-edge` command

    if args.seconds <= 0 or args.reloads < 1 or args.hls_runs < 1:
        print("nvr-edge bench live: --seconds, --reloads and --hls-runs must be positive",
              file=sys.stderr)
        return 2
    root = Path(args.work_dir or tempfile.mkdtemp(prefix="nvr-live-bench-")).resolve()
    plan = Plan(seconds=args.seconds, viewers=args.viewers, reloads=args.reloads,
                size=args.size, hls_runs=args.hls_runs)
    try:
        result = asyncio.run(run(plan, root))
    except RuntimeError as exc:
        print(f"nvr-edge bench live: {exc} (logs in {root})", file=sys.stderr)
        return 1
    finally:
        if args.work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0
