"""`nvr-edge bench rtsp`: the RTSP restream (nvr-edge-rtsp) against reading the camera
directly. A clock camera's sub stream is read (1) straight from the camera, (2) through
the appliance's restream by one client, (3) by one measuring client while seven more copy
it (ffmpeg, `-c copy`); latency from the painted capture time to the end of the decode
(bench/live/anchor.py's reader, the same for all three), and the appliance main
process's CPU (the RTSP server's home) above its idle level, per client."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nvr_edge_testing.appliance import plugins_env
from nvr_edge_testing.bench.live.anchor import direct_rtsp_latency
from nvr_edge_testing.bench.record import cpu_seconds
from nvr_edge_testing.configs import appliance_document, write_toml
from nvr_edge_testing.processes import end
from nvr_edge_testing.simcam import SimCameraServer, ensure_clip
from nvr_edge_testing.simcam.clip import Clip
from nvr_edge_testing.waiting import free_port, wait_for

USER, PASSWORD = "bench", "bench-rtsp-pw"
READY_TIMEOUT_S = 60.0


def run_bench(seconds: float, clients_text: str, size: tuple[int, int],
              work_dir: Path | None) -> int:
    """The command: checks its arguments, prints the JSON; 1 when the rig failed."""
    try:
        clients = tuple(int(c) for c in clients_text.split(","))
    except ValueError:
        clients = ()
    if seconds <= 0 or not clients or min(clients) < 1:
        print("nvr-edge bench rtsp: --seconds must be positive and --clients like 1,8",
              file=sys.stderr)
        return 2
    try:
        result = run(seconds, clients, size, work_dir)
    except (RuntimeError, AssertionError) as exc:
        print(f"nvr-edge bench rtsp: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def run(seconds: float, clients: tuple[int, ...], size: tuple[int, int],
        work_dir: Path | None, main: Clip | None = None) -> dict[str, Any]:
    """`main`: the recorded main stream's clip (default: 1080p30, encoded on first use)."""
    root = Path(work_dir or tempfile.mkdtemp(prefix="nvr-rtsp-bench-")).resolve()
    try:
        with _rig(root, size, main) as (camera_url, restream_url, app):
            result: dict[str, Any] = {
                "seconds": seconds, "size": list(size),
                "anchor": direct_rtsp_latency(camera_url, seconds)}
            idle = _cpu_percent(app.pid, lambda: time.sleep(seconds))
            result["appliance_idle_cpu_percent"] = round(idle, 1)
            for count in clients:
                result[f"clients_{count}"] = _step(restream_url, app.pid, count, seconds,
                                                   idle)
            return result
    finally:
        if work_dir is None:
            shutil.rmtree(root, ignore_errors=True)


def _step(url: str, pid: int, count: int, seconds: float, idle: float) -> dict[str, Any]:
    copies = [subprocess.Popen(["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
                                "-c", "copy", "-f", "null", "-"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) for _ in range(count - 1)]
    try:
        time.sleep(1.0 if copies else 0.0)  # the copies connected and streaming
        found: dict[str, Any] = {}
        used = _cpu_percent(pid, lambda: found.update(direct_rtsp_latency(url, seconds)))
        found["what"] = f"through the appliance's RTSP restream, {count} client(s)"
        found["appliance_cpu_percent"] = round(used, 1)
        found["cpu_percent_per_client"] = round(max(0.0, used - idle) / count, 2)
        found["copies_alive"] = sum(c.poll() is None for c in copies)
        return found
    finally:
        for copy in copies:
            copy.terminate()
        for copy in copies:
            copy.wait(10)


def _cpu_percent(pid: int, work: Any) -> float:
    """The main process's CPU (percent of one core) while `work()` runs."""
    before, started = cpu_seconds(pid), time.monotonic()
    work()
    return 100.0 * (cpu_seconds(pid) - before) / (time.monotonic() - started)


@contextlib.contextmanager
def _rig(root: Path, size: tuple[int, int],
         main: Clip | None) -> Iterator[tuple[str, str, Any]]:
    clips = root / "clips"
    main = main or ensure_clip(clips, audio="none")
    box = root / "box"
    box.mkdir(parents=True, exist_ok=True)
    with SimCameraServer(clips, main=main, sub_clock=size, audio="none",
                         log_path=root / "simcam.log") as cameras:
        port = free_port()
        document = appliance_document({"cam1": cameras.url(1, "main")},
                                      device_id="rtsp-bench", connect_timeout_s=None)
        document["cameras"][0]["sub"] = cameras.url(1, "sub")
        document["web"] = {"listen": f"127.0.0.1:{free_port()}"}
        document["rtsp"] = {"listen": "127.0.0.1", "port": port,
                            "users": [{"name": USER, "password": PASSWORD}]}
        config = write_toml(box / "nvr-edge.toml", document)
        with open(root / "appliance.log", "ab") as out:
            app = subprocess.Popen([sys.executable, "-m", "nvr_edge", "run", "--config",
                                    str(config)], stdout=out, stderr=subprocess.STDOUT,
                                   env=plugins_env(), start_new_session=True)
        try:
            url = f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{port}/cam1/sub"
            wait_for(lambda: _streams(url) or app.poll() is not None, READY_TIMEOUT_S,
                     "the restream to serve cam1/sub")
            if app.poll() is not None:
                raise RuntimeError(f"the appliance exited with {app.returncode}")
            yield cameras.url(1, "sub"), url, app
        finally:
            end(app, 30)


def _streams(url: str) -> bool:
    probe = subprocess.run(["ffprobe", "-v", "quiet", "-rtsp_transport", "tcp", url],
                           capture_output=True, timeout=30, check=False)
    return probe.returncode == 0
