"""The bundle downloader against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr_edge.update.download import CHUNK, DownloadError, bundle_size, download

from .server import BundleServer, serve

DATA = os.urandom(5 * CHUNK + 1234)
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture(scope="module")
def server() -> Iterator[BundleServer]:
    with serve({"b.raucb": DATA}) as running:
        yield running


def test_downloads_with_progress_and_the_hash(server: BundleServer, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    got = download(f"{server.url}/b.raucb", tmp_path / "b.raucb", sha256=SHA.upper(),
                   progress=lambda done, total: seen.append((done, total)))
    assert (got.bytes, got.sha256) == (len(DATA), SHA)
    assert (tmp_path / "b.raucb").read_bytes() == DATA
    assert seen[-1] == (len(DATA), len(DATA))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 6
    assert bundle_size(f"{server.url}/b.raucb") == len(DATA)
    assert list(tmp_path.iterdir()) == [tmp_path / "b.raucb"]


def test_user_and_password_in_the_url_go_as_basic_auth(server: BundleServer,
                                                         tmp_path: Path) -> None:
    url = server.url.replace("http://", "http://fleet:s%40cret@") + "/b.raucb"
    assert download(url, tmp_path / "b.raucb").bytes == len(DATA)
    assert server.requests[-1] == ("GET", "/b.raucb", "Basic ZmxlZXQ6c0BjcmV0")


def test_a_hash_mismatch_is_named_and_nothing_is_kept(server: BundleServer,
                                                      tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=f"sha256 mismatch: the bundle hashes to {SHA}"):
        download(f"{server.url}/b.raucb", tmp_path / "b.raucb", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_a_short_read_is_named(server: BundleServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=f"short read: the server sent {len(DATA) // 2} "
                                            f"of {len(DATA)} bytes"):
        download(f"{server.url}/short/b.raucb", tmp_path / "b.raucb")
    assert list(tmp_path.iterdir()) == []


def test_http_errors_and_unreachable_servers_are_named(server: BundleServer,
                                                       tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="the server answered 404"):
        download(f"{server.url}/other.raucb", tmp_path / "b.raucb")
    with pytest.raises(DownloadError, match="the server answered 404"):
        bundle_size(f"{server.url}/other.raucb")
    closed = BundleServer({})  # bound, never served: connections are refused
    url = closed.url.replace("http://", "http://fleet:secret@") + "/b.raucb"
    closed.httpd.server_close()
    with pytest.raises(DownloadError, match="refused") as caught:
        download(url, tmp_path / "b.raucb")
    assert "secret" not in str(caught.value)


def test_stops_before_the_disk_drops_under_the_reserve(server: BundleServer,
                                                       tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(DownloadError, match="ran short of space after 0 MiB"):
        download(f"{server.url}/b.raucb", tmp_path / "b.raucb", keep_free=free)
    assert list(tmp_path.iterdir()) == []
