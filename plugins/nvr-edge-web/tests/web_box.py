"""The real appliance with the web plugin on a loopback port, as the web tests see it: a
`Box` with an HTTP client and a token maker, and the checks several test modules share."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from nvr_edge_testing.bench.live.load import h264_offerer
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.waiting import free_port
from nvr_edge_web.auth import authenticator_for
from nvr_edge_web.plugin import WebPlugin
from web_http import Client, Reply
from web_promtext import parse, value
from web_tokens import secret_of

from nvr_edge.catalog import SegmentQuery
from nvr_edge.config import Config, load_config
from nvr_edge.encode.plugin import nvr_config_sections as encoder_sections
from tests.conftest import CAMERA_PASSWORD
from tests.helpers import Appliance, wait_for, write_config

WEBRTC = '[webrtc]\nhost_addresses = ["127.0.0.1"]\n'


@dataclass
class Box:
    app: Appliance
    config: Config
    http: Client
    tokens: list[str] = field(default_factory=list)  # every token sent: none may be logged
    cameras: SimCameraServer | None = None  # the simulated cameras (stop, start: an outage)

    @property
    def secret(self) -> bytes:
        return secret_of(self.config.storage.state_dir)

    def token(self, actions: list[str], cameras: list[str] | str) -> str:
        made = authenticator_for(self.config).issue("tester", actions, cameras, 600)
        self.tokens.append(made)
        return made

    def signed(self, payload: dict[str, Any], key: Any = None, algorithm: str = "HS256") -> str:
        made = jwt.encode(payload, self.secret if key is None else key, algorithm=algorithm)
        self.tokens.append(made)
        return made

    def get(self, path: str, token: str | None = None, **headers: str) -> Reply:
        return self.http.get(path, token, **headers)


@contextmanager
def running_box(folder: Path, clip_cache: Path, clip: Any, extra: str = "",
                web: str = "") -> Iterator[Box]:
    """The real appliance with [web] (plus the `web` lines), `extra` config and two cameras
    sending `clip`."""
    port = free_port()
    with SimCameraServer(clip_cache, cameras=2, user="admin", password=CAMERA_PASSWORD,
                         main=clip, log_path=folder / "cameras.log") as cameras:
        path = write_config(folder / "nvr.toml",
                            {f"cam{n}": cameras.url(n, "main") for n in (1, 2)},
                            segment_seconds=10, extra=web_table(port) + web + extra)
        with started_box(path, port) as box:
            box.cameras = cameras
            yield box


def web_table(port: int) -> str:
    return f'[web]\nlisten = "127.0.0.1:{port}"\n'


@contextmanager
def started_box(path: Path, port: int) -> Iterator[Box]:
    """`nvr-edge run` on the config at `path` (whose [web] listens on `port`), installed
    plugins loaded, once the web server answers; on leaving, it must stop cleanly (the
    server's shutdown must not hold it up)."""
    # the sections the tests' configs use: the web plugin's and the encoders' (rung budget)
    config = load_config(path, readers={**WebPlugin().nvr_config_sections(),
                                        **encoder_sections()})
    app = Appliance(path, path.parent / "app.log", plugins=True).start()
    try:
        client = Client(port)
        wait_for(lambda: answers(client), 60, "the web server")
        yield Box(app, config, client)
        assert app.stop() == 0
        assert "stopped cleanly" in app.log
    finally:
        app.__exit__(None, None, None)


def answers(client: Client) -> bool:
    try:
        return client.get("/healthz").status == 200
    except OSError:
        return False


def error_of(reply: Reply, status: int) -> str:
    assert reply.status == status, (reply.status, reply.body[:300])
    message = reply.json()["error"]
    assert isinstance(message, str) and message
    if status in (401, 403):
        assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="nvr-edge"')
    return message


def closed_segment(box: Box, camera: str = "cam1") -> dict[str, Any]:
    token = box.token(["playback"], [camera])
    return wait_for(lambda: box.get(f"/api/segments?camera={camera}", token)
                    .json()["segments"], 90, "a closed segment")[0]


def file_bytes(box: Box, segment_id: int) -> bytes:
    """The segment's file as the catalog names it (read again if the mover moved it)."""
    from nvr_edge.appliance.run import opened_catalog

    for _ in range(3):
        with opened_catalog(box.config) as catalog:
            path = next(s.path for s in catalog.segments(SegmentQuery(camera="cam1"))
                        if s.id == segment_id)
        try:
            return Path(path).read_bytes()
        except FileNotFoundError:
            time.sleep(0.5)
    raise AssertionError(f"segment {segment_id}'s file cannot be read")


def streaming(box: Box, camera: str = "cam1") -> bool:
    """Does the relay have the camera's live stream (GET /api/cameras says)?"""
    listed = box.get("/api/cameras", box.token(["view"], "*")).json()["cameras"]
    return any(c["id"] == camera and c["live"]["streaming"] for c in listed)


def base(box: Box) -> str:
    return f"http://127.0.0.1:{box.http.port}"


def viewers_now(box: Box, camera: str = "cam1") -> float | None:
    reply = box.get("/metrics", box.token(["admin"], "*"))
    return value(parse(reply.body.decode())[1], "nvr_live_viewers", camera=camera)


def offer_sdp() -> str:
    async def make() -> str:
        pc, _ = h264_offerer()
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


def probe(data: bytes, folder: Path) -> dict[str, dict[str, Any]]:
    """Every stream of the file, by codec, its frames decoded and counted by ffprobe."""
    path = folder / "probe.mp4"
    path.write_bytes(data)
    done = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                           "stream=codec_name,width,height,nb_read_frames", "-of", "json",
                           str(path)], capture_output=True, text=True, timeout=60, check=True)
    assert not done.stderr.strip(), done.stderr
    return {s["codec_name"]: s for s in json.loads(done.stdout)["streams"]}
