from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr_edge.plugins import DISABLE_AUTOLOAD_ENV
from nvr_edge.simcam import SimCameraServer, ensure_clip

from .pg import PostgresServer

CAMERA_PASSWORD = "pw-Kx93-secret"

# Tests see only the built-in plugins unless they register their own.
os.environ.setdefault(DISABLE_AUTOLOAD_ENV, "1")


@pytest.fixture(scope="session")
def clip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simcam-clips")


@pytest.fixture(scope="session")
def small_clip(clip_cache: Path):
    """640x360 30 fps, 1 s GOP, 4 s loop: enough for recording logic, cheap to serve."""
    return ensure_clip(clip_cache, width=640, height=360, bitrate_kbps=800, seconds=4)


@pytest.fixture
def cameras(clip_cache: Path, small_clip) -> Iterator[SimCameraServer]:
    """Two simulated cameras with a password (which must never show up anywhere)."""
    with SimCameraServer(clip_cache, cameras=2, user="admin", password=CAMERA_PASSWORD,
                         main=small_clip, sub=small_clip,
                         log_path=clip_cache / "cameras.log") as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().init()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database(f"t_{os.getpid()}_{abs(hash(tmp_path)) % 10**8}")
