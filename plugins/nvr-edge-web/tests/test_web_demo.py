"""`nvr-edge demo` with the web plugin installed serves the page and prints its URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from web_http import Client

from nvr_edge.plugins import DISABLE_AUTOLOAD_ENV
from tests.helpers import wait_for

pytestmark = pytest.mark.slow


def test_demo_prints_a_working_page_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != DISABLE_AUTOLOAD_ENV}
    demo = subprocess.Popen(
        [sys.executable, "-m", "nvr_edge", "demo", "--dir", str(tmp_path), "--cameras", "1",
         "--segment-seconds", "10", "--duration", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("web: "):
                break
        url = urlsplit(lines[-1].removeprefix("web: ").strip())
        assert url.hostname == "127.0.0.1" and url.path == "/", lines
        token = url.query.removeprefix("token=")
        client = Client(url.port or 80)
        cameras = wait_for(lambda: _cameras(client, token), 60, "the demo's web server")
        assert [c["id"] for c in cameras] == ["cam1"]
        assert client.get("/metrics", token).status == 200  # the token is admin too
        assert client.get("/").status == 200
        demo.stdout.read()  # the rest of the report, until the demo ends
        assert demo.wait(120) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


def _cameras(client: Client, token: str) -> list[dict[str, str]] | None:
    try:
        reply = client.get("/api/cameras", token)
    except OSError:
        return None
    return reply.json()["cameras"] if reply.status == 200 else None
