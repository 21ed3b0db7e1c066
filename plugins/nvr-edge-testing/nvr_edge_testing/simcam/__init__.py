"""Simulated IP cameras for tests, demos and benchmarks.

``SimCameraServer`` runs ``server.py`` (a GStreamer RTSP server) under an interpreter
that can import gi, serving pre-encoded clips from ``ensure_clip``::

    with SimCameraServer(cache_dir, cameras=2, user="admin", password="s3cret") as cams:
        cams.url(1)          # rtsp://admin:s3cret@127.0.0.1:<port>/cam1/main

Stdlib only, so it can be imported anywhere in the project.
"""

from __future__ import annotations

import base64
import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Literal
from urllib.parse import quote

from nvr_edge_testing.processes import tied
from nvr_edge_testing.simcam.clip import AudioKind, Clip, ClipError, ensure_clip
from nvr_edge_testing.waiting import free_port

__all__ = [
    "SERVER_SCRIPT", "AudioKind", "Clip", "ClipError", "SimCameraError", "SimCameraServer",
    "ensure_clip",
]

Stream = Literal["main", "sub"]
SERVER_SCRIPT = Path(__file__).with_name("server.py")
DEFAULT_GI_PYTHON = "/usr/bin/python3"
PASSWORD_ENV = "NVR_SIMCAM_PASSWORD"


class SimCameraError(RuntimeError):
    """The simulated camera server did not start or misbehaved."""


class SimCameraServer:
    """A running set of simulated cameras (``/camN/main`` and ``/camN/sub``).

    ``main``/``sub`` default to a 1080p30 4 Mbit/s clip and a 640x360 500 kbit/s clip
    with ``audio``; pass clips from ``ensure_clip`` to use other parameters.
    ``sub_clock=(width, height)`` makes every sub stream a live 30 fps H.264 camera
    showing the wall-clock time (``clockface``), for latency measurements;
    ``clock_codec`` ("hevc", "mjpeg") encodes it to another codec instead.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        cameras: int = 1,
        port: int | None = None,
        host: str = "127.0.0.1",
        user: str | None = None,
        password: str | None = None,
        audio: AudioKind = "aac",
        main: Clip | None = None,
        sub: Clip | None = None,
        sub_clock: tuple[int, int] | None = None,
        clock_codec: str = "h264",
        log_path: Path | None = None,
        python: str | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        if (user is None) != (password is None):
            raise ValueError("user and password go together")
        self.cache_dir = Path(cache_dir)
        self.cameras = cameras
        self.host = host
        self.port = port or 0
        self.user = user
        self.password = password
        self.main = main or ensure_clip(self.cache_dir, audio=audio)
        self.sub_clock = sub_clock
        self.clock_codec = clock_codec
        self.sub = None if sub_clock else sub or ensure_clip(
            self.cache_dir, width=640, height=360, bitrate_kbps=500, audio=audio)
        self.log_path = Path(log_path) if log_path else None
        self.python = python or os.environ.get("NVR_EDGE_GI_PYTHON", DEFAULT_GI_PYTHON)
        self.ready_timeout = ready_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ public API

    def url(self, camera: int, stream: Stream = "main", *, with_credentials: bool = True) -> str:
        if not 1 <= camera <= self.cameras:
            raise ValueError(f"camera must be in 1..{self.cameras}, not {camera}")
        auth = ""
        if with_credentials and self.user is not None and self.password is not None:
            auth = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}@"
        return f"rtsp://{auth}{self.host}:{self.port}/cam{camera}/{stream}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server (on the same port as before after a stop) and wait until
        it answers DESCRIBE."""
        if self.running:
            return
        if not self.port:
            self.port = free_port(self.host)
        if self.log_path is None:
            self.log_path = self.cache_dir / f"simcam-{self.port}.log"
        with open(self.log_path, "ab") as log:
            env = dict(os.environ)
            if self.password is not None:
                env[PASSWORD_ENV] = self.password
            self._proc = subprocess.Popen(
                tied(self._command()), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=log, start_new_session=True, env=env)
        try:
            deadline = time.monotonic() + self.ready_timeout
            self._wait_ready_line(deadline)
            self._wait_describe(deadline)
        except BaseException:
            self.kill()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait; the port is free again when this returns."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL, like pulling the camera's power cable."""
        self._end(signal.SIGKILL, 10.0)

    def __enter__(self) -> SimCameraServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals

    def _command(self) -> list[str]:
        cmd = [self.python, str(SERVER_SCRIPT), "--host", self.host, "--port", str(self.port),
               "--cameras", str(self.cameras), "--main", str(self.main.index_path)]
        if self.sub_clock:
            cmd += ["--sub-clock", "{}x{}".format(*self.sub_clock),
                    "--clock-codec", self.clock_codec]
        elif self.sub is not None:
            cmd += ["--sub", str(self.sub.index_path)]
        if self.user is not None:
            cmd += ["--user", self.user]  # the password goes by environment: argv is public
        return cmd

    def _end(self, sig: signal.Signals, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()

    def _wait_ready_line(self, deadline: float) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        line = _read_line(self._proc.stdout, deadline)
        if not line.startswith(b"READY"):
            self._fail(f"server did not become ready (stdout: {line!r})")

    def _wait_describe(self, deadline: float) -> None:
        last = ""
        while time.monotonic() < deadline:
            try:
                status = self._describe()
            except OSError as exc:
                status = str(exc)
            if status.startswith("RTSP/1.0 200"):
                return
            last = status
            if not self.running:
                break
            time.sleep(0.1)
        self._fail(f"DESCRIBE of {self.url(1, with_credentials=False)} failed: {last}")

    def _describe(self) -> str:
        headers = [f"DESCRIBE {self.url(1, with_credentials=False)} RTSP/1.0", "CSeq: 1",
                   "Accept: application/sdp"]
        if self.user is not None and self.password is not None:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            headers.append(f"Authorization: Basic {token}")
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
            reply = sock.recv(4096).decode(errors="replace")
        return reply.split("\r\n", 1)[0]

    def _fail(self, message: str) -> None:
        rc = self._proc.poll() if self._proc else None
        log = ""
        if self.log_path and self.log_path.exists():
            log = self.log_path.read_text(errors="replace")[-4000:]
        raise SimCameraError(f"{message}; exit code {rc}; server log {self.log_path}:\n{log}")


def _read_line(stream: IO[bytes], deadline: float) -> bytes:
    """Read one line from a pipe without blocking past the deadline."""
    fd = stream.fileno()
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]
