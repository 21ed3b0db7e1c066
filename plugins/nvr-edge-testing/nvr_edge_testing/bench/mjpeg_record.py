"""`nvr-edge bench mjpeg`: an MJPEG 720p30 camera (simcam's live clock) recorded as H.264
by nvr-edge (the camera worker's transcode path, software encoder) and by the ffmpeg CLI
(`-c:v libx264 -preset superfast -tune zerolatency -g 60 -bf 0 -f segment`) in the same
run, one after the other, each measured over the same wall-time window once it writes.
CPU seconds per second of the recording process (nvr-edge: the camera's worker only;
ffmpeg: its process). The simulated camera's own CPU (JPEG encoding) counts for neither.
JSON on stdout."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nvr_edge_testing.appliance import Appliance
from nvr_edge_testing.configs import write_config
from nvr_edge_testing.simcam import SimCameraServer, ensure_clip
from nvr_edge_testing.waiting import wait_for

from nvr_edge import procfs
from nvr_edge.camera.transcoding import target_for

SIZE, FPS = (1280, 720), 30
SETTLE_S = 3.0  # after the first encoded output: the probe and connect are outside the window


def _window(pid: int, seconds: float) -> float:
    """CPU seconds per wall second of `pid` over the next `seconds`."""
    before, started = procfs.cpu_seconds(pid) or 0.0, time.monotonic()
    time.sleep(seconds)
    used = (procfs.cpu_seconds(pid) or 0.0) - before
    return used / (time.monotonic() - started)


def nvr_edge_run(folder: Path, url: str, seconds: float) -> dict[str, Any]:
    config = write_config(folder / "nvr.toml", {"mjpeg": url}, segment_seconds=60)
    with Appliance(config, folder / "appliance.log") as app:
        wait_for(lambda: "is transcoded to H.264" in app.log and app.worker_pids("mjpeg"),
                 60, "the worker to transcode")
        wait_for(lambda: any(p.stat().st_size > 64 * 1024
                             for p in (folder / "cache").rglob("*.part")), 60,
                 "the first segment to grow")
        time.sleep(SETTLE_S)
        pid = app.worker_pids("mjpeg")[-1]
        cpu = _window(pid, seconds)
        encoder = re.findall(r"encoding \d+x\d+ with (\S+)", app.log)
    return {"cpu_per_s": round(cpu, 3), "encoder": encoder[-1] if encoder else None}


def ffmpeg_run(folder: Path, url: str, seconds: float, kbps: int) -> dict[str, Any]:
    out = folder / "ffmpeg"
    out.mkdir()
    argv = ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url, "-an",
            "-c:v", "libx264", "-preset", "superfast", "-tune", "zerolatency", "-g", "60",
            "-bf", "0", "-b:v", f"{kbps}k", "-f", "segment", "-segment_time", "60",
            "-reset_timestamps", "1", str(out / "%03d.mp4")]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(p.stat().st_size > 64 * 1024 for p in out.glob("*.mp4")), 60,
                 "ffmpeg to write")
        time.sleep(SETTLE_S)
        cpu = _window(process.pid, seconds)
    finally:
        process.terminate()
        process.wait(10)
    return {"cpu_per_s": round(cpu, 3), "argv": " ".join(argv[argv.index("-an"):])}


def run_bench(seconds: float) -> int:
    with tempfile.TemporaryDirectory(prefix="nvr-bench-mjpeg-") as tmp:
        folder = Path(tmp)
        clip = ensure_clip(folder, width=640, height=360, bitrate_kbps=500, seconds=4)
        with SimCameraServer(folder, cameras=1, main=clip, sub_clock=SIZE,
                             clock_codec="mjpeg") as cameras:
            url = cameras.url(1, "sub")
            (folder / "nvr").mkdir()
            ours = nvr_edge_run(folder / "nvr", url, seconds)
            kbps = _target_kbps()
            theirs = ffmpeg_run(folder, url, seconds, kbps)
    print(json.dumps({"camera": f"MJPEG {SIZE[0]}x{SIZE[1]}@{FPS} (simcam clock)",
                      "window_s": seconds, "bitrate_kbps": kbps,
                      "nvr_edge_worker": ours, "ffmpeg_cli": theirs,
                      "ratio": round(ours["cpu_per_s"] / theirs["cpu_per_s"], 2)
                      if theirs["cpu_per_s"] else None}, indent=2))
    return 0


def _target_kbps() -> int:
    """The bitrate the worker chooses for this camera (camera/transcoding.py)."""
    stream = SimpleNamespace(average_rate=FPS, guessed_rate=FPS,
                             codec_context=SimpleNamespace(width=SIZE[0], height=SIZE[1]))
    return target_for(stream).bitrate_kbps


if __name__ == "__main__":
    sys.exit(run_bench(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0))
