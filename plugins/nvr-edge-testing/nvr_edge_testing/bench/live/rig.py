"""What the benchmark runs against: a simulated camera whose sub stream is a live clock
face, and the real appliance (`python -m nvr_edge run`, plugins loaded) relaying it."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from nvr_edge_testing.appliance import plugins_env
from nvr_edge_testing.bench.record import cpu_seconds
from nvr_edge_testing.configs import appliance_document, write_toml
from nvr_edge_testing.processes import end
from nvr_edge_testing.simcam import SimCameraServer, ensure_clip
from nvr_edge_testing.waiting import free_port

from nvr_edge.procfs import child_pids

CAMERA = "cam1"
READY_TIMEOUT_S = 60.0


@dataclass
class Rig:
    cameras: SimCameraServer
    app: subprocess.Popen[bytes]
    config: Path
    base: str
    token: str
    log: Path

    @property
    def sub_url(self) -> str:
        return self.cameras.url(1, "sub")


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(child_pids(current))
    return tree


def tree_cpu_seconds(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in pids}


def cpu_used(before: dict[int, float]) -> float:
    """CPU seconds the processes in `before` used since then (one that ended counts 0:
    its time is lost, not negative)."""
    return sum(max(0.0, cpu_seconds(pid) - start) for pid, start in before.items())


def write_config(folder: Path, main_url: str, sub_url: str, port: int, viewers: int) -> Path:
    document = appliance_document({CAMERA: main_url}, device_id="latency-bench",
                                  connect_timeout_s=None)
    del document["storage"]["segment_seconds"]  # the appliance's default
    document["cameras"][0]["sub"] = sub_url
    document["web"] = {"listen": f"127.0.0.1:{port}"}
    document["webrtc"] = {"host_addresses": ["127.0.0.1"],
                          "max_viewers_per_camera": max(viewers, 1)}  # the ramp's top
    return write_toml(folder / "nvr-edge.toml", document)


def mint_token(config: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "nvr_edge", "token", "--config", str(config), "--camera", CAMERA,
         "--action", "view", "--ttl", "7200", "--subject", "latency-bench"],
        capture_output=True, text=True, env=plugins_env(), timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"nvr-edge token failed: {done.stderr.strip()}")
    return done.stdout.strip()


async def wait_streaming(base: str, token: str) -> None:
    """Until the relay has the camera's live stream (GET /api/cameras says so)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, ValueError, KeyError):
                async with http.get(f"{base}/api/cameras",
                                    headers={"Authorization": f"Bearer {token}"}) as reply:
                    cameras = (await reply.json())["cameras"]
                if any(c["id"] == CAMERA and c["live"]["streaming"] for c in cameras):
                    return
            await asyncio.sleep(0.25)
    raise RuntimeError(f"the appliance had no live stream for {CAMERA} "
                       f"within {READY_TIMEOUT_S:.0f} s")


@contextlib.asynccontextmanager
async def running_rig(root: Path, size: tuple[int, int], viewers: int) -> AsyncIterator[Rig]:
    clips = root / "clips"
    main = ensure_clip(clips, audio="none")  # 1080p30 4 Mbit/s, recorded as usual
    box = root / "box"
    box.mkdir(parents=True, exist_ok=True)
    with SimCameraServer(clips, main=main, sub_clock=size, audio="none",
                         log_path=root / "simcam.log") as cameras:
        port = free_port()
        config = write_config(box, cameras.url(1, "main"), cameras.url(1, "sub"), port,
                              viewers)
        log = root / "appliance.log"
        with open(log, "ab") as out:
            app = subprocess.Popen(
                [sys.executable, "-m", "nvr_edge", "run", "--config", str(config)],
                stdout=out, stderr=subprocess.STDOUT, env=plugins_env(),
                start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            await _wait_healthy(base, app)
            token = mint_token(config)
            await wait_streaming(base, token)
            yield Rig(cameras, app, config, base, token, log)
        finally:
            end(app, 30)


async def _wait_healthy(base: str, app: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if app.poll() is not None:
                raise RuntimeError(f"the appliance exited with {app.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as reply:
                    if reply.status == 200:
                        return
            await asyncio.sleep(0.25)
    raise RuntimeError(f"the appliance's web server did not answer within "
                       f"{READY_TIMEOUT_S:.0f} s")
