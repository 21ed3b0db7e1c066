"""The real appliance in a test: `nvr-edge run` as a subprocess (`Appliance`), or the
supervisor in-process with plugin objects registered (`running_supervisor`)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nvr_edge import DISABLE_AUTOLOAD_ENV, SegmentQuery, SegmentRecord
from nvr_edge_testing.processes import tied

if TYPE_CHECKING:
    from nvr_edge.appliance.supervisor import Supervisor
    from nvr_edge_testing.hooks import HookRecorder


def plugins_env() -> dict[str, str]:
    """This process's environment with installed plugins loading again (the project's own
    suite turns autoload off); for `nvr-edge` subprocesses that need them."""
    return {k: v for k, v in os.environ.items() if k != DISABLE_AUTOLOAD_ENV}


def nvr_edge_cli(*args: str | Path, plugins: bool = True,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`nvr-edge ARGS` in a subprocess (this interpreter), its output captured."""
    env = plugins_env() if plugins else dict(os.environ)
    return subprocess.run([sys.executable, "-m", "nvr_edge", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


class Appliance:
    """`nvr-edge run` in its own process group, its log in a file the test can read."""

    def __init__(self, config: Path, log: Path, *, plugins: bool = False) -> None:
        """`plugins`: load installed plugins (the suite runs with the built-ins only)."""
        self.config, self.log_path = config, log
        self.process: subprocess.Popen[bytes] | None = None
        self.env = plugins_env() if plugins else dict(os.environ)

    def start(self) -> Appliance:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            tied([sys.executable, "-m", "nvr_edge", "run", "--config", str(self.config)]),
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
        with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
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


def _named(plugins: Iterable[Any] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    if isinstance(plugins, Mapping):
        return list(plugins.items())
    return [(getattr(p, "__name__", None) or type(p).__name__, p) for p in plugins]


@contextmanager
def running_supervisor(config_path: Path, plugins: Iterable[Any] | Mapping[str, Any] = (),
                       *, installed: bool = False,
                       hooks: HookRecorder | None = None) -> Iterator[Supervisor]:
    """The supervisor in-process, its loop on a thread, with the built-ins and `plugins`
    (modules or objects; a mapping gives their names) registered; the test can reach into
    it (`supervisor.live`, `.control`). `installed`: the installed plugins too, even where
    autoload is off, except those whose names `plugins` already took. `hooks`: records
    every hook call of this appliance's plugin manager (camera workers have their own)."""
    from nvr_edge.appliance.run import appliance_catalog
    from nvr_edge.appliance.supervisor import Supervisor
    from nvr_edge.config import load_config
    from nvr_edge.plugins import ENTRY_POINT_GROUP, make_plugin_manager, section_readers_of

    pm = make_plugin_manager(load_entry_points=False)
    for name, plugin in _named(plugins):
        pm.register(plugin, name=name)
    if installed:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)  # skips names already registered
    if hooks is not None:
        hooks.attach(pm)
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


class RunningAppliance:
    """What `nvr_appliance` gives a test: the appliance running in-process with the
    author's plugins, and the ways an operator reaches it."""

    def __init__(self, supervisor: Supervisor, config_path: Path) -> None:
        self.supervisor, self.config_path = supervisor, config_path

    @property
    def config(self) -> Any:
        return self.supervisor.config

    @property
    def handle(self) -> Any:
        """The `nvr_edge.Appliance` that hooks receive (`commands()`, `run_command()`)."""
        return self.supervisor.control

    def status(self) -> dict[str, Any]:
        return self.supervisor.status()

    def cli(self, command: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """`nvr-edge COMMAND --config <this appliance's> ARGS` in a subprocess."""
        return nvr_edge_cli(command, "--config", self.config_path, *args)

    def segments(self, camera: str | None = None) -> list[SegmentRecord]:
        """The catalog's segments, read through a connection of the test's own (the
        appliance keeps writing through its own)."""
        from nvr_edge.appliance.run import opened_catalog

        with opened_catalog(self.config, self.supervisor.pm) as catalog:
            return catalog.segments(SegmentQuery(camera=camera))
