"""``nvr-edge simcam``: serve simulated cameras until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from nvr_edge_testing.simcam import SimCameraError, SimCameraServer
from nvr_edge_testing.simcam.clip import ClipError


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nvr-edge" / "simcam"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cameras", type=int, default=4)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8554)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--audio", choices=("aac", "pcmu", "none"), default="aac")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="where encoded clips and the server log go "
                        "(default: $XDG_CACHE_HOME/nvr-edge/simcam)")


def run(args: argparse.Namespace) -> int:
    if (args.user is None) != (args.password is None):
        print("nvr-edge simcam: --user and --password go together", file=sys.stderr)
        return 2
    cache_dir = args.cache_dir or default_cache_dir()
    print(f"Preparing clips in {cache_dir} (first run encodes them once)...", flush=True)
    try:
        cams = SimCameraServer(cache_dir, cameras=args.cameras, host=args.host, port=args.port,
                               user=args.user, password=args.password, audio=args.audio)
        cams.start()
    except (SimCameraError, ClipError, OSError) as exc:
        print(f"nvr-edge simcam: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for cam in range(1, args.cameras + 1):
            # Without credentials: the password must not end up in terminals or logs.
            print(f"camera {cam}: {cams.url(cam, with_credentials=False)}  "
                  f"{cams.url(cam, 'sub', with_credentials=False)}")
        if args.user:
            print(f"RTSP basic auth required: user {args.user!r} and the given password")
        print(f"Server log: {cams.log_path}. Ctrl-C to stop.", flush=True)
        while not stop.wait(1.0):
            if not cams.running:
                print(f"nvr-edge simcam: server exited; see {cams.log_path}", file=sys.stderr)
                return 1
        return 0
    finally:
        cams.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
