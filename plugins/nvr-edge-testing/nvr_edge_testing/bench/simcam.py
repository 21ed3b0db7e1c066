"""Benchmark the simulated cameras: N cameras, N ffmpeg clients, server CPU per camera.

    .venv/bin/python -m nvr_edge_testing.bench.simcam --cameras 16 --seconds 30

Each client is ``ffmpeg -rtsp_transport tcp -i URL -c copy`` writing ``framecrc``
(per-packet timestamps, as cheap as ``-f null``) so timestamp jumps can be checked.
A script for now, not an `nvr-edge bench` subcommand.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nvr_edge_testing.simcam import SimCameraServer, ensure_clip


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def check_framecrc(path: Path, fps: int) -> dict[int, str]:
    """Per stream: 'ok' or a description of the first timestamp anomaly."""
    last: dict[int, int] = {}
    steps: dict[int, set[int]] = {}
    problems: dict[int, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        stream, dts, *_ = (f.strip() for f in line.split(","))
        s, t = int(stream), int(dts)
        if s in last and t <= last[s] and s not in problems:
            problems[s] = f"dts {t} after {last[s]}"
        if s in last:
            steps.setdefault(s, set()).add(t - last[s])
        last[s] = t
    return {s: problems.get(s, f"ok, dts steps {sorted(steps.get(s, ()))[:4]}") for s in last}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "simcam-cache")
    args = p.parse_args()
    main_clip = ensure_clip(args.cache_dir)
    with (tempfile.TemporaryDirectory() as out,
          SimCameraServer(args.cache_dir, cameras=args.cameras, main=main_clip) as cams):
        assert cams.pid is not None
        cpu0, t0 = cpu_seconds(cams.pid), time.monotonic()
        clients = [
            subprocess.Popen(
                ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", cams.url(i),
                 "-c", "copy", "-t", str(args.seconds), "-f", "framecrc", f"{out}/{i}.crc"])
            for i in range(1, args.cameras + 1)
        ]
        for c in clients:
            c.wait()
        cpu, wall = cpu_seconds(cams.pid) - cpu0, time.monotonic() - t0
        print(f"{args.cameras} cameras, {wall:.1f} s: server CPU {cpu:.2f} s = "
              f"{100 * cpu / wall:.1f} % of one core, {100 * cpu / wall / args.cameras:.2f} % "
              "per camera")
        for i in range(1, args.cameras + 1):
            print(f"client {i}: rc={clients[i - 1].returncode}",
                  check_framecrc(Path(f"{out}/{i}.crc"), main_clip.fps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
