"""Put the plugin in the kit's appliance (fixtures from nvr-edge-testing's pytest plugin)."""

from __future__ import annotations

from typing import Any

import pytest
from nvr_hello.plugin import HelloPlugin


@pytest.fixture
def hello() -> HelloPlugin:
    return HelloPlugin()  # a fresh object per test: its counts start at zero


@pytest.fixture
def nvr_plugins(hello: HelloPlugin) -> dict[str, Any]:
    return {"hello": hello}  # the entry point's name: the installed copy stays out


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any]) -> dict[str, Any]:
    nvr_config["hello"] = {"greeting": "Hi"}
    return nvr_config
