"""The RTSP plugin's test appliance: simulated cameras, the appliance with the restream, and
what tests ask of it (URLs, tokens, the status part)."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nvr_edge_rtsp.plugin import RtspPlugin
from nvr_edge_testing.appliance import running_supervisor
from nvr_edge_testing.configs import appliance_document, write_toml
from nvr_edge_testing.pytest_plugin import CAMERA_PASSWORD
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.simcam.clip import Clip, ensure_clip
from nvr_edge_web.plugin import WebPlugin

USER, PASSWORD = "viewer", "rtsp-Pw-71-secret"


@dataclass
class Restream:
    port: int
    supervisor: Any
    config_path: Path
    cameras: SimCameraServer
    plugin: RtspPlugin

    def status(self) -> dict[str, Any]:
        server = self.plugin.server
        assert server is not None
        return server.status()

    def basic(self, user: str = USER, password: str = PASSWORD) -> dict[str, str]:
        raw = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}

    def url(self, path: str, user: str | None = USER, password: str = PASSWORD,
            query: str = "") -> str:
        auth = f"{user}:{password}@" if user is not None else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/{path}{query}"

    def token(self, cameras: list[str] | str = "*", actions: tuple[str, ...] = ("view",),
              ttl_s: int = 600) -> str:
        from nvr_edge_web.auth import authenticator_for

        return authenticator_for(self.supervisor.config).issue("tester", actions, cameras, ttl_s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_restream(tmp: Path, clip_cache: Path, clip: Clip,
                     rtsp: dict[str, Any] | None = None) -> Iterator[Restream]:
    """cam1: main 640x360 + sub 320x180 (live on demand); cam2: main only (always);
    the [rtsp] server on a free port with one user and tokens (`rtsp`: more settings)."""
    sub_clip = ensure_clip(clip_cache, width=320, height=180, bitrate_kbps=300, seconds=4)
    port = free_port()
    with SimCameraServer(clip_cache, cameras=2, user="admin", password=CAMERA_PASSWORD,
                         main=clip, sub=sub_clip, log_path=tmp / "cameras.log") as cams:
        document = appliance_document({"cam1": cams.url(1), "cam2": cams.url(2)})
        document["cameras"][0].update(sub=cams.url(1, "sub"), live="on_demand")
        document["rtsp"] = {"listen": "127.0.0.1", "port": port,
                            "users": [{"name": USER, "password": PASSWORD}], **(rtsp or {})}
        path = write_toml(tmp / "nvr.toml", document)
        plugin = RtspPlugin()
        # the web plugin (no [web]: no server) issues and checks the tokens
        with running_supervisor(path, plugins={"rtsp": plugin, "web": WebPlugin()}) \
                as supervisor:
            yield Restream(port, supervisor, path, cams, plugin)
