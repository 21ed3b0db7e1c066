"""Fetch an update bundle over HTTP(S) to the data partition: progress, the SHA-256 as it
streams, a short read or a hash mismatch named, the free space watched while writing.

A plain blocking client (urllib): it runs on the update's own thread, at a lower CPU
priority than the recorders."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nvr_edge.logs import redact
from nvr_edge.urls import split_url

CHUNK = 256 * 1024
TIMEOUT_S = 30.0  # per connect or read, not for the whole bundle


class DownloadError(Exception):
    """The bundle could not be fetched; the message says why (no password in it)."""


@dataclass(frozen=True)
class Downloaded:
    path: Path
    bytes: int
    sha256: str


def bundle_size(url: str, timeout_s: float = TIMEOUT_S) -> int | None:
    """The size the server announces (HEAD), or None if it does not say."""
    try:
        with urllib.request.urlopen(_request(url, "HEAD"), timeout=timeout_s) as response:
            length = response.headers.get("Content-Length")
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DownloadError(f"cannot reach the bundle's server: {_why(exc)}") from None
    return int(length) if length and length.isdigit() else None


def download(url: str, dest: Path, *, sha256: str | None = None,
             progress: Callable[[int, int | None], None] = lambda done, total: None,
             keep_free: int = 0, timeout_s: float = TIMEOUT_S) -> Downloaded:
    """`url` -> `dest` (written as `dest`.part, fsynced, then renamed). `progress(done,
    total)` after each chunk (total None when unknown). Fails with DownloadError on an HTTP
    error, a short read, a hash other than `sha256`, or when the file system's free space
    would drop under `keep_free`; the partial file is removed."""
    part = dest.with_name(dest.name + ".part")
    try:
        return _fetch(url, dest, part, sha256, progress, keep_free, timeout_s)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _fetch(url: str, dest: Path, part: Path, sha256: str | None,
           progress: Callable[[int, int | None], None], keep_free: int,
           timeout_s: float) -> Downloaded:
    digest = hashlib.sha256()
    done = 0
    total: int | None = None
    try:
        with urllib.request.urlopen(_request(url, "GET"), timeout=timeout_s) as response, \
                open(part, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            while chunk := response.read(CHUNK):
                if shutil.disk_usage(part.parent).free - len(chunk) < keep_free:
                    raise DownloadError(f"the data partition ran short of space after "
                                        f"{done // 2**20} MiB (keeping {keep_free // 2**20} "
                                        "MiB free for recording)")
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress(done, total)
            out.flush()
            os.fsync(out.fileno())
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"the server answered {exc.code} {exc.reason}") from None
    except http.client.IncompleteRead as exc:
        raise DownloadError(f"short read: the server sent {done + len(exc.partial)} of "
                            f"{total} bytes") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise DownloadError(f"download failed after {done} bytes: {_why(exc)}") from None
    if total is not None and done != total:
        raise DownloadError(f"short read: the server sent {done} of {total} bytes")
    got = digest.hexdigest()
    if sha256 is not None and got != sha256.lower():
        raise DownloadError(f"sha256 mismatch: the bundle hashes to {got}, the request "
                            f"said {sha256.lower()}")
    os.replace(part, dest)
    return Downloaded(dest, done, got)


def _request(url: str, method: str) -> urllib.request.Request:
    """urllib takes no user:password@ in a URL: it becomes a Basic Authorization header."""
    parts = split_url(url)
    if parts is None or parts.user is None:
        return urllib.request.Request(url, method=method)
    bare = f"{parts.scheme.lower()}://{parts.hostport}{parts.rest}"
    user = urllib.parse.unquote(parts.user)
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return urllib.request.Request(bare, method=method,
                                  headers={"Authorization": f"Basic {token}"})


def _why(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return redact(str(reason if reason is not None else exc) or type(exc).__name__)
