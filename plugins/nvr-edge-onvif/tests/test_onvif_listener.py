"""The passive listener: Hellos and Byes parsed, the registry's expiry, and real
multicast announcements heard inside network namespaces this test makes:

    nsA  10.77.0.2 camera 1 ──┐
                              ├── nsB: the plugin with `[onvif] listen = true`, twice
    nsA2 10.78.0.2 camera 2 ──┘   (every interface; only veth1a, towards nsA)
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_onvif.announce import Bye, Hello, parse_announcements
from nvr_edge_onvif.listener import Listener
from nvr_edge_onvif.probe import ProbeMatch
from nvr_edge_onvif.registry import MAX_CAMERAS, Registry
from nvr_edge_onvif.untrusted_xml import UntrustedXmlError
from nvr_edge_testing.netns import Namespaces, can_make_namespaces
from nvr_edge_testing.processes import end, tied
from nvr_edge_testing.simcam import PASSWORD_ENV

HELLO = b"""<?xml version="1.0"?>
<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"
 xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<e:Header><w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</w:Action></e:Header>
<e:Body><d:Hello><w:EndpointReference><w:Address>urn:uuid:cam-1</w:Address>
</w:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>
<d:Scopes>onvif://www.onvif.org/name/Door</d:Scopes>
<d:XAddrs>http://0.0.0.0:8080/onvif/device_service</d:XAddrs></d:Hello></e:Body></e:Envelope>"""
BYE = b"""<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"
 xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><e:Body><d:Bye>
<w:EndpointReference><w:Address>urn:uuid:cam-1</w:Address></w:EndpointReference>
</d:Bye></e:Body></e:Envelope>"""


def camera(urn: str, host: str) -> ProbeMatch:
    return ProbeMatch(urn, (f"http://{host}/onvif/device_service",), (), host)


def test_hello_and_bye_are_read_and_a_printer_hello_is_not() -> None:
    [hello] = parse_announcements(HELLO, "10.0.0.9")
    assert isinstance(hello, Hello) and hello.camera.urn == "urn:uuid:cam-1"
    assert hello.camera.xaddrs == ("http://10.0.0.9:8080/onvif/device_service",)  # 0.0.0.0
    assert hello.camera.scope("name") == "Door"
    assert parse_announcements(BYE, "10.0.0.9") == [Bye("urn:uuid:cam-1")]
    printer = HELLO.replace(b"dn:NetworkVideoTransmitter", b"p:PrintDeviceType")
    assert parse_announcements(printer, "10.0.0.9") == []
    no_xaddrs = HELLO.replace(b"http://0.0.0.0:8080/onvif/device_service", b"")
    assert parse_announcements(no_xaddrs, "10.0.0.9") == []


@given(cut=st.integers(min_value=0, max_value=len(HELLO)), junk=st.binary(max_size=64))
def test_fuzz_mangled_announcements_raise_only_untrusted_xml(cut: int, junk: bytes) -> None:
    registry = Registry()
    listener = Listener(registry, [], port=0)
    try:
        for data in (HELLO[:cut] + junk, BYE[:cut] + junk, junk + HELLO[cut:]):
            try:
                announcements = parse_announcements(data, "10.0.0.9")
            except UntrustedXmlError:
                continue
            for announcement in announcements:
                listener.heard(announcement)
    finally:
        listener.stop()


def test_unseen_cameras_expire_and_a_bye_forgets_at_once() -> None:
    now = [1000.0]
    registry = Registry(expire_s=600, monotonic=lambda: now[0])
    assert registry.saw(camera("urn:a", "10.0.0.2"), "hello") is None
    assert registry.saw(camera("urn:b", "10.0.0.3"), "probe") is None
    now[0] += 400
    registry.saw(camera("urn:b", "10.0.0.3"), "hello")  # b seen again, a not
    now[0] += 300
    assert registry.expire() == ["urn:a"]
    assert [c["id"] for c in registry.status()["candidates"]] == ["urn:b"]
    assert registry.bye("urn:b") and not registry.bye("urn:b")
    assert registry.status() == {"candidates": []}


def test_a_flood_of_hellos_is_bounded_and_known_cameras_still_refresh() -> None:
    registry = Registry()
    for n in range(MAX_CAMERAS + 50):
        registry.saw(camera(f"urn:{n}", "10.0.0.2"), "hello")
    assert len(registry.status()["candidates"]) == MAX_CAMERAS
    assert registry.get(f"urn:{MAX_CAMERAS}") is None
    assert registry.saw(camera("urn:0", "10.0.0.3"), "hello") == camera("urn:0", "10.0.0.2")


def test_a_new_address_is_reported_once_with_the_old_one() -> None:
    registry = Registry()
    moves: list[tuple[str, str]] = []
    listener = Listener(registry, [], port=0, on_seen=lambda old, new: old and moves.append(
        (old.host, new.host)))
    try:
        listener.heard(Hello(camera("urn:a", "10.0.0.2")))
        listener.heard(Hello(camera("urn:a", "10.0.0.2")))  # the same: no move
        listener.heard(Hello(camera("urn:a", "10.0.0.7")))
        listener.heard(Bye("urn:unknown"))  # nothing to forget, nothing raised
    finally:
        listener.stop()
    assert moves == [("10.0.0.2", "10.0.0.7")]
    assert registry.get("urn:a") == camera("urn:a", "10.0.0.7")


# -- real multicast in namespaces ---------------------------------------------------------

# The plugin as the appliance starts it (config section, nvr_startup), its status part
# printed as one JSON line whenever it changes.
# The site's credentials, when asked for, come in the environment.
LISTENER = """
import json, os, sys, time
from nvr_edge.config import parse_config
from nvr_edge_onvif.plugin import OnvifDiscovery
plugin = OnvifDiscovery()
site = {k: os.environ[v] for k, v in (("user", "SITE_USER"), ("password", "SITE_PASSWORD"))
        if v in os.environ}
document = {"device": {"id": "box"}, "storage": {"state_dir": sys.argv[1]},
            "onvif": {"listen": True, "interfaces": sys.argv[2:], **site}}
config = parse_config(document, readers=plugin.nvr_config_sections())
plugin.nvr_startup(config=config, catalog=None, appliance=object())
last = None
while True:
    part = json.dumps(plugin.nvr_status_part(config=config)["onvif"])
    if part != last:
        print(part, flush=True)
        last = part
    time.sleep(0.02)
"""


class Watched:
    """A subprocess whose JSON lines are kept, the latest first-class."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(tied(argv), stdout=subprocess.PIPE, text=True,
                                        env=None if env is None else {**os.environ, **env})
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.latest: dict[str, Any] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def wait(self, predicate: Any, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not predicate(self.latest):
            try:
                self.latest = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{what}: last status {self.latest}") from None
        return self.latest


def ids(status: dict[str, Any]) -> list[str]:
    return sorted(c["id"] for c in status.get("candidates", []))


@pytest.fixture
def lan(tmp_path: Any) -> Iterator[tuple[Namespaces, dict[str, str]]]:
    with Namespaces("nvrl") as ns:
        names = {short: ns.add(short) for short in ("b", "a", "a2")}
        ns.link(names["b"], "10.77.0.1/24", names["a"], "10.77.0.2/24")  # veth1a in nsB
        ns.link(names["b"], "10.78.0.1/24", names["a2"], "10.78.0.2/24")
        yield ns, names


def face(ns: Namespaces, name: str, address: str, urn: str,
         password: str | None = None) -> subprocess.Popen[bytes]:
    """The simulated camera's ONVIF face, which says Hello as it starts (with `password`:
    its SOAP services want user `admin` and that password)."""
    auth = ["--user", "admin"] if password is not None else []
    env = {**os.environ, PASSWORD_ENV: password} if password is not None else None
    process = subprocess.Popen(tied(ns.argv(name, [
        sys.executable, "-m", "nvr_edge_testing.simcam.onvif", "--rtsp",
        f"rtsp://{address}:8554/cam1", "--advertise", address, "--urn", urn, *auth])),
        stdout=subprocess.PIPE, env=env)
    return process


@pytest.mark.slow
@pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip")
def test_hellos_and_byes_on_the_chosen_interfaces(lan: tuple[Namespaces, dict[str, str]],
                                                  tmp_path: Any) -> None:
    ns, names = lan
    everywhere = Watched(ns.argv(names["b"], [sys.executable, "-c", LISTENER, str(tmp_path)]))
    one = Watched(ns.argv(names["b"], [sys.executable, "-c", LISTENER, str(tmp_path),
                                       "veth1a"]))
    faces: list[subprocess.Popen[bytes]] = []
    try:
        assert everywhere.wait(lambda s: len(s.get("listening_on", [])) == 2, 10,
                               "listening on both interfaces")["listening_on"] == \
            ["veth1a", "veth2a"]
        one.wait(lambda s: s.get("listening_on") == ["veth1a"], 10, "listening on veth1a")
        started = time.monotonic()
        faces = [face(ns, names["a"], "10.77.0.2", "urn:uuid:cam-a"),
                 face(ns, names["a2"], "10.78.0.2", "urn:uuid:cam-a2")]
        seen = everywhere.wait(lambda s: ids(s) == ["urn:uuid:cam-a", "urn:uuid:cam-a2"],
                               15, "both Hellos")
        print(f"face start to both candidates: {time.monotonic() - started:.2f} s")
        by_id = {c["id"]: c for c in seen["candidates"]}
        assert by_id["urn:uuid:cam-a2"]["address"] == "10.78.0.2"
        assert by_id["urn:uuid:cam-a"]["how"] == "hello"
        assert by_id["urn:uuid:cam-a"]["xaddrs"][0].startswith("http://10.77.0.2:")
        one.wait(lambda s: ids(s) == ["urn:uuid:cam-a"], 5, "camera a on veth1a")
        end(faces[0], 10)  # SIGTERM: the face says Bye
        everywhere.wait(lambda s: ids(s) == ["urn:uuid:cam-a2"], 5, "camera a's Bye")
        one.wait(lambda s: ids(s) == [], 5, "camera a's Bye on veth1a")
        assert ids(one.latest) == []  # camera a2's Hello never reached veth1a's listener

        # camera a2 loses power (no Bye) and comes back on a new lease, same URN
        faces[1].kill()
        faces[1].wait()
        ns.run(names["a2"], "ip", "addr", "add", "10.78.0.3/24", "dev", "veth2b")
        faces.append(face(ns, names["a2"], "10.78.0.3", "urn:uuid:cam-a2"))
        moved = everywhere.wait(lambda s: [c["address"] for c in s["candidates"]] ==
                                ["10.78.0.3"], 10, "camera a2 at its new address")
        assert ids(moved) == ["urn:uuid:cam-a2"]
    finally:
        for process in (*faces, everywhere.process, one.process):
            end(process, 5)


@pytest.mark.slow
@pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip")
def test_heard_cameras_are_asked_with_the_site_credentials(
        lan: tuple[Namespaces, dict[str, str]], tmp_path: Any) -> None:
    """`[onvif] user/password` set: each camera is asked as its Hello arrives; the list
    shows its proposed streams (masked URLs), or why it would not say, and no password."""
    ns, names = lan
    site = "Site-Pass-41"
    watched = Watched(ns.argv(names["b"], [sys.executable, "-c", LISTENER, str(tmp_path)]),
                      env={"SITE_USER": "admin", "SITE_PASSWORD": site})
    faces: list[subprocess.Popen[bytes]] = []
    try:
        watched.wait(lambda s: len(s.get("listening_on", [])) == 2, 10, "listening")
        faces = [face(ns, names["a"], "10.77.0.2", "urn:uuid:cam-a", password=site),
                 face(ns, names["a2"], "10.78.0.2", "urn:uuid:cam-a2", password="Other-9")]
        seen = watched.wait(lambda s: ids(s) == ["urn:uuid:cam-a", "urn:uuid:cam-a2"] and all(
            "problem" in c for c in s["candidates"]), 30, "both cameras asked")
        by_id = {c["id"]: c for c in seen["candidates"]}
        asked, refused = by_id["urn:uuid:cam-a"], by_id["urn:uuid:cam-a2"]
        assert asked["problem"] == "" and asked["how"] == "hello", asked
        roles = {s["role"]: s["url"] for s in asked["streams"] if s["role"]}
        assert set(roles) == {"main", "sub"}, asked["streams"]
        assert roles["main"].startswith("rtsp://admin:***@10.77.0.2:8554/"), roles
        assert "wrong user or password" in refused["problem"] and not refused["streams"]
        print(f"Hello to proposed: {asked['described_after_s']:.2f} s")
        assert 0 <= asked["described_after_s"] < 30
        text = json.dumps(seen)
        assert site not in text and "Other-9" not in text
    finally:
        for process in (*faces, watched.process):
            end(process, 5)
