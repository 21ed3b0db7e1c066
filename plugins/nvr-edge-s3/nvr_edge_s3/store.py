"""One bucket, through the minio client: paced uploads that prove what the store holds.

Proof is the ETag the store computes from the bytes it received, compared with the same
digest computed here from the local file: MD5 for a single PUT, the MD5 of the parts' MD5s
and `-<parts>` for a multipart upload. The crc32 the catalog keeps rides along as
`x-amz-meta-crc32`, so `check` can compare a copy without reading it back.

A store whose ETag is not that MD5 (SSE-KMS or SSE-C encryption, some gateways) is found
out on the first copy whose size is right but whose ETag is not: the copy is read back and
its crc32 compared with the file's. If they agree, the bucket's ETags are taken for what
they are and every later copy is proven by reading it back (twice the traffic, said once
in the log); if not, the copy is damaged and uploaded again."""

from __future__ import annotations

import hashlib
import logging
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import urllib3
from minio import Minio
from minio.error import S3Error

from nvr_edge import RateLimiter, crc32_text

from .settings import S3Settings

log = logging.getLogger("nvr_edge_s3")

PACE_CHUNK = 256 * 1024  # the pace is kept per this much read, not per part
# S3 error codes that no retry will fix until an operator acts.
CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
                    "InvalidToken", "ExpiredToken", "AllAccessDisabled"}
BUCKET_CODES = {"NoSuchBucket"}
# Everything upload() and stat() ask of the store, as IAM actions: a PUT or a multipart
# upload (create, parts, complete: all s3:PutObject), the abort of one cut short and HEAD.
# Never a delete, a listing or a bucket call: a fleet box's key needs no more.
REQUIRED_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject")


class StoreError(RuntimeError):
    """An upload or look-up failed; `credentials` True when only an operator can fix it.
    The message names the problem and the endpoint, never a key."""

    def __init__(self, message: str, credentials: bool = False) -> None:
        super().__init__(message)
        self.credentials = credentials


class VerifyError(StoreError):
    """The store holds something other than the local file."""


@dataclass(frozen=True)
class StoredObject:
    size: int
    etag: str
    crc32: str | None


def expected_etag(path: Path, part_size: int) -> str:
    """The ETag an S3 store gives `path` uploaded in parts of `part_size` (one part: plain
    MD5)."""
    digests = []
    with open(path, "rb") as f:
        while True:
            part = hashlib.md5(usedforsecurity=False)
            left = part_size
            while left and (block := f.read(min(left, 1 << 20))):
                part.update(block)
                left -= len(block)
            if left == part_size and digests:
                break  # end of file on a part boundary
            digests.append(part.digest())
            if left:
                break
    if len(digests) == 1:
        return digests[0].hex()
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


class PacedReader:
    """A file whose reads keep to the bandwidth cap (the client reads a part at a time)."""

    def __init__(self, f: BinaryIO, limiter: RateLimiter, stop: threading.Event) -> None:
        self.f, self.limiter, self.stop = f, limiter, stop

    def read(self, n: int = -1) -> bytes:
        if self.stop.is_set():
            raise StoreError("stopping")  # the half-sent upload is abandoned, not completed
        block = self.f.read(PACE_CHUNK if n < 0 else min(n, PACE_CHUNK))
        self.limiter.pace(len(block), self.stop)
        return block


class Bucket:
    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.part_size = settings.part_size_mb * 1024 * 1024
        self.client = Minio(settings.host, access_key=settings.access_key,
                            secret_key=settings.secret_key, secure=settings.secure,
                            region=settings.region, http_client=urllib3.PoolManager(
                                # our own backoff retries; the client's would hide an outage
                                retries=urllib3.Retry(total=0),
                                timeout=urllib3.Timeout(connect=10, read=120)))
        self.etags_are_md5 = True  # until a copy proves otherwise (see the module's doc)

    @property
    def where(self) -> str:
        return f"{self.settings.endpoint}/{self.settings.bucket}"

    def upload(self, path: Path, key: str, crc32: str, limiter: RateLimiter,
               stop: threading.Event) -> StoredObject:
        """Copy `path` to `key` and prove it; StoreError when the copy is not proven."""
        size = path.stat().st_size
        try:
            with open(path, "rb") as f:
                self.client.put_object(self.settings.bucket, key, PacedReader(f, limiter, stop),
                                       size, content_type="video/mp4",
                                       metadata={"crc32": crc32}, part_size=self.part_size,
                                       num_parallel_uploads=1)  # one part in memory
        except S3Error as exc:
            raise self._error("upload", key, exc) from None
        except StoreError:
            raise
        except Exception as exc:  # urllib3's connection errors and the like
            raise StoreError(f"upload of {key} to {self.where} failed: "
                             f"{network_reason(exc)}") from None
        stored = self.stat(key)
        if stored is None:
            raise VerifyError(f"{key} is not in {self.where} after its upload")
        if stored.size != size:
            raise VerifyError(f"{key} in {self.where} differs from the local file "
                              f"({stored.size} bytes; here {size})")
        if self.etags_are_md5 and stored.etag == expected_etag(path, self.part_size):
            return stored
        read_back = self.read_crc32(key)
        if read_back != crc32:
            raise VerifyError(f"{key} in {self.where} differs from the local file (read "
                              f"back: {read_back}; here {crc32})")
        if self.etags_are_md5:  # the bytes are right, so the ETag is no MD5 of them
            self.etags_are_md5 = False
            log.warning("s3: %s answers ETags that are not the MD5 of the content "
                        "(encryption?): copies are proven by reading them back", self.where)
        return stored

    def read_crc32(self, key: str) -> str:
        """The crc32 of the object at `key`, read whole."""
        crc = 0
        try:
            response = self.client.get_object(self.settings.bucket, key)
            try:
                for block in response.stream(PACE_CHUNK):
                    crc = zlib.crc32(block, crc)
            finally:
                response.close()
                response.release_conn()
        except S3Error as exc:
            raise self._error("read-back", key, exc) from None
        except Exception as exc:
            raise StoreError(f"read-back of {key} from {self.where} failed: "
                             f"{network_reason(exc)}") from None
        return crc32_text(crc)

    def stat(self, key: str) -> StoredObject | None:
        """What the store holds at `key`, or None if nothing."""
        try:
            info = self.client.stat_object(self.settings.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise self._error("look-up", key, exc) from None
        except Exception as exc:
            raise StoreError(f"look-up of {key} in {self.where} failed: "
                             f"{network_reason(exc)}") from None
        meta = {k.lower(): v for k, v in (info.metadata or {}).items()}
        return StoredObject(int(info.size or 0), (info.etag or "").strip('"'),
                            meta.get("x-amz-meta-crc32"))

    def _error(self, what: str, key: str, exc: S3Error) -> StoreError:
        if exc.code in CREDENTIAL_CODES:
            hint = "check [s3] access_key and secret_key"
            if exc.code == "AccessDenied":  # signed right: its policy may not cover the object
                hint += (f", and that the key's policy allows {', '.join(REQUIRED_ACTIONS)} "
                         f"on {self.settings.bucket}/{key}")
            return StoreError(f"{self.where} refused the credentials ({exc.code}) for the "
                              f"{what} of {key}: {hint}", credentials=True)
        if exc.code in BUCKET_CODES:
            return StoreError(f"{self.where}: the bucket does not exist ({exc.code})",
                              credentials=True)
        return StoreError(f"{what} of {key} in {self.where} failed: {exc.code}")


def network_reason(exc: Exception) -> str:
    """What went wrong on the way, in a few words: urllib3 wraps the socket's error (e.g.
    "[Errno 111] Connection refused") in a MaxRetryError whose text repeats the URL."""
    reason = getattr(exc, "reason", None) or exc
    words = str(reason).rsplit(": ", 1)[-1].strip()
    return f"{type(exc).__name__} ({words})" if words else type(exc).__name__
