from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from nvr_edge_testing.postgres import PostgresServer
from nvr_edge_testing.pytest_plugin import CAMERA_PASSWORD
from nvr_edge_testing.simcam import Clip, SimCameraServer

from nvr_edge.plugins import DISABLE_AUTOLOAD_ENV

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
def postgres(nvr_postgres: PostgresServer) -> PostgresServer:
    return nvr_postgres


@pytest.fixture
def catalog_url(nvr_catalog_url: str) -> str:
    return nvr_catalog_url
