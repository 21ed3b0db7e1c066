"""The HTTP server at the process's descriptor limit: accept() fails with EMFILE; the
server logs it once (not a traceback a second), and answers again once descriptors are
free. The real server on loopback, in this process (its limit is the one lowered), with
a stand-in appliance: only /healthz is asked for."""

from __future__ import annotations

import logging
import os
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from nvr_edge_testing.waiting import free_port
from nvr_edge_web.context import WebContext
from nvr_edge_web.server import WebServer
from nvr_edge_web.settings import WebSettings
from nvr_edge_web.webrtc.settings import WebRtcSettings
from web_http import Client

WAIT_S = 4.0  # asyncio retries a failed accept every second: ~4 failures


class NoLive:
    def stats(self) -> dict[str, Any]:
        return {}


class StandInAppliance:
    """What building the app asks of the appliance: its live relay, plugin routes and the
    state folder (where exports go)."""

    live = NoLive()

    def __init__(self, state_dir: Path) -> None:
        self.config = SimpleNamespace(storage=SimpleNamespace(state_dir=state_dir))

    def call_hook(self, name: str, **kwargs: Any) -> list[Any]:
        return []


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebServer]:
    settings = WebSettings(host="127.0.0.1", port=free_port())
    ctx = WebContext(settings, cast(Any, StandInAppliance(tmp_path)), cast(Any, None),
                     cast(Any, None), webrtc=WebRtcSettings(host_addresses=("127.0.0.1",)))
    made = WebServer(ctx)
    assert made.start()
    try:
        yield made
    finally:
        made.stop()


def test_at_the_descriptor_limit_the_server_logs_once_and_recovers(
        server: WebServer, caplog: pytest.LogCaptureFixture) -> None:
    port = server.ctx.settings.port
    client = Client(port)
    assert client.get("/healthz").status == 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    waiting = [socket.socket() for _ in range(20)]  # their descriptors exist already
    try:
        with caplog.at_level(logging.WARNING):
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (len(os.listdir("/proc/self/fd")) + 2, hard))
            try:
                for sock in waiting:  # the kernel queues them; the server cannot accept
                    sock.connect(("127.0.0.1", port))
                time.sleep(WAIT_S)
            finally:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    finally:
        for sock in waiting:
            sock.close()
    failures = [r for r in caplog.records if "out of system resource" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in failures]
    assert failures[0].exc_info is None and "Too many open files" in failures[0].getMessage()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # accepting again within asyncio's retry delay
        try:
            if client.get("/healthz").status == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        raise AssertionError("the server does not answer after the descriptors came back")
