"""The command over the transports, per their contract: HTTP `POST /api/commands/<name>`
(token with the command's action) and MQTT `<prefix>/<id>/request/<name>`."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from nvr_edge_testing.appliance import RunningAppliance
from nvr_edge_testing.mosquitto import Mosquitto
from nvr_edge_testing.mqtt_client import Watcher
from nvr_edge_testing.waiting import accepts, free_port, wait_for


@pytest.fixture
def web_port() -> int:
    return free_port()


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any], nvr_mqtt_broker: Mosquitto,
               web_port: int) -> dict[str, Any]:
    nvr_config["web"] = {"listen": f"127.0.0.1:{web_port}"}
    nvr_config["mqtt"] = {"url": nvr_mqtt_broker.url}
    return nvr_config


def post(port: int, path: str, body: dict[str, Any], token: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status, json.loads(reply.read())


def test_greet_over_http(nvr_appliance: RunningAppliance, web_port: int) -> None:
    wait_for(lambda: accepts(web_port), 30, "the web server")
    issued = nvr_appliance.cli("token", "--all-cameras", "--action", "view")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    status, body = post(web_port, "/api/commands/hello.greet", {"name": "Ada"}, token)
    assert status == 200
    assert body["result"]["greeting"] == "Hi, Ada!"


def test_greet_over_mqtt(nvr_appliance: RunningAppliance, nvr_mqtt_client: Watcher) -> None:
    base = f"nvr/{nvr_appliance.config.device_id}"
    nvr_mqtt_client.wait_text(f"{base}/availability", "online", 30)
    reply = nvr_mqtt_client.request(base, "hello.greet", {"name": "Ada"}, timeout=20)
    assert reply["status"] == "ok", reply
    assert reply["data"]["greeting"] == "Hi, Ada!"
