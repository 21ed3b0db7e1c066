"""Fixtures for testing nvr-edge plugins against the real appliance (a `pytest11` plugin:
installing nvr-edge-testing makes them available in every pytest run).

Override two fixtures in your conftest to put your plugin in the appliance:

    @pytest.fixture
    def nvr_plugins():
        return {"hello": HelloPlugin()}   # the name your entry point uses

    @pytest.fixture
    def nvr_config(nvr_config):
        nvr_config["hello"] = {"greeting": "hi"}   # your [hello] table
        return nvr_config

then take `nvr_appliance` (running), `nvr_hooks` (every hook call), `nvr_camera(s)`,
`nvr_mqtt_broker`, `nvr_mqtt_client`, `nvr_postgres`, `nvr_catalog_url` and `nvr_s3`.
See docs/PLUGINS.md, "Your first plugin".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nvr_edge_testing.appliance import RunningAppliance, running_supervisor
from nvr_edge_testing.configs import appliance_document, write_toml
from nvr_edge_testing.hooks import HookRecorder
from nvr_edge_testing.mosquitto import Mosquitto
from nvr_edge_testing.mqtt_client import Watcher
from nvr_edge_testing.postgres import PostgresServer
from nvr_edge_testing.processes import interrupt_on_termination
from nvr_edge_testing.simcam import Clip, SimCameraServer, ensure_clip

# A real password on the simulated cameras, so that a test can check it never leaks.
CAMERA_PASSWORD = "pw-Kx93-secret"


def pytest_configure(config: pytest.Config) -> None:
    interrupt_on_termination()  # a killed run still stops the servers its fixtures started


@pytest.fixture(scope="session")
def nvr_clip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where encoded clips are kept for the whole session (encoding takes seconds)."""
    return tmp_path_factory.mktemp("simcam-clips")


@pytest.fixture(scope="session")
def nvr_clip(nvr_clip_cache: Path) -> Clip:
    """640x360 30 fps, 1 s GOP, 4 s loop: enough for recording logic, cheap to serve."""
    return ensure_clip(nvr_clip_cache, width=640, height=360, bitrate_kbps=800, seconds=4)


def _cameras(cache: Path, clip: Clip, count: int) -> SimCameraServer:
    return SimCameraServer(cache, cameras=count, user="admin", password=CAMERA_PASSWORD,
                           main=clip, sub=clip, log_path=cache / "cameras.log")


@pytest.fixture
def nvr_cameras(nvr_clip_cache: Path, nvr_clip: Clip) -> Iterator[SimCameraServer]:
    """Two simulated RTSP cameras (`.url(1)`, `.url(2)`) with a password."""
    with _cameras(nvr_clip_cache, nvr_clip, 2) as server:
        yield server


@pytest.fixture
def nvr_camera(nvr_clip_cache: Path, nvr_clip: Clip) -> Iterator[SimCameraServer]:
    """One simulated RTSP camera (`.url(1)`) with a password."""
    with _cameras(nvr_clip_cache, nvr_clip, 1) as server:
        yield server


@pytest.fixture
def nvr_config(nvr_camera: SimCameraServer) -> dict[str, Any]:
    """The appliance's config as a document: device `test-box`, camera `cam1` on
    `nvr_camera`, 10 s segments, SQLite. Override it to add your tables."""
    return appliance_document({"cam1": nvr_camera.url(1)}, segment_seconds=10)


@pytest.fixture
def nvr_plugins() -> dict[str, Any]:
    """The plugin objects (or modules) under test, by name; override it. Installed plugins
    load too, except one whose entry-point name is taken here."""
    return {}


@pytest.fixture
def nvr_hooks() -> HookRecorder:
    """Every hook call `nvr_appliance` makes in its main process: `.getcalls(name)`,
    `.wait_for(name, count, timeout)`; each call has its arguments as attributes."""
    return HookRecorder()


@pytest.fixture
def nvr_appliance(tmp_path: Path, nvr_config: dict[str, Any], nvr_plugins: dict[str, Any],
                  nvr_hooks: HookRecorder) -> Iterator[RunningAppliance]:
    """The real appliance, running in this process with the built-ins, the installed
    plugins and `nvr_plugins`, on `nvr_config` (written to `<tmp_path>/nvr-edge.toml`)."""
    path = write_toml(tmp_path / "nvr-edge.toml", nvr_config)
    with running_supervisor(path, nvr_plugins, installed=True, hooks=nvr_hooks) as supervisor:
        yield RunningAppliance(supervisor, path)


@pytest.fixture
def nvr_s3(tmp_path: Path) -> Iterator[Any]:
    """A SeaweedFS S3 gateway of its own on free loopback ports, with real credentials
    (`nvr_edge_testing.s3.ACCESS_KEY`/`SECRET_KEY`) and a bucket `nvr` (`.url`, `.kill()`,
    `.start()`, `.objects(bucket)`)."""
    from nvr_edge_testing.s3 import SeaweedS3  # minio loads only for the tests that use it

    store = SeaweedS3(tmp_path / "seaweedfs").start(buckets=("nvr",))
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture
def nvr_mqtt_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto of its own on a free loopback port (`.url` for an `[mqtt]` table)."""
    broker = Mosquitto(tmp_path / "mosquitto").start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def nvr_mqtt_client(nvr_mqtt_broker: Mosquitto) -> Iterator[Watcher]:
    """An MQTT 5 client on `nvr_mqtt_broker` that keeps every message (`.on(topic)`,
    `.wait_text(...)`) and sends requests (`.request(base, name, args)`)."""
    with Watcher(nvr_mqtt_broker) as client:
        yield client


@pytest.fixture(scope="session")
def nvr_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of its own (initdb in a temporary folder, a free loopback port)
    for the session: `.new_database(name)` gives a catalog URL."""
    server = PostgresServer().init()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def nvr_catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test twice: a SQLite catalog file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    server: PostgresServer = request.getfixturevalue("nvr_postgres")
    return server.new_database(f"t_{os.getpid()}_{abs(hash(tmp_path)) % 10**8}")
