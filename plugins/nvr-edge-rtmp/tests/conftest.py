"""Fixtures of the RTMP plugin's tests: the suite's shared ones (simulated cameras)."""

from tests.conftest import cameras, clip_cache, small_clip  # noqa: F401 - shared fixtures
