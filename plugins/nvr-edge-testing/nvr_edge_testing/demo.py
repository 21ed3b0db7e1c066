"""`nvr-edge demo`: simulated cameras recorded into a local folder, with a running report."""

from __future__ import annotations

import logging
import secrets
import subprocess
import sys
import threading
from pathlib import Path

from nvr_edge.appliance.run import run_appliance
from nvr_edge.appliance.supervisor import Supervisor
from nvr_edge.config import Config
from nvr_edge.plugins import load_config, make_plugin_manager, section_readers_of
from nvr_edge_testing.configs import appliance_document, write_toml
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.waiting import free_port

log = logging.getLogger(__name__)
WEB_TOKEN_TTL_S = 12 * 3600


def write_demo_config(path: Path, urls: list[str], segment_seconds: int,
                      web_port: int | None = None) -> None:
    document = appliance_document({f"cam{i}": url for i, url in enumerate(urls, start=1)},
                                  device_id="nvr-demo", segment_seconds=segment_seconds,
                                  connect_timeout_s=None)  # as a new box would have it
    if web_port is not None:
        document["web"] = {"listen": f"127.0.0.1:{web_port}"}
    write_toml(path, document)


def web_page_url(config: Config) -> str | None:
    """The page's URL with a token for every camera and action (None: no [web] table)."""
    web = config.sections.get("web")
    if web is None:
        return None
    # The token as an operator gets one: `nvr-edge token`, which the web plugin adds.
    done = subprocess.run(
        [sys.executable, "-m", "nvr_edge", "--log-level", "WARNING", "token", "--config",
         config.source, "--all-cameras", "--action", "view", "--action", "playback",
         "--action", "admin", "--ttl", str(WEB_TOKEN_TTL_S), "--subject", "demo"],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log.warning("no token for the page: %s", done.stderr.strip())
        return f"http://{web.listen}/"
    return f"http://{web.listen}/?token={done.stdout.strip()}"


def report_line(supervisor: Supervisor) -> str:
    parts = []
    for cam_id, runtime in supervisor.cameras.items():
        parts.append(f"{cam_id} {runtime.state}: {runtime.segments} segment(s), "
                     f"{runtime.recorded_ms / 1000:.0f} s, {runtime.bytes / 1e6:.1f} MB")
    return "recorded: " + " | ".join(parts)


def run_demo(folder: Path, *, cameras: int, segment_seconds: int, duration_s: float,
             log_level: int) -> int:
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(8)  # a real password, to show it never reaches a log
    print(f"nvr-edge demo: encoding the simulated cameras' clip (once) in {folder}/simcam")
    with SimCameraServer(folder / "simcam", cameras=cameras, user="demo",
                         password=password, log_path=folder / "simcam.log") as server:
        config_path = folder / "nvr-edge.toml"
        # The page only when the web plugin is installed: otherwise [web] is an unknown table
        pm = make_plugin_manager()
        web_port = free_port() if "web" in section_readers_of(pm) else None
        write_demo_config(config_path, [server.url(i) for i in range(1, cameras + 1)],
                          segment_seconds, web_port)
        config = load_config(config_path, pm)
        print(f"nvr-edge demo: {cameras} camera(s) at "
              f"{server.url(1, with_credentials=False).rsplit('/', 2)[0]}/camN/main; "
              f"config {config_path}; segments under {config.storage.cache_dir}; Ctrl-C stops")
        page = web_page_url(config)
        if page is not None:
            print(f"web: {page}", flush=True)
        stop = threading.Event()
        if duration_s > 0:
            threading.Timer(duration_s, stop.set).start()
        run_appliance(config, pm=pm, log_level=log_level, stop=stop,
                      on_tick=lambda sup: print(report_line(sup), flush=True))
    return 0
