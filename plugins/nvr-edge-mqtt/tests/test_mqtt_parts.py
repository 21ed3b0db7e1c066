"""The MQTT plugin's pieces: settings, topics, request parsing, the event spool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nvr_edge_mqtt import payloads
from nvr_edge_mqtt.commands import RequestError, parse_request
from nvr_edge_mqtt.request_payload import MAX_ACTION_CHARS, MAX_DEPTH, MAX_REQUEST_BYTES
from nvr_edge_mqtt.settings import read_mqtt
from nvr_edge_mqtt.spool import EventSpool, with_seq
from nvr_edge_mqtt.topics import Topics

from nvr_edge.config import ConfigError, nesting_depth, parse_config
from nvr_edge.config_store import MASK, merge_patch, public_document


def mqtt_section(**table: Any) -> Any:
    return parse_config({"device": {"id": "box"}, "mqtt": table},
                        readers={"mqtt": read_mqtt}).sections["mqtt"]


def test_settings_from_a_url_with_credentials() -> None:
    s = mqtt_section(url="mqtts://fleet:p%40ss@broker.lan", topic_prefix="site/a")
    assert (s.host, s.port, s.tls, s.username, s.password) == \
        ("broker.lan", 8883, True, "fleet", "p@ss")
    assert s.display == "mqtts://broker.lan:8883"  # no password in what is logged
    assert mqtt_section(url="mqtt://127.0.0.1").port == 1883


def test_scheme_case_and_passwords_of_any_shape() -> None:
    s = mqtt_section(url="MQTT://fleet:p@ss w'rd:x@broker.lan:1884")
    assert (s.host, s.port, s.tls, s.username, s.password) == \
        ("broker.lan", 1884, False, "fleet", "p@ss w'rd:x")


def test_the_broker_password_is_masked_and_stays_with_its_broker() -> None:
    current = {"mqtt": {"url": "mqtt://fleet@broker.lan", "password": "pw",
                        "username": "fleet"}}
    assert public_document(current)["mqtt"]["password"] == MASK
    assert "password" not in merge_patch(current, {"mqtt": {"url": "mqtt://evil.lan"}})["mqtt"]
    assert merge_patch(current, {"mqtt": {"keepalive_s": 9}})["mqtt"]["password"] == "pw"


def test_no_mqtt_table_leaves_the_plugin_idle() -> None:
    config = parse_config({"device": {"id": "box"}}, readers={"mqtt": read_mqtt})
    assert config.sections["mqtt"] is None


@pytest.mark.parametrize(("table", "message"), [
    ({}, "mqtt.url: is required"),
    ({"url": "http://x"}, "mqtt.url: expected mqtt://"),
    ({"url": "mqtt://:1883"}, "mqtt.url: expected mqtt://"),
    ({"url": "mqtt://h/x"}, "must not have a path"),
    ({"url": "mqtt://h", "topic_prefix": "nvr/#"}, "mqtt.topic_prefix"),
    ({"url": "mqtt://h", "topic_prefix": "nvr//x"}, "mqtt.topic_prefix"),
    ({"url": "mqtt://h", "password": "x"}, "mqtt.password: is set but username is not"),
    ({"url": "mqtt://h", "keepalive_s": 1}, "mqtt.keepalive_s: must be between"),
    ({"url": "mqtt://h", "protocol": "4"}, "mqtt.protocol: must be one of"),
    ({"url": "mqtt://h", "ca_file": "ca.pem"}, "not mqtts://"),
    ({"url": "mqtts://h", "cert_file": "c.pem"}, "both cert_file and key_file"),
    ({"url": "mqtt://h", "reconnect_min_s": 5, "reconnect_max_s": 2}, "reconnect_max_s"),
    ({"url": "mqtt://h", "stats_interval": 5}, "mqtt.stats_interval: unknown key"),
    ({"url": "mqtt://h\n"}, "mqtt.url: holds a control character"),
    ({"url": "mqtt://h", "topic_prefix": "nvr\n"}, "mqtt.topic_prefix"),
    ({"url": "mqtt://u:secret/x@h"}, "mqtt.url: holds an '@' after the host"),
])
def test_bad_settings_are_named(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("/", "/")) as caught:
        mqtt_section(**table)
    assert "secret" not in str(caught.value)


def test_a_broker_password_in_the_url_never_shows_in_an_error() -> None:
    with pytest.raises(ConfigError) as caught:
        mqtt_section(url="http://user:hunter2@h")
    assert "hunter2" not in str(caught.value)


level = st.text(st.sampled_from("abcXYZ019_-"), min_size=1, max_size=6)


@given(prefix=st.lists(level, min_size=1, max_size=3).map("/".join), device=level,
       action=level, fleet=st.booleans())
def test_request_topics_name_their_action(prefix: str, device: str, action: str,
                                          fleet: bool) -> None:
    topics = Topics(prefix, device)
    head = f"{prefix}/fleet" if fleet else topics.base
    assert topics.action_of(f"{head}/request/{action}") == action
    assert topics.action_of(f"{head}/request/{action}/x") is None
    assert topics.action_of(f"{head}/response/{action}") is None
    assert topics.action_of(topics.response(action)) is None


@given(st.binary(max_size=200))
def test_any_payload_parses_or_is_refused_with_a_reason(payload: bytes) -> None:
    try:
        request = parse_request("ping", payload)
    except RequestError as exc:
        assert str(exc)
    else:
        assert isinstance(request.args, dict) and "transaction" not in request.args


def test_request_parsing_keeps_the_transaction_as_sent() -> None:
    request = parse_request("set_recording", b'{"transaction": [1, "a"], "camera": "c"}')
    assert request.transaction == [1, "a"] and request.args == {"camera": "c"}
    assert parse_request("ping", b"  ").args == {}
    with pytest.raises(RequestError, match="too large"):
        parse_request("ping", b" " * 1_000_001)


@pytest.mark.parametrize(("payload", "problem"), [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),   # past the C parser's stack
    (b"[" * 40 + b"]" * 40, "nested too deeply"),             # parses, past the limit
    (b'{"a":' * 33 + b"1" + b"}" * 33, "nested too deeply"),
    (b'{"x": ' + b"1" * 5000 + b"}", "not JSON"),               # int() digit limit
    (b" " * (MAX_REQUEST_BYTES + 1), "too large"),
    (b"\xff\xfe{", "not JSON"),
])
def test_request_limits_answer_with_the_problem(payload: bytes, problem: str) -> None:
    with pytest.raises(RequestError, match=problem):
        parse_request("ping", payload)


def test_the_deepest_allowed_request_parses_and_long_action_names_are_refused() -> None:
    deepest = b'{"a":' * (MAX_DEPTH - 1) + b"1" + b"}" * (MAX_DEPTH - 1)
    assert nesting_depth(parse_request("x", deepest).args) == MAX_DEPTH - 1
    with pytest.raises(RequestError, match="action name too long"):
        parse_request("a" * (MAX_ACTION_CHARS + 1), b"{}")


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=30)


@given(json_like, st.sampled_from(["ping", "get_config", "set_config", "restart_camera"]))
def test_any_json_request_is_parsed_or_refused_with_a_reason(body: object, action: str) -> None:
    try:
        request = parse_request(action, json.dumps(body).encode())
    except RequestError as exc:
        assert str(exc)
    else:
        assert isinstance(request.args, dict)


def test_payloads_are_redacted_string_by_string_and_keep_their_structure() -> None:
    body = {"config": {"mqtt": {"url": "mqtt://h:1883", "username": "fleet@corp"},
                       "note": "rtsp://u:p@ss w'rd@h/x"}, "at": Path("/a@b")}
    assert json.loads(payloads.dumps(body)) == {
        "config": {"mqtt": {"url": "mqtt://h:1883", "username": "fleet@corp"},
                   "note": "rtsp://u:***@h/x"}, "at": "/a@b"}


def test_events_keep_their_order_and_seq_across_a_restart(tmp_path: Path) -> None:
    spool = EventSpool(tmp_path / "s.db", 1_000_000)
    seqs = [spool.append("t", json.dumps({"n": n})) for n in range(5)]
    spool.remove(seqs[0])
    spool.close()
    spool = EventSpool(tmp_path / "s.db", 1_000_000)
    rows = spool.after(0, 10)
    assert [json.loads(body)["n"] for _, _, body in rows] == [1, 2, 3, 4]
    assert spool.append("t", "{}") > seqs[-1]  # never reused, even after removals
    assert json.loads(with_seq(9, '{"a": 1}')) == {"seq": 9, "a": 1}
    assert json.loads(with_seq(9, "{}")) == {"seq": 9}


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 300), min_size=1, max_size=40),
       bound=st.integers(300, 3000))
def test_the_spool_stays_within_its_bound_dropping_the_oldest(
        tmp_path_factory: pytest.TempPathFactory, sizes: list[int], bound: int) -> None:
    spool = EventSpool(tmp_path_factory.mktemp("spool") / "s.db", bound)
    for n, size in enumerate(sizes):
        spool.append("t", json.dumps({"n": n, "pad": "x" * size}))
    rows = spool.after(0, 1000)
    kept = [json.loads(body)["n"] for _, _, body in rows]
    assert kept == list(range(len(sizes) - len(kept), len(sizes)))  # a suffix, in order
    assert kept[-1] == len(sizes) - 1
    assert spool.bytes <= bound or len(kept) == 1
    assert spool.dropped == len(sizes) - len(kept)
    spool.close()


def test_health_is_critical_for_storage_and_warns_for_a_camera() -> None:
    tier = {"state": "ok", "free_bytes": 50, "total_bytes": 100, "floor_bytes": 5}
    status = {"tiers": {"cache": tier, "archive": {**tier, "state": "degraded"}},
              "cameras": {"a": {"state": "online"}, "b": {"state": "offline"}},
              "catalog": {"healthy": True}, "system": {"cpu_percent": 12.0}}
    report = payloads.health(status)
    assert report["overall"] == "critical"
    assert report["problems"] == ["archive tier degraded", "not recording: b"]
    status["tiers"]["archive"]["state"] = "ok"
    calm = payloads.health(status)
    assert calm["overall"] == "warning"
    noisy = payloads.health({**status, "system": {"cpu_percent": 44.0}})
    assert payloads.health_signature(noisy) == payloads.health_signature(calm)
    busy = payloads.health({**status, "system": {"cpu_percent": 85.0}})
    assert payloads.health_signature(busy) != payloads.health_signature(calm)


def test_the_retained_reason_says_why_a_camera_is_not_online() -> None:
    assert payloads.shown_reason("online", "connected") == ""
    assert payloads.shown_reason("offline", "RTSP: connection refused") == \
        "RTSP: connection refused"
    shown = payloads.shown_reason("connecting", "rtsp://admin:Hunter2@10.0.0.5/ said 'x'" * 50)
    assert "Hunter2" not in shown and len(shown) <= payloads.MAX_REASON


def test_discovery_lists_are_the_status_parts_with_candidates() -> None:
    status = {"plugins": {
        "onvif": {"listening_on": ["eth1"], "candidates": [
            {"id": "urn:a", "address": "10.0.0.2", "first_seen": 1.0, "last_seen": 9.0},
            "junk"]},
        "s3": {"state": "ok", "queued": 0},
        "failures": {"onvif": 0}}}
    assert payloads.discovery_lists(status) == {
        "onvif": [{"id": "urn:a", "address": "10.0.0.2", "first_seen": 1.0}]}
    assert payloads.discovery_lists({}) == {}
    assert Topics("nvr", "box").discovery("onvif") == "nvr/box/discovery/onvif"
