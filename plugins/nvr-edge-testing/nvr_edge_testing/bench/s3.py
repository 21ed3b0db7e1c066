"""`nvr-edge bench s3`: what the object-storage tier costs per camera-hour, how fresh its
copies are, and how fast a backlog drains.

Runs the real appliance (`nvr-edge run`, simulated cameras, the S3 plugin) against a
throwaway SeaweedFS on loopback. Over a steady window it reads the uploader's own figures
from the status file (bytes, upload and CPU seconds of the upload thread, close to
verified); then it kills the store for `outage_s`, brings it back and times the drain.
Prints JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nvr_edge_testing.appliance import plugins_env
from nvr_edge_testing.configs import appliance_document, write_toml
from nvr_edge_testing.s3 import ACCESS_KEY, SECRET_KEY, SeaweedS3
from nvr_edge_testing.simcam import SimCameraServer, ensure_clip
from nvr_edge_testing.waiting import wait_for

UPLOAD_RATE_MB_S = 50.0  # far above the cameras: the window measures cost, not the cap


def s3_figures(state_dir: Path) -> dict[str, Any]:
    """The uploader's part of the appliance's status file (empty until it is written)."""
    try:
        status = json.loads((state_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    return dict(status.get("plugins", {}).get("s3") or {})


def measure(cameras: int, seconds: float, segment_seconds: int, outage_s: float,
            root: Path) -> dict[str, Any]:
    clip = ensure_clip(root / "clips", width=640, height=360, bitrate_kbps=800, seconds=4)
    store = SeaweedS3(root / "weed").start(buckets=("nvr",))
    state = root / "state"
    try:
        with SimCameraServer(root / "clips", cameras=cameras, main=clip,
                             log_path=root / "simcam.log") as server:
            urls = {f"cam{n}": server.url(n, "main") for n in range(1, cameras + 1)}
            document = appliance_document(urls, device_id="s3-box", connect_timeout_s=None,
                                          segment_seconds=segment_seconds)
            document["storage"]["state_dir"] = str(state)
            document["s3"] = {"endpoint": store.url, "bucket": "nvr", "prefix": "bench",
                              "access_key": ACCESS_KEY, "secret_key": SECRET_KEY,
                              "rate_mb_s": UPLOAD_RATE_MB_S, "retry_min_s": 0.5,
                              "retry_max_s": 2.0}
            config = write_toml(root / "nvr.toml", document)
            with open(root / "appliance.log", "ab") as log:
                app = subprocess.Popen(
                    [sys.executable, "-m", "nvr_edge", "run", "--config", str(config)],
                    stdout=log, stderr=subprocess.STDOUT, env=plugins_env())
            try:
                return _run(store, state, cameras, seconds, segment_seconds, outage_s)
            finally:
                app.terminate()
                app.wait(60)
    finally:
        store.stop()


def _run(store: SeaweedS3, state: Path, cameras: int, seconds: float, segment_seconds: int,
         outage_s: float) -> dict[str, Any]:
    # steady state: every camera has closed and copied a segment
    before = wait_for(lambda: (f := s3_figures(state)).get("uploaded", 0) >= cameras and f,
                      120 + 2 * segment_seconds, "every camera's first verified copy")
    started = time.monotonic()
    time.sleep(seconds)
    after = s3_figures(state)
    elapsed = time.monotonic() - started
    camera_hours = cameras * elapsed / 3600
    sent = after["bytes"] - before["bytes"]
    upload_s = after["upload_s"] - before["upload_s"]
    cpu_s = after["cpu_s"] - before["cpu_s"]

    store.kill()
    time.sleep(outage_s)
    backlog = s3_figures(state)["queued"]
    uploaded = s3_figures(state)["uploaded"]
    store.start(buckets=("nvr",))
    back = time.monotonic()
    wait_for(lambda: s3_figures(state).get("queued", 1) == 0, 300, "the backlog to drain")
    drain_s = time.monotonic() - back
    drained = s3_figures(state)["uploaded"] - uploaded
    return {
        "cameras": cameras, "seconds": round(elapsed, 1), "segment_seconds": segment_seconds,
        "steady": {
            "segments_verified": after["uploaded"] - before["uploaded"],
            "mb_per_camera_hour": round(sent / 1e6 / camera_hours, 1),
            "upload_mb_s": round(sent / 1e6 / upload_s, 1) if upload_s else None,
            "upload_cpu_s_per_camera_hour": round(cpu_s / camera_hours, 2),
            "upload_cpu_percent_of_one_core": round(100 * cpu_s / elapsed, 2),
            "close_to_verified_p50_s": after["close_to_verified_p50_s"],
            "close_to_verified_max_s": after["close_to_verified_max_s"],
        },
        "outage": {"seconds": outage_s, "backlog_segments": backlog,
                   "drain_s": round(drain_s, 1), "drained_segments": drained,
                   "drain_segments_per_s": round(drained / drain_s, 2) if drain_s else None},
    }


def run_bench(cameras: int, seconds: float, segment_seconds: int, outage_s: float) -> int:
    with tempfile.TemporaryDirectory(prefix="nvr-s3-bench-") as tmp:
        result = measure(cameras, seconds, segment_seconds, outage_s, Path(tmp))
    print(json.dumps(result, indent=1))
    return 0
