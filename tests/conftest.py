from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from nvr_edge_testing.pytest_plugin import CAMERA_PASSWORD
from nvr_edge_testing.simcam import Clip, SimCameraServer

from nvr_edge.plugins import DISABLE_AUTOLOAD_ENV

from .pg import PostgresServer

__all__ = ["CAMERA_PASSWORD"]

# Tests see only the built-in plugins unless they register their own.
os.environ.setdefault(DISABLE_AUTOLOAD_ENV, "1")


# The suite's names for the kit's fixtures (nvr_edge_testing.pytest_plugin).
@pytest.fixture(scope="session")
def clip_cache(nvr_clip_cache: Path) -> Path:
    return nvr_clip_cache


@pytest.fixture(scope="session")
def small_clip(nvr_clip: Clip) -> Clip:
    return nvr_clip


@pytest.fixture
def cameras(nvr_cameras: SimCameraServer) -> Iterator[SimCameraServer]:
    """Two simulated cameras with a password (which must never show up anywhere)."""
    yield nvr_cameras


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
