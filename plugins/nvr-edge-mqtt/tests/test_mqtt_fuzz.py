"""Hostile requests against the real appliance over a real broker: every payload gets an
answer, quickly, no exception escapes the plugin, and the box keeps serving."""

from __future__ import annotations

import json
import logging
import string
import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nvr_edge_testing.mosquitto import Mosquitto
from nvr_edge_testing.mqtt_client import Watcher, response_properties
from nvr_edge_testing.waiting import wait_for

pytestmark = pytest.mark.slow
BASE = "nvr/test-box"
ANSWERS = "fuzz/answers"
ANSWER_WITHIN_S = 5.0  # a bad request costs one quick answer, never a stall

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=25)
requests = st.fixed_dictionaries({}, optional={
    "transaction": json_like, "camera": json_like, "recording": json_like,
    "config": json_like, "patch": json_like, "url": json_like, "x": json_like})
payloads = st.one_of(
    st.binary(max_size=300),
    json_like.map(lambda v: json.dumps(v).encode()),
    requests.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 20_000).map(lambda n: b'{"transaction":' + b"[" * n + b"]" * n + b"}"),
    st.integers(1, 3000).map(lambda n: b'{"camera": "' + b"a" * (n * 300) + b'"}'),
    st.just(b" " * 1_100_000),
)
actions = st.sampled_from(["ping", "get_status", "get_config", "set_config", "restart_camera",
                           "set_recording", "resync", "list_commands", "nope"]) \
    | st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=200)


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any], nvr_mqtt_broker: Mosquitto) -> dict[str, Any]:
    nvr_config["mqtt"] = {"url": nvr_mqtt_broker.url, "topic_prefix": "nvr", "keepalive_s": 5}
    return nvr_config


def ask(client: Watcher, action: str, payload: bytes) -> tuple[dict[str, Any], float]:
    """Send one request with a response topic of our own; its answer and how long it took."""
    correlation = uuid.uuid4().bytes
    started = time.monotonic()
    client.publish(f"{BASE}/request/{action}", payload,
                   properties=response_properties(ANSWERS, correlation))

    def answer() -> Any:
        for m in client.on(ANSWERS):
            if m.properties is not None and m.properties.CorrelationData == correlation:
                return m
        return None
    seen = wait_for(answer, 30, f"an answer to {action}", interval=0.01)
    return seen.json(), seen.at - started


def test_every_request_gets_a_quick_answer(nvr_appliance: Any, nvr_mqtt_client: Watcher,
                                           caplog: pytest.LogCaptureFixture) -> None:
    nvr_mqtt_client.wait_text(f"{BASE}/availability", "online", 60)
    caplog.set_level(logging.WARNING)
    slowest: list[float] = []

    @settings(max_examples=80, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(action=actions, payload=payloads)
    def one_request(action: str, payload: bytes) -> None:
        reply, took = ask(nvr_mqtt_client, action, payload)
        assert reply["status"] in ("ok", "error"), reply
        assert reply["status"] == "ok" or reply["error"], reply
        slowest.append(took)
        assert took < ANSWER_WITHIN_S, (action, payload[:80], took)

    one_request()
    reply, _ = ask(nvr_mqtt_client, "ping", b'{"transaction": 7}')
    assert reply == {"transaction": 7, "status": "ok", "data": reply["data"]}
    assert reply["data"]["pong"] is True
    escaped = [r for r in caplog.records if r.name.startswith("nvr_edge_mqtt")
               and r.levelno >= logging.ERROR]
    assert not escaped, [r.getMessage() for r in escaped]
    print(f"{len(slowest)} requests, slowest answer {max(slowest):.3f} s")
