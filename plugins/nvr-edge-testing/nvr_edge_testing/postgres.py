"""A throwaway PostgreSQL server for tests: initdb into a temp dir, a free port, loopback only."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from nvr_edge_testing.waiting import accepts, free_port, wait_for


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL is not installed (ci/setup installs it)")


class PostgresServer:
    """initdb refuses to run as root, so as root the server runs as the `postgres` user."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="nvr-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://nvr@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> PostgresServer:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "nvr",
                  "--auth=trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self, durable: bool = False, settings: str = "") -> None:
        """`durable`: commits reach the disk as in production (benchmarks); tests need not.
        `settings`: more `-c name=value` options."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {settings}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")
        wait_for(lambda: accepts(self.port), 30, "PostgreSQL to listen", interval=0.2)

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                  "stop")

    def new_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://nvr@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():  # a test may have stopped it
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
