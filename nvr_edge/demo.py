"""`nvr-edge demo`: simulated cameras recorded into a local folder, with a running report."""

from __future__ import annotations

import logging
import secrets
import threading
from pathlib import Path

from .app import run_appliance
from .config import load_config
from .supervisor import Supervisor

log = logging.getLogger(__name__)


def write_demo_config(path: Path, urls: list[str], segment_seconds: int) -> None:
    lines = ['[device]', 'id = "nvr-demo"', "", "[storage]", 'cache_dir = "cache"',
             'archive_dir = "archive"', 'state_dir = "state"',
             f"segment_seconds = {segment_seconds}", ""]
    for index, url in enumerate(urls, start=1):
        lines += ["[[cameras]]", f'id = "cam{index}"', f'main = "{url}"', ""]
    path.write_text("\n".join(lines))


def report_line(supervisor: Supervisor) -> str:
    parts = []
    for cam_id, runtime in supervisor.cameras.items():
        parts.append(f"{cam_id} {runtime.state}: {runtime.segments} segment(s), "
                     f"{runtime.recorded_ms / 1000:.0f} s, {runtime.bytes / 1e6:.1f} MB")
    return "recorded: " + " | ".join(parts)


def run_demo(folder: Path, *, cameras: int, segment_seconds: int, duration_s: float,
             log_level: int) -> int:
    from .simcam import SimCameraServer

    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(8)  # a real password, to show it never reaches a log
    print(f"nvr-edge demo: encoding the simulated cameras' clip (once) in {folder}/simcam")
    with SimCameraServer(folder / "simcam", cameras=cameras, user="demo",
                         password=password, log_path=folder / "simcam.log") as server:
        config_path = folder / "nvr-edge.toml"
        write_demo_config(config_path, [server.url(i) for i in range(1, cameras + 1)],
                          segment_seconds)
        config = load_config(config_path)
        print(f"nvr-edge demo: {cameras} camera(s) at "
              f"{server.url(1, with_credentials=False).rsplit('/', 2)[0]}/camN/main; "
              f"config {config_path}; segments under {config.storage.cache_dir}; Ctrl-C stops")
        stop = threading.Event()
        if duration_s > 0:
            threading.Timer(duration_s, stop.set).start()
        run_appliance(config, log_level=log_level, stop=stop,
                      on_tick=lambda sup: print(report_line(sup), flush=True))
    return 0
