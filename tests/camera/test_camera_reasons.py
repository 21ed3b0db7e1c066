"""Hostile cameras on real sockets: a camera that sends garbage, says nothing, hangs up at
once or refuses the connection is shown with a state whose reason names the problem."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nvr_edge.camera.messages import StateChanged
from nvr_edge.camera.rtsp_probe import describe, diagnose
from nvr_edge.camera.session_end import ReasonStreak
from nvr_edge.models import CameraState
from tests.camera.workers import camera_worker

Behaviour = Callable[[socket.socket], None]


def garbage(conn: socket.socket) -> None:
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    time.sleep(0.3)


def binary(conn: socket.socket) -> None:
    conn.recv(4096)
    conn.sendall(bytes(range(256)))
    time.sleep(0.3)


def silent(conn: socket.socket) -> None:
    time.sleep(8)


def closing(conn: socket.socket) -> None:
    pass


SDP = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
       "a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;"
       "sprop-parameter-sets=Z2QADayyAoP2AiAAAAMAIAAAB4HihUk=,aOvDyyLA\r\na=control:track1\r\n")


def rtsp_then_silent(conn: socket.socket) -> None:
    """A proper RTSP answer to OPTIONS, DESCRIBE, SETUP and PLAY, then not one packet."""
    pending = b""
    while data := conn.recv(4096):
        pending += data
        while b"\r\n\r\n" in pending:
            request, pending = pending.split(b"\r\n\r\n", 1)
            lines = request.decode().split("\r\n")
            cseq = next(line.split(":")[1].strip() for line in lines
                        if line.lower().startswith("cseq"))
            headers, body = {
                "DESCRIBE": (f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}"
                             "\r\n", SDP),
                "SETUP": ("Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 1\r\n",
                          ""),
                "PLAY": ("Session: 1\r\n", ""),
            }.get(lines[0].split()[0], ("Public: OPTIONS, DESCRIBE, SETUP, PLAY\r\n", ""))
            conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{headers}\r\n{body}".encode())


@pytest.fixture
def server() -> Iterator[Callable[[Behaviour], int]]:
    """Starts TCP servers on 127.0.0.1 that treat each connection with a behaviour."""
    listeners: list[socket.socket] = []

    def start(behaviour: Behaviour) -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def serve(conn: socket.socket) -> None:
            with conn, contextlib.suppress(OSError):
                behaviour(conn)

        def accept() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return  # the listener was closed
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return listener.getsockname()[1]

    yield start
    for listener in listeners:
        listener.close()


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]  # closed again: nothing listens there


@pytest.mark.parametrize(("behaviour", "reason"), [
    (garbage, "not an RTSP server: answered 'HTTP/1.1 400 Bad Request'"),
    (binary, "not an RTSP server: answered 256 bytes of binary data"),
    (silent, "no data for 1 s after connect"),
    (closing, "the camera closed the connection right after connecting"),
])
def test_diagnosis_names_the_problem(server: Callable[[Behaviour], int], behaviour: Behaviour,
                                     reason: str) -> None:
    found = diagnose("127.0.0.1", server(behaviour), timeout_s=1.0)
    assert found == (found.__class__(True, reason))


def test_refused_connection_is_unreachable_with_its_reason() -> None:
    found = diagnose("127.0.0.1", free_port(), timeout_s=1.0)
    assert not found.reachable and found.reason == "RTSP: connection refused"


def test_long_answers_are_cut_and_control_characters_not_shown() -> None:
    assert describe(b"X" * 500).endswith("…'")
    assert len(describe(b"X" * 500)) < 80
    assert describe(b"\x1b[31m\x00\x01\x02\x03\x04") == "answered 10 bytes of binary data"


def test_the_same_failure_again_is_counted() -> None:
    streak = ReasonStreak()
    assert [streak.add("x"), streak.add("x"), streak.add("x")] == ["x", "x (2 times)",
                                                                   "x (3 times)"]
    assert streak.add("y") == "y"
    streak.reset()
    assert streak.add("y") == "y"


def states_of(port: int, tmp_path: Path, until: Callable[[StateChanged], bool],
              within_s: float) -> list[StateChanged]:
    """Runs a real camera worker against 127.0.0.1:`port` until a state matches."""
    worker, ours = camera_worker(tmp_path, f"rtsp://127.0.0.1:{port}/stream",
                                 connect_timeout_s=1.0,
                                 recording={"retry": {"initial_delay_ms": 100,
                                                      "max_delay_ms": 200},
                                            "stall": {"timeout_ms": 200, "max_drops": 2}})
    stop = worker.stop
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    seen: list[StateChanged] = []
    deadline = time.monotonic() + within_s
    try:
        while time.monotonic() < deadline:
            if ours.poll(0.1):
                message = ours.recv()
                if isinstance(message, StateChanged):
                    seen.append(message)
                    if until(message):
                        return seen
        raise AssertionError(f"no matching state within {within_s} s: {seen}")
    finally:
        stop.set()
        worker.wake.set()
        thread.join(15)
        assert not thread.is_alive()


@pytest.mark.parametrize(("behaviour", "expected"), [
    (garbage, "not an RTSP server: answered 'HTTP/1.1 400 Bad Request' (3 times)"),
    (closing, "the camera closed the connection right after connecting (3 times)"),
    (silent, "no data for 1 s after connect"),
    (rtsp_then_silent, "no data for 1 s after connect (2 times)"),
])
def test_a_hostile_camera_connects_with_a_reason(server: Callable[[Behaviour], int],
                                                 tmp_path: Path, behaviour: Behaviour,
                                                 expected: str) -> None:
    port = server(behaviour)
    seen = states_of(port, tmp_path, lambda s: s.reason == expected, within_s=20)
    assert seen[0].state == CameraState.CONNECTING and "first connection" in seen[0].reason
    assert all(s.reason for s in seen)  # no state without a reason
    assert seen[-1].state == CameraState.CONNECTING


def test_a_refusing_camera_is_offline_with_the_reason(tmp_path: Path) -> None:
    seen = states_of(free_port(), tmp_path,
                     lambda s: s.reason == "RTSP: connection refused (2 times)", within_s=15)
    assert seen[-1].state == CameraState.OFFLINE
