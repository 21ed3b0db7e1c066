"""A throwaway Mosquitto for tests and measurements (its own config, port and folder).

Tests of a plugin talk to a real broker; this starts one on a free loopback port."""

from __future__ import annotations

import getpass
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nvr_edge_testing.processes import tied
from nvr_edge_testing.waiting import accepts, free_port, wait_for

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def create(cls, folder: Path) -> TlsFiles:
        folder.mkdir(parents=True, exist_ok=True)
        files = cls(*(folder / name for name in (
            "ca.pem", "server.pem", "server.key", "client.pem", "client.key")))
        ca_key = folder / "ca.key"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", "/CN=nvr-edge test CA", "-keyout", ca_key, "-out", files.ca)
        for name, cert, key, extra in (
                ("127.0.0.1", files.server_cert, files.server_key, "subjectAltName=IP:127.0.0.1"),
                ("nvr-edge client", files.client_cert, files.client_key,
                 "extendedKeyUsage=clientAuth")):
            request = folder / f"{key.stem}.csr"
            extfile = folder / f"{key.stem}.ext"
            extfile.write_text(extra + "\n")
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                     "-keyout", key, "-out", request)
            _openssl("x509", "-req", "-in", request, "-CA", files.ca, "-CAkey", ca_key,
                     "-CAcreateserial", "-days", "2", "-extfile", extfile, "-out", cert)
        return files


def _openssl(*args: object) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


class Mosquitto:
    """Its own config, persistence (retained messages survive a restart, as on a real
    broker) and log; restartable on the same port to simulate an outage."""

    def __init__(self, folder: Path, *, tls: TlsFiles | None = None,
                 users: dict[str, str] | None = None, max_files: int | None = None,
                 extra: list[str] | None = None) -> None:
        """`tls`: listen with TLS only, and demand a client certificate signed by the CA;
        `users`: demand one of these usernames and passwords; `max_files`: its descriptor
        limit (a connection each: a fleet needs more than the default 1024); `extra`:
        more config lines."""
        self.folder, self.tls, self.max_files = folder, tls, max_files
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1",
                 # Started as root, mosquitto would switch to its own user, which cannot
                 # write our folder: no log, no persistence (sessions lost in a restart).
                 f"user {getpass.getuser()}",
                 "persistence true",
                 f"persistence_location {folder}/",
                 f"log_dest file {folder / 'mosquitto.log'}",
                 "log_type error", "log_type warning", "log_type notice",
                 "max_keepalive 3600"]
        if tls is not None:
            lines += [f"cafile {tls.ca}", f"certfile {tls.server_cert}",
                      f"keyfile {tls.server_key}", "require_certificate true"]
        if users:
            passwd = folder / "passwd"
            passwd.touch(mode=0o600)
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password],
                               check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        lines += extra or []
        self.conf.write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        argv = [MOSQUITTO, "-c", str(self.conf)]
        if self.max_files is not None:
            argv = ["prlimit", f"--nofile={self.max_files}", "--", *argv]
        self.process = subprocess.Popen(tied(argv),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: accepts(self.port), 10, "mosquitto to listen", interval=0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

