"""`nvr-edge bench record --ramp 16,32,48,64`: nvr-edge alone at more and more cameras on one
simulated-camera server, each step measured as `bench record` measures it (record.py), and
the first step where the box no longer keeps up named with its reason. Where the next limit
is (CPU, memory, fsync) is read off the steps' figures."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from nvr_edge_testing.bench.record import Window, bench_nvr_edge, machine_info, progress

# A step keeps up when it loses no packet, restarts no worker, its files hold the frames it
# says it recorded (within this much), and the machine is not saturated.
FRAMES_ERROR_PCT = 1.0
SATURATED_PCT = 95.0  # CPU of every core together, the simulated cameras' server included


def parse_steps(text: str) -> list[int]:
    """"16,32,48,64" -> [16, 32, 48, 64]: increasing, positive, at most 256 cameras."""
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--ramp {text!r}: camera counts separated by commas, "
                         "e.g. 16,32,48,64") from None
    if not steps or any(n < 1 or n > 256 for n in steps) or steps != sorted(set(steps)):
        raise ValueError(f"--ramp {text!r}: increasing camera counts from 1 to 256")
    return steps


def step_report(cameras: int, side: dict[str, Any], window_s: float,
                cores: int) -> dict[str, Any]:
    """One step's figures, from bench_nvr_edge's result, and why it does not keep up
    (empty: it does)."""
    packets = side["packets"].values()
    machine_pct = 100 * (side["cpu_s"] + side["simcam_cpu_s"]) / (window_s * cores)
    memory = side["memory_per_worker"].get("pss_mib", {})
    frames_error = side["frames"]["error_pct"]
    reasons = []
    if side["packets_lost"]:
        reasons.append(f"{side['packets_lost']} packets lost")
    if side["worker_restarts"]:
        reasons.append(f"{side['worker_restarts']} worker restarts")
    if frames_error is not None and abs(frames_error) > FRAMES_ERROR_PCT:
        reasons.append(f"files hold {frames_error:+.1f} % of the frames recorded")
    if machine_pct > SATURATED_PCT:
        reasons.append(f"the machine at {machine_pct:.0f} % of its {cores} cores")
    return {"cameras": cameras,
            "cpu_pct_per_camera": side["cpu_pct_per_camera"],
            "wakeups_per_camera_s": side["wakeups_per_camera_s"],
            "machine_cpu_pct": round(machine_pct, 1),
            "pss_mib_per_worker": {k: memory.get(k) for k in ("mean", "max")},
            "packets": {"received": sum(p["received"] for p in packets),
                        "written": sum(p["written"] for p in packets),
                        "lost": side["packets_lost"]},
            "frames_error_pct": frames_error,
            "segments": side["segments"],
            "worker_restarts": side["worker_restarts"],
            "behind": reasons}


def first_limit(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first step that does not keep up: {cameras, why}; None when every one does."""
    for step in steps:
        if step["behind"]:
            return {"cameras": step["cameras"], "why": "; ".join(step["behind"])}
    return None


def run_record_ramp(steps: list[int], seconds: float, work_dir: Path | None,
                    engine: str) -> int:
    from nvr_edge_testing.simcam import SimCameraServer, ensure_clip

    root = Path(work_dir or tempfile.mkdtemp(prefix="nvr-ramp-")).resolve()
    reports: list[dict[str, Any]] = []
    cores = os.cpu_count() or 1
    try:
        clip = ensure_clip(root / "clips")
        with SimCameraServer(root / "clips", cameras=steps[-1], main=clip,
                             log_path=root / "simcam.log") as server:
            assert server.pid is not None
            urls = [server.url(i) for i in range(1, steps[-1] + 1)]
            for cameras in steps:
                folder = root / f"ramp-{cameras}"
                shutil.rmtree(folder, ignore_errors=True)
                progress(f"ramp: {cameras} cameras ({engine})")
                side = bench_nvr_edge(Window(seconds, cameras, server.pid), urls[:cameras],
                                      folder, clip.fps, engine)
                reports.append(step_report(cameras, side, side["window_s"], cores))
                shutil.rmtree(folder, ignore_errors=True)  # 64 cameras fill a disk fast
    finally:
        if work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({"benchmark": "record_ramp", "engine": engine, "seconds": seconds,
                      "machine": machine_info(),
                      "clip": {"width": clip.width, "height": clip.height, "fps": clip.fps,
                               "bitrate_kbps": clip.bitrate_kbps},
                      "steps": reports, "first_limit": first_limit(reports)}, indent=2))
    return 0
