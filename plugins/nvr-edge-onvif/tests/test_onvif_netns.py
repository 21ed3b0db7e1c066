"""Discovery over real multicast, inside network namespaces this test makes:

    nsA  10.77.0.2 camera 1 (clock 2 h behind) ──┐
    nsA2 10.78.0.2 camera 2 (XAddr 0.0.0.0) ─────┼── nsB: `nvr-edge discover`
    nsC  10.80.0.2 camera 3 ── nsR (router) ─────┘   (10.77.0.1, 10.78.0.1, 10.79.0.1)

Cameras 1 and 2 answer the multicast Probe sent out of each of nsB's interfaces; camera
3 sits behind a router that multicast does not cross and is found only by `--host`
(a subnet sweep here).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nvr_edge_testing.netns import Namespaces, can_make_namespaces
from nvr_edge_testing.processes import end, tied
from nvr_edge_testing.simcam.onvif import PASSWORD_ENV

from nvr_edge import DISABLE_AUTOLOAD_ENV

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip")]

PASSWORD = "s3cret&<pass"
CAMERAS = {  # namespace: (address, extra arguments of the ONVIF face)
    "a": ("10.77.0.2", ["--clock-offset", "-7200"]),
    "a2": ("10.78.0.2", ["--zero-xaddr"]),
    "c": ("10.80.0.2", []),
}


@dataclass
class Lan:
    namespaces: Namespaces
    prober: str
    urns: dict[str, str]  # camera address -> its URN


@pytest.fixture(scope="module")
def lan() -> Iterator[Lan]:
    with Namespaces("nvro") as ns:
        names = {short: ns.add(short) for short in ("b", "a", "a2", "r", "c")}
        ns.link(names["b"], "10.77.0.1/24", names["a"], "10.77.0.2/24")
        ns.link(names["b"], "10.78.0.1/24", names["a2"], "10.78.0.2/24")
        ns.link(names["b"], "10.79.0.1/24", names["r"], "10.79.0.2/24")
        ns.link(names["r"], "10.80.0.1/24", names["c"], "10.80.0.2/24")
        ns.forward(names["r"])
        ns.route(names["b"], "10.80.0.0/24", "10.79.0.2")
        ns.route(names["c"], "default", "10.80.0.1")
        faces, urns = [], {}
        try:
            for short, (address, extra) in CAMERAS.items():
                face = subprocess.Popen(
                    tied(ns.argv(names[short], [
                        sys.executable, "-m", "nvr_edge_testing.simcam.onvif",
                        "--rtsp", f"rtsp://{address}:8554/cam1", "--advertise", address,
                        "--name", f"cam {short}", "--user", "admin", *extra])),
                    stdout=subprocess.PIPE, env={PASSWORD_ENV: PASSWORD, "PATH": "/usr/bin"})
                faces.append(face)
                assert face.stdout is not None
                ready = face.stdout.readline().decode().split()
                assert ready[:1] == ["READY"], f"ONVIF face in {short} did not start"
                urns[address] = ready[2]
            yield Lan(ns, names["b"], urns)
        finally:
            for face in faces:
                end(face, 5)


def discover(lan: Lan, tmp_path: Path, *args: str, password: str = PASSWORD
             ) -> tuple[list[dict[str, object]], str, float]:
    password_file = tmp_path / "password"
    password_file.write_text(password + "\n")
    started = time.monotonic()
    run = subprocess.run(
        lan.namespaces.argv(lan.prober, [
            sys.executable, "-m", "nvr_edge", "discover", "--json", "--timeout", "1.5",
            "--user", "admin", "--password-file", str(password_file), *args]),
        capture_output=True, text=True, timeout=60, check=True,
        env={k: v for k, v in os.environ.items() if k != DISABLE_AUTOLOAD_ENV})  # load onvif
    return json.loads(run.stdout), run.stderr, time.monotonic() - started


def test_multicast_on_every_interface_and_a_directed_probe(lan: Lan, tmp_path: Path) -> None:
    # a subnet sweep: the router at .1 answers with ICMP port-unreachable, .3-.6 with nothing
    found, log, seconds = discover(lan, tmp_path, "--host", "10.80.0.0/29")
    by_address = {c["address"]: c for c in found}
    assert sorted(by_address) == ["10.77.0.2", "10.78.0.2", "10.80.0.2"]
    for address, candidate in by_address.items():
        assert candidate["id"] == lan.urns[address] and candidate["kind"] == "onvif"
        assert candidate["problem"] == ""  # camera 1's clock is 2 h off: corrected
        roles = {s["role"]: s for s in candidate["streams"]}  # type: ignore[attr-defined]
        assert roles["main"]["url"] == f"rtsp://admin:***@{address}:8554/cam1/main"
        assert (roles["sub"]["width"], roles["sub"]["height"]) == (640, 360)
    assert by_address["10.78.0.2"]["name"] == "cam a2"  # its 0.0.0.0 XAddr was replaced
    assert PASSWORD not in json.dumps(found) + log
    answers = [float(s) for s in re.findall(r"answered ([\d.]+) s after", log)]
    proposed = [float(s) for s in re.findall(r"proposed ([\d.]+) s after", log)]
    assert len(answers) == len(proposed) == 3 and max(proposed) < 1.0, log
    print(f"probe to ProbeMatch {sorted(answers)} s, to proposed {sorted(proposed)} s; "
          f"whole command {seconds:.2f} s")


def test_without_the_host_the_routed_camera_stays_unseen(lan: Lan, tmp_path: Path) -> None:
    found, _log, _seconds = discover(lan, tmp_path)
    assert sorted(c["address"] for c in found) == ["10.77.0.2", "10.78.0.2"]  # type: ignore[type-var]


def test_only_the_named_interface_is_searched(lan: Lan, tmp_path: Path) -> None:
    found, _log, _seconds = discover(lan, tmp_path, "--interface", "veth2a")  # to nsA2
    assert [c["address"] for c in found] == ["10.78.0.2"]


def test_a_wrong_password_is_named_per_camera(lan: Lan, tmp_path: Path) -> None:
    found, log, _seconds = discover(lan, tmp_path, password="wrong-one")
    assert len(found) == 2
    for candidate in found:
        assert str(candidate["problem"]).startswith("wrong user or password")
        assert candidate["streams"] == []
    assert "wrong-one" not in log
