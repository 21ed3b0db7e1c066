"""A real nginx with the RTMP module on a free loopback port (Debian's libnginx-mod-rtmp)."""

from __future__ import annotations

import getpass
import json
import subprocess
from pathlib import Path
from typing import Any

from nvr_edge_testing.processes import tied
from nvr_edge_testing.waiting import free_port

from tests.helpers import wait_for

RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


class NginxRtmp:
    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "nginx.conf"
        self.conf.write_text(f"""
load_module {RTMP_MODULE};
user {getpass.getuser()};
daemon off;
master_process off;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{self.port};
        application live {{ live on; record off; }}
    }}
}}
""")
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, stream: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{stream}"

    def start(self) -> NginxRtmp:
        command = tied(["nginx", "-p", str(self.folder), "-c", str(self.conf)])
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for(lambda: "start worker" in self.log or "using the" in self.log
                 or self.process.poll() is not None, 10, "nginx to start")
        assert self.process.poll() is None, self.log
        return self

    @property
    def log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def probe(url: str, timeout_s: float = 15) -> dict[str, Any] | None:
    """What ffprobe, an independent reader, finds on the RTMP server (None: nothing)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-rw_timeout", str(int(timeout_s * 1e6)),
         "-show_streams", "-of", "json", url],
        capture_output=True, timeout=timeout_s + 10)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)
