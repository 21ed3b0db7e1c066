"""The MQTT plugin in the real appliance against a real Mosquitto: availability, retained
state, requests, store-and-forward, and no secret in any payload."""

from __future__ import annotations

import json
import os
import signal
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from nvr_edge_testing.mosquitto import TlsFiles
from nvr_edge_testing.mqtt_client import Mosquitto, Watcher, response_properties
from nvr_edge_testing.simcam import SimCameraServer

from tests.conftest import CAMERA_PASSWORD
from tests.helpers import Appliance, wait_for, write_config

pytestmark = pytest.mark.slow
BASE = "nvr/test-box"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "broker").start()
    try:
        yield server
    finally:
        server.stop()


def mqtt_config(tmp_path: Path, cameras: SimCameraServer, broker: Mosquitto,
                **mqtt: object) -> Path:
    settings = {"url": broker.url, "topic_prefix": "nvr", "stats_interval_s": 5.0,
                "keepalive_s": 5, "reconnect_min_s": 1.0, "reconnect_max_s": 2.0, **mqtt}
    extra = "[mqtt]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    return write_config(tmp_path / "nvr.toml",
                        {f"cam{n}": cameras.url(n, "main", with_credentials=True)
                         for n in (1, 2)},
                        segment_seconds=10, extra=extra)


def assert_no_secret(watcher: Watcher) -> None:
    with watcher.lock:
        leaked = [m.topic for m in watcher.messages if CAMERA_PASSWORD.encode() in m.payload
                  and "/request/" not in m.topic]  # what the box sent, not the test
    assert not leaked, f"camera password in payloads on {leaked}"


def test_availability_retained_state_and_last_will(tmp_path: Path, cameras: SimCameraServer,
                                                   broker: Mosquitto) -> None:
    config = mqtt_config(tmp_path, cameras, broker)
    with Watcher(broker) as watcher:
        # A retained request, left on the broker by mistake, must not replay at each connect
        watcher.publish(f"{BASE}/request/restart_camera", '{"camera": "cam1"}', retain=True)
        app = Appliance(config, tmp_path / "app.log", plugins=True).start()
        try:
            online = watcher.wait_text(f"{BASE}/availability", "online", 60)
            with watcher.lock:
                before = [m.topic for m in watcher.messages if m.at <= online.at]
            # `online` comes only after the whole initial state
            assert f"{BASE}/info" in before and f"{BASE}/health" in before
            for cam in ("cam1", "cam2"):
                assert f"{BASE}/camera/{cam}/state" in before
                watcher.wait_text(f"{BASE}/camera/{cam}/state", "online", 60)
            info = watcher.last(f"{BASE}/info").json()
            assert info["firmware"]["version"] == "0.2.0"
            assert [c["id"] for c in info["cameras"]] == ["cam1", "cam2"]
            assert any(p["name"] == "mqtt" and not p["builtin"] for p in info["plugins"])
            event = wait_for(lambda: [m.json() for m in watcher.on(f"{BASE}/event")
                                      if m.json()["type"] == "segment_closed"], 60,
                             "a segment_closed event")[0]
            assert event["segment"]["duration_ms"] >= 1000 and event["seq"] >= 1
            # the first rate includes the burst a camera sends at connect; judge the next
            stats = wait_for(lambda: [m for m in watcher.on(f"{BASE}/stats")
                                      if m.json()["cameras"]["cam1"]["fps"] > 0][1:], 60,
                             "two stats with rates")[0]
            assert not stats.retain
            cam1 = stats.json()["cameras"]["cam1"]
            assert 25 <= cam1["fps"] <= 35 and cam1["bitrate_kbps"] > 100, cam1
            assert 0 < cam1["continuity"] <= 1

            # a subscriber that comes late still gets the state, retained
            with Watcher(broker) as late:
                wait_for(lambda: late.last(f"{BASE}/camera/cam2/state"), 10, "retained state")
                assert late.last(f"{BASE}/availability").text == "online"
                assert late.last(f"{BASE}/camera/cam2/state").text == "online"
                assert late.last(f"{BASE}/camera/cam2/state").retain
                # online: the retained reason is cleared (an empty retained message)
                assert late.last(f"{BASE}/camera/cam2/reason") is None
                assert late.last(f"{BASE}/health").json()["overall"] in ("ok", "warning")
                assert late.last(f"{BASE}/info").retain
                assert late.last(f"{BASE}/event") is None  # events are never retained

            assert not watcher.on(f"{BASE}/response/restart_camera")
            assert len(app.worker_pids("cam1")) == 1
            watcher.publish(f"{BASE}/request/restart_camera", b"", retain=True)  # clear it

            mark = watcher.mark()
            app.kill_all()  # power cut: no goodbye, the broker sends the Last Will
            watcher.wait_text(f"{BASE}/availability", "offline", 30, after=mark)
        finally:
            if app.process.poll() is None:
                app.kill_all()

        mark = watcher.mark()
        app = Appliance(config, tmp_path / "app2.log", plugins=True).start()
        watcher.wait_text(f"{BASE}/availability", "online", 60, after=mark)
        assert app.stop() == 0
        watcher.wait_text(f"{BASE}/availability", "stopped", 10, after=mark)
        assert_no_secret(watcher)


def test_every_request_round_trips(tmp_path: Path, cameras: SimCameraServer,
                                   broker: Mosquitto) -> None:
    config = mqtt_config(tmp_path, cameras, broker)
    with Watcher(broker) as watcher, \
            Appliance(config, tmp_path / "app.log", plugins=True) as app:
        watcher.wait_text(f"{BASE}/availability", "online", 60)
        for cam in ("cam1", "cam2"):
            watcher.wait_text(f"{BASE}/camera/{cam}/state", "online", 60)

        pong = watcher.request(BASE, "ping")
        assert pong["status"] == "ok" and pong["data"]["pong"] is True

        shown = watcher.request(BASE, "get_config")["data"]["config"]
        assert shown["cameras"][0]["main"].startswith("rtsp://admin:***@")

        # a changed camera restarts; the other keeps its worker
        edited = json.loads(json.dumps(shown))
        edited["cameras"][1]["retention_days"] = 3
        reply = watcher.request(BASE, "set_config", {"config": edited})
        assert reply["status"] == "ok", reply
        assert reply["data"]["restarted"] == ["cam2"]
        assert reply["data"]["unchanged"] == ["cam1"]
        on_disk = tomllib.loads(config.read_text())
        assert on_disk["cameras"][1]["retention_days"] == 3
        assert CAMERA_PASSWORD in on_disk["cameras"][1]["main"]  # the mask was filled in
        wait_for(lambda: len(app.worker_pids("cam2")) == 2, 30, "cam2 restarted")
        assert len(app.worker_pids("cam1")) == 1

        # a setting no worker reads: nothing restarts
        reply = watcher.request(BASE, "set_config",
                                {"patch": {"health": {"cpu_warn_percent": 95}}})
        assert reply["status"] == "ok" and reply["data"]["restarted"] == [], reply
        assert tomllib.loads(config.read_text())["health"]["cpu_warn_percent"] == 95

        # invalid: refused, named, and the file is left alone
        before = config.read_text()
        reply = watcher.request(BASE, "set_config",
                                {"patch": {"storage": {"segment_seconds": 5}}})
        assert reply["status"] == "error" and "storage.segment_seconds" in reply["error"]
        assert config.read_text() == before

        mark = watcher.mark()
        reply = watcher.request(BASE, "restart_camera", {"camera": "cam1"})
        assert reply["status"] == "ok", reply
        watcher.wait_text(f"{BASE}/camera/cam1/state", "restarting", 20, after=mark)
        watcher.wait_text(f"{BASE}/camera/cam1/state", "online", 30, after=mark)
        assert len(app.worker_pids("cam1")) == 2

        reply = watcher.request(BASE, "set_recording", {"camera": "cam2", "recording": False})
        assert reply["status"] == "ok", reply
        watcher.wait_text(f"{BASE}/camera/cam2/state", "disabled", 20, after=mark)
        watcher.wait_text(f"{BASE}/camera/cam2/reason", "disabled in the config", 20,
                          after=mark)
        assert tomllib.loads(config.read_text())["cameras"][1]["enabled"] is False
        reply = watcher.request(BASE, "set_recording", {"camera": "cam2", "recording": True})
        assert reply["status"] == "ok", reply
        mark = watcher.mark()
        watcher.wait_text(f"{BASE}/camera/cam2/state", "online", 30, after=mark)

        # a camera removed: its worker stops and its retained state is cleared; then back
        mark = watcher.mark()
        only_cam1 = {"cameras": [shown["cameras"][0]]}
        reply = watcher.request(BASE, "set_config", {"patch": only_cam1})
        assert reply["status"] == "ok" and reply["data"]["removed"] == ["cam2"], reply
        watcher.wait_text(f"{BASE}/camera/cam2/state", "", 20, after=mark)
        watcher.wait_text(f"{BASE}/camera/cam2/reason", "", 20, after=mark)
        reply = watcher.request(BASE, "set_config", {"patch": {"cameras": shown["cameras"]}})
        assert reply["status"] == "error", reply  # cam2's password is masked: unknown now
        assert "cameras[1].main: holds a masked secret" in reply["error"]
        shown["cameras"][1]["main"] = cameras.url(2, "main", with_credentials=True)
        reply = watcher.request(BASE, "set_config", {"patch": {"cameras": shown["cameras"]}})
        assert reply["status"] == "ok" and reply["data"]["added"] == ["cam2"], reply
        watcher.wait_text(f"{BASE}/camera/cam2/state", "online", 30, after=mark)
        assert CAMERA_PASSWORD in tomllib.loads(config.read_text())["cameras"][1]["main"]

        # the plugin's own section changed: a new MQTT session takes it up
        mark = watcher.mark()
        reply = watcher.request(BASE, "set_config", {"patch": {"mqtt": {"stats_interval_s": 2}}})
        assert reply["status"] == "ok" and reply["data"]["restarted"] == [], reply
        watcher.wait_text(f"{BASE}/availability", "online", 20, after=mark)
        wait_for(lambda: len([m for m in watcher.messages[mark:]
                              if m.topic == f"{BASE}/stats"]) >= 3, 15, "stats every 2 s")

        mark = watcher.mark()
        assert watcher.request(BASE, "resync")["status"] == "ok"
        watcher.wait_text(f"{BASE}/availability", "online", 10, after=mark)
        wait_for(lambda: any(m.topic == f"{BASE}/info" for m in watcher.messages[mark:]), 10,
                 "info republished")

        # MQTT 5: the requester's response topic and correlation data
        watcher.client.subscribe("replies/me", 1)
        time.sleep(0.5)
        watcher.publish(f"{BASE}/request/ping", '{"transaction": 7}',
                        properties=response_properties("replies/me", b"corr-42"))
        reply = wait_for(lambda: watcher.last("replies/me"), 20, "reply on replies/me")
        assert reply.json()["transaction"] == 7
        assert reply.properties.CorrelationData == b"corr-42"

        # the fleet topic reaches this box too
        watcher.publish("nvr/fleet/request/ping", '{"transaction": "fleet-1"}')
        wait_for(lambda: any(m.json().get("transaction") == "fleet-1"
                             for m in watcher.on(f"{BASE}/response/ping")), 20,
                 "the box's answer to a fleet request")

        # every plugin's commands, e.g. the RTMP plugin's (installed, nothing pushed yet)
        listed = watcher.request(BASE, "list_commands")["data"]
        assert "ping" in listed["actions"]
        assert {"rtmp.start", "rtmp.stop", "rtmp.list"} <= {c["name"] for c in
                                                            listed["commands"]}
        reply = watcher.request(BASE, "rtmp.list")
        assert reply == {"transaction": reply["transaction"], "status": "ok",
                         "data": {"pushes": []}}

        # bad requests: each answered with an error, and the box stays up
        errors = [
            ("frobnicate", b'{"transaction": "u"}', "unknown action 'frobnicate'"),
            ("ping", b"{not json", "not JSON"),
            ("ping", b"[1, 2]", "must be a JSON object"),
            ("restart_camera", b'{"transaction": "c"}', "`camera`"),
            ("restart_camera", b'{"transaction": "x", "camera": "nope"}', "unknown camera"),
            ("set_recording", b'{"camera": "cam1", "recording": "yes"}', "true or false"),
            ("set_config", b'{"config": {"device": {}}}', "device.id: is required"),
            ("ping", b'{"surprise": 1}', "unknown argument 'surprise'"),
            ("rtmp.start", b'{"camera": "cam1", "url": "http://x/a/b"}', "expected rtmp://"),
            ("rtmp.start", b'{"camera": "cam1"}', "rtmp.start: missing argument 'url'"),
            ("rtmp.stop", b'{"camera": "cam1"}', "no push of cam1 is running"),
        ]
        for action, payload, expected in errors:
            mark = watcher.mark()
            watcher.publish(f"{BASE}/request/{action}", payload)
            got = wait_for(lambda a=action, m=mark: [x.json() for x in watcher.messages[m:]
                                                     if x.topic == f"{BASE}/response/{a}"],
                           20, f"error response to {payload!r}")[0]
            assert got["status"] == "error" and expected in got["error"], (payload, got)
            assert "data" not in got

        assert watcher.request(BASE, "ping")["status"] == "ok"
        assert app.process.poll() is None
        assert CAMERA_PASSWORD not in app.log
    assert_no_secret(watcher)


def test_events_are_kept_through_a_broker_outage_and_arrive_in_order(
        tmp_path: Path, cameras: SimCameraServer, broker: Mosquitto) -> None:
    config = mqtt_config(tmp_path, cameras, broker)
    with Watcher(broker, topics=(f"{BASE}/event",), name="fleet-backend", persistent=True) \
            as watcher, Appliance(config, tmp_path / "app.log", plugins=True) as app:
        wait_for(lambda: any(m.json()["type"] == "segment_closed"
                             for m in watcher.on(f"{BASE}/event")), 60, "first segment")
        broker.stop()
        outage_start = time.monotonic()
        cameras.kill()  # both cameras go offline while the broker is away
        wait_for(lambda: "cam1: offline" in app.log, 30, "cam1 offline")
        time.sleep(5)
        cameras.start()
        wait_for(lambda: app.log.count("cam1: online") >= 2, 60, "cam1 back online")
        time.sleep(max(0.0, 60 - (time.monotonic() - outage_start)))
        mark = watcher.mark()
        broker.start()  # same port, same persistent sessions

        def outage_events() -> list[dict]:
            return [m.json() for m in watcher.messages[mark:]]

        events = wait_for(
            lambda: [e for e in outage_events() if e["type"] == "segment_closed"
                     and e["camera"] == "cam1"] and outage_events(), 60,
            "events from the outage")
        time.sleep(3)
        events = outage_events()
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs)), "events out of order or duplicated"
        cam1 = [e["state"] for e in events
                if e["type"] == "camera_state" and e["camera"] == "cam1"]
        summary = [(e["seq"], e["type"], e.get("camera"), e.get("state")) for e in events]
        assert "offline" in cam1 and cam1[-1] == "online", summary
        assert cam1.index("offline") < len(cam1) - 1
        assert any(e["type"] == "alert" and e["code"] == "camera_offline" for e in events)
        assert app.process.poll() is None
    assert_no_secret(watcher)


def test_home_assistant_discovery_is_republished_when_it_restarts(
        tmp_path: Path, cameras: SimCameraServer, broker: Mosquitto) -> None:
    config = mqtt_config(tmp_path, cameras, broker, homeassistant=True)
    topic = "homeassistant/device/test-box/config"
    with Watcher(broker) as watcher, Appliance(config, tmp_path / "app.log", plugins=True):
        watcher.wait_text(f"{BASE}/availability", "online", 60)
        wait_for(lambda: watcher.on(topic), 10, "discovery")
        with Watcher(broker, topics=(topic,)) as late:  # live messages never show `retain`
            first = wait_for(lambda: late.on(topic), 10, "retained discovery")[0]
            assert first.retain
        body = first.json()
        assert {"cam1_recording", "cam2_recording", "cache_free", "status"} <= \
            set(body["components"])
        assert body["components"]["cam1_recording"]["state_topic"] == \
            f"{BASE}/camera/cam1/state"
        assert body["availability_topic"] == f"{BASE}/availability"
        watcher.publish("homeassistant/status", "online")
        wait_for(lambda: len(watcher.on(topic)) >= 2, 10, "discovery republished")
    assert_no_secret(watcher)


def test_the_box_keeps_recording_without_a_broker(tmp_path: Path, cameras: SimCameraServer,
                                                  broker: Mosquitto) -> None:
    broker.stop()  # never there
    config = mqtt_config(tmp_path, cameras, broker)
    with Appliance(config, tmp_path / "app.log", plugins=True) as app:
        wait_for(lambda: "segment closed" in app.log, 60, "a segment without a broker")
        assert app.process.poll() is None
        os.kill(app.process.pid, signal.SIGTERM)
        assert app.process.wait(30) == 0


def test_tls_with_a_client_certificate_and_a_password(tmp_path: Path, cameras: SimCameraServer
                                                      ) -> None:
    tls = TlsFiles.create(tmp_path / "tls")
    broker_password = "brk-Zq81-secret"
    broker = Mosquitto(tmp_path / "tls-broker", tls=tls,
                       users={"nvr": broker_password, "fleet": "fleet-pw"}).start()
    files = {"ca_file": str(tls.ca), "cert_file": str(tls.client_cert),
             "key_file": str(tls.client_key), "username": "nvr"}
    try:
        with Watcher(broker, login=("fleet", "fleet-pw")) as watcher:
            # a wrong password: refused, said in the log, and the box records on
            config = mqtt_config(tmp_path, cameras, broker, **files, password="wrong")
            with Appliance(config, tmp_path / "refused.log", plugins=True) as app:
                wait_for(lambda: "refused the connection" in app.log, 30, "the refusal logged")
                wait_for(lambda: "segment closed" in app.log, 60, "recording without MQTT")
                assert "wrong" not in app.log.split("refused the connection")[1][:200]
            assert not watcher.on(f"{BASE}/availability")

            config = mqtt_config(tmp_path, cameras, broker, **files, password=broker_password)
            with Appliance(config, tmp_path / "app.log", plugins=True) as app:
                watcher.wait_text(f"{BASE}/availability", "online", 60)
                reply = watcher.request(BASE, "get_config")
                assert reply["data"]["config"]["mqtt"]["password"] == "***"
            assert broker_password not in app.log
            with watcher.lock:
                assert not [m for m in watcher.messages
                            if broker_password.encode() in m.payload]
    finally:
        broker.stop()
