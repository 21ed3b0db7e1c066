"""Plugin commands and plugin web routes, end to end in the in-process appliance with the
web and MQTT plugins and a sample third-party plugin: one command answers alike over HTTP
(`/api/commands`) and MQTT (`request/<name>`), refusing a bad argument with the same words;
`nvr_web_routes` routes sit behind the same token check; a raising plugin costs only its
own commands and routes."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nvr_edge_mqtt.plugin import MqttPlugin
from nvr_edge_testing.mosquitto import Mosquitto
from nvr_edge_testing.waiting import free_port
from nvr_edge_web.auth import authenticator_for
from nvr_edge_web.plugin import WebPlugin

from nvr_edge import Appliance, Command, ControlError, Param, WebRoute, hookimpl
from tests.helpers import running_supervisor, wait_for, write_config

BASE = "nvr/test-box"  # the default topic prefix and write_config's device id


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"hello": request.match_info.get("camera", "box")})


def refuse(args: Mapping[str, Any]) -> None:
    raise ControlError("the sample cannot do that now")


class Sample:
    """A third-party plugin as docs/PLUGINS.md describes it: an object with commands and
    web routes, importing only `nvr_edge`."""

    @hookimpl
    def nvr_commands(self, appliance: Appliance) -> list[Command]:
        return [
            Command("sample.echo", "say it back", self.echo, {
                "text": Param("string", "what to say"),
                "times": Param("integer", "how often", required=False),
                "tone": Param("string", "how", required=False, choices=("calm", "loud")),
            }, action="view"),
            Command("sample.refuse", "always refused", refuse),
        ]

    @staticmethod
    def echo(args: Mapping[str, Any]) -> dict[str, Any]:
        return {"said": args["text"] * args.get("times", 1), "tone": args.get("tone")}

    @hookimpl
    def nvr_web_routes(self, appliance: Appliance) -> list[WebRoute]:
        return [WebRoute("GET", "/sample/{camera}/hello", hello, "view"),
                WebRoute("get", "/sample/hello", hello),  # admin by default
                WebRoute("GET", "/api/status", hello, "view")]  # the web plugin's: left out


class Broken:
    """A careless plugin: both hooks raise."""

    @hookimpl
    def nvr_commands(self, appliance: Appliance) -> list[Command]:
        raise RuntimeError("broken commands")

    @hookimpl
    def nvr_web_routes(self, appliance: Appliance) -> list[WebRoute]:
        raise RuntimeError("broken routes")


@dataclass
class Reply:
    status: int
    body: Any


class Site:
    """The running appliance seen from outside: HTTP with tokens, MQTT requests."""

    def __init__(self, config: Any, port: int, broker: Mosquitto) -> None:
        self.config, self.port = config, port
        self.responses: dict[Any, dict[str, Any]] = {}
        self.arrived = threading.Condition()
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe(f"{BASE}/response/#", qos=1)
        self.client.loop_start()

    def token(self, actions: list[str], cameras: list[str] | str = "*") -> str:
        return authenticator_for(self.config).issue("tester", actions, cameras, 600)

    def http(self, method: str, path: str, token: str | None = None,
             body: bytes | None = None) -> Reply:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body,
                                         method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Reply(response.status, json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, json.loads(exc.read()))

    def run_http(self, name: str, args: Any, token: str) -> Reply:
        return self.http("POST", f"/api/commands/{name}", token, json.dumps(args).encode())

    def request(self, action: str, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
        transaction = uuid.uuid4().hex
        self.client.publish(f"{BASE}/request/{action}",
                            json.dumps({"transaction": transaction, **(args or {})}), qos=1)
        with self.arrived:
            assert self.arrived.wait_for(lambda: transaction in self.responses, 30), action
            return self.responses.pop(transaction)

    def _on_message(self, _client: Any, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        reply = json.loads(message.payload)
        with self.arrived:
            self.responses[reply.get("transaction")] = reply
            self.arrived.notify_all()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("commands")
    broker = Mosquitto(folder / "broker").start()
    port = free_port()
    config_path = write_config(
        folder / "nvr.toml", {},
        extra=f'[web]\nlisten = "127.0.0.1:{port}"\n[mqtt]\nurl = "{broker.url}"\n')
    try:
        with running_supervisor(config_path, plugins=(WebPlugin(), MqttPlugin(), Sample(),
                                                      Broken())) as supervisor:
            made = Site(supervisor.config, port, broker)
            try:
                wait_for(lambda: made.request("ping")["status"] == "ok", 30, "MQTT requests")
                yield made
            finally:
                made.close()
    finally:
        broker.stop()


def test_http_lists_and_runs_a_plugin_command(site: Site) -> None:
    listed = site.http("GET", "/api/commands", site.token(["view"], ["cam1"]))
    assert listed.status == 200
    echo = next(c for c in listed.body["commands"] if c["name"] == "sample.echo")
    assert echo == {"name": "sample.echo", "summary": "say it back", "action": "view",
                    "params": {"text": {"type": "string", "doc": "what to say",
                                        "required": True},
                               "times": {"type": "integer", "doc": "how often",
                                         "required": False},
                               "tone": {"type": "string", "doc": "how", "required": False,
                                        "choices": ["calm", "loud"]}}}
    view = site.token(["view"])
    reply = site.run_http("sample.echo", {"text": "hi", "times": 2}, view)
    assert (reply.status, reply.body) == (200, {"result": {"said": "hihi", "tone": None}})


def test_http_refusals_in_the_error_shape(site: Site) -> None:
    admin, view = site.token(["admin"]), site.token(["view"])
    cases = [
        (site.run_http("sample.echo", {"text": "hi"}, ""), 401, "a token is required"),
        (site.run_http("sample.nope", {}, admin), 404, "unknown command 'sample.nope'"),
        (site.run_http("sample.echo", {"text": 3}, view), 400,
         "argument 'text': expected string, got int"),
        (site.http("POST", "/api/commands/sample.echo", view, b"{nope"), 400, "not JSON"),
        (site.http("POST", "/api/commands/sample.echo", view, b""), 400,
         "missing argument 'text'"),  # an empty body is no arguments
        (site.run_http("sample.refuse", {}, view), 403, "does not allow admin"),
        (site.run_http("sample.refuse", {}, site.token(["admin"], ["cam1"])), 403,
         "does not cover"),  # a command acts on the box: every camera
        (site.run_http("sample.refuse", {}, admin), 409, "the sample cannot do that now"),
    ]
    for reply, status, words in cases:
        assert reply.status == status and words in reply.body["error"], (reply, words)
    assert site.http("GET", "/api/commands").status == 401


def test_mqtt_lists_and_runs_the_same_command(site: Site) -> None:
    listed = site.request("list_commands")
    assert listed["status"] == "ok"
    names = {c["name"] for c in listed["data"]["commands"]}
    assert {"sample.echo", "sample.refuse"} <= names
    assert "ping" in listed["data"]["actions"]
    reply = site.request("sample.echo", {"text": "hi", "tone": "calm"})
    assert reply["status"] == "ok" and reply["data"] == {"said": "hi", "tone": "calm"}
    refused = site.request("sample.refuse")
    assert refused["status"] == "error"
    assert refused["error"] == "the sample cannot do that now"


ARGUMENT_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.text(max_size=4),
                            st.sampled_from(["calm", "loud"]), st.lists(st.integers(), max_size=2))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["text", "times", "tone", "volume"]), ARGUMENT_VALUES,
                       max_size=4))
def test_both_transports_answer_any_arguments_with_the_same_words(
        site: Site, args: dict[str, Any]) -> None:
    over_http = site.run_http("sample.echo", args, site.token(["view"]))
    over_mqtt = site.request("sample.echo", args)
    if over_http.status == 200:
        assert over_mqtt == {"transaction": over_mqtt["transaction"], "status": "ok",
                             "data": over_http.body["result"]}
    else:
        assert over_http.status == 400, over_http
        assert over_mqtt["status"] == "error"
        assert over_mqtt["error"] == over_http.body["error"]


def test_plugin_routes_sit_behind_the_token_check(site: Site) -> None:
    cam1 = site.token(["view"], ["cam1"])
    ok = site.http("GET", "/sample/cam1/hello", cam1)
    assert (ok.status, ok.body) == (200, {"hello": "cam1"})
    assert site.http("GET", "/sample/cam2/hello", cam1).status == 403  # another camera
    assert site.http("GET", "/sample/cam1/hello").status == 401
    assert site.http("GET", "/sample/hello", site.token(["view"])).status == 403  # admin
    assert site.http("GET", "/sample/hello", site.token(["admin"])).body == {"hello": "box"}
    # a route that would shadow the web plugin's own is left out
    status = site.http("GET", "/api/status", site.token(["view"]))
    assert status.status == 200 and "cameras" in status.body


def test_the_first_party_plugins_are_objects_named_by_their_entry_points() -> None:
    from importlib.metadata import entry_points

    named = {e.name: e for e in entry_points(group="nvr_edge")}
    for name, kind in (("web", WebPlugin), ("mqtt", MqttPlugin)):
        assert named[name].value == f"nvr_edge_{name}.plugin:plugin"
        assert isinstance(named[name].load(), kind)
    # two instances share nothing: the state lives on the object
    first, second = WebPlugin(), WebPlugin()
    assert first.live is not second.live and first.server is None
