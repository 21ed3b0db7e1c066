"""Running the real appliance (`python -m nvr_edge run`) as a subprocess in tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nvr_edge.plugins import DISABLE_AUTOLOAD_ENV


def write_config(path: Path, cameras: dict[str, str], *, catalog_url: str | None = None,
                 segment_seconds: int = 10, recording: dict[str, Any] | None = None,
                 extra: str = "") -> Path:
    lines = ['[device]', 'id = "test-box"', '[storage]', 'cache_dir = "cache"',
             'archive_dir = "archive"', 'state_dir = "state"',
             f"segment_seconds = {segment_seconds}"]
    if catalog_url:
        lines += ["[catalog]", f'url = "{catalog_url}"']
    rec = {"connect_timeout_s": 5.0, **(recording or {})}
    lines.append("[recording]")
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in rec.items() if not isinstance(v, dict)]
    for table, values in rec.items():
        if isinstance(values, dict):
            lines.append(f"[recording.{table}]")
            lines += [f"{k} = {v!r}" for k, v in values.items()]
    for cam_id, url in cameras.items():
        lines += ["[[cameras]]", f'id = "{cam_id}"', f'main = "{url}"']
    path.write_text("\n".join(lines) + "\n" + extra)
    tomllib.loads(path.read_text())  # the helper itself must write valid TOML
    return path


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Appliance:
    """`nvr-edge run` in its own process group, its log in a file the test can read."""

    def __init__(self, config: Path, log: Path, *, plugins: bool = False) -> None:
        """`plugins`: load installed plugins (the suite runs with the built-ins only)."""
        self.config, self.log_path = config, log
        self.process: subprocess.Popen[bytes] | None = None
        self.env = dict(os.environ)
        if plugins:
            self.env.pop(DISABLE_AUTOLOAD_ENV, None)

    def start(self) -> Appliance:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nvr_edge", "run", "--config", str(self.config)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=self.env)
        log.close()
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self, camera: str) -> list[int]:
        return [int(p) for p in re.findall(rf"{camera}: worker started \(pid (\d+)\)", self.log)]

    def stop(self, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill_all(self) -> None:
        """SIGKILL the appliance and every process it started (a power cut, in effect)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def __enter__(self) -> Appliance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.stop()
            except subprocess.TimeoutExpired:
                self.kill_all()


@contextmanager
def running_supervisor(config_path: Path, plugins: tuple[Any, ...] = ()) -> Iterator[Any]:
    """The supervisor in-process, its loop on a thread, with these plugin modules (and the
    built-ins) registered; the test can reach into it (`supervisor.live`, `.control`)."""
    from nvr_edge.appliance.run import appliance_catalog
    from nvr_edge.appliance.supervisor import Supervisor
    from nvr_edge.config import load_config
    from nvr_edge.plugins import make_plugin_manager, section_readers_of

    pm = make_plugin_manager(load_entry_points=False)
    for plugin in plugins:
        pm.register(plugin, name=getattr(plugin, "__name__", None))  # a module or an object
    config = load_config(config_path, readers=section_readers_of(pm))
    catalog = appliance_catalog(config, pm)
    supervisor = Supervisor(config, pm, catalog)
    supervisor.start()
    stop = threading.Event()
    thread = threading.Thread(target=supervisor.run, args=(stop.is_set,), daemon=True)
    thread.start()
    try:
        yield supervisor
    finally:
        stop.set()
        thread.join(60)
        catalog.close()
