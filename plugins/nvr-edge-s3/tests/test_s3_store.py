"""The bucket client against a real SeaweedFS S3 gateway: single and multipart uploads
proven by the store's own ETag, wrong credentials named without the secret, the config
section, the object key."""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import threading
from pathlib import Path

import pytest
from nvr_edge_s3.keys import object_key
from nvr_edge_s3.settings import S3Settings, read_s3
from nvr_edge_s3.store import (
    Bucket,
    StoredObject,
    StoreError,
    VerifyError,
    expected_etag,
    network_reason,
)
from nvr_edge_testing.s3 import ACCESS_KEY, SECRET_KEY, SeaweedS3
from nvr_edge_testing.waiting import free_port

from nvr_edge import ConfigTable, RateLimiter, SegmentRecord, file_crc32

MB = 1024 * 1024


def settings_for(store: SeaweedS3, **kw: object) -> S3Settings:
    fields: dict = dict(endpoint=store.url, bucket="nvr", access_key=ACCESS_KEY,
                        secret_key=SECRET_KEY, part_size_mb=5, rate_mb_s=1000.0)
    fields.update(kw)
    return S3Settings(**fields)


def upload(bucket: Bucket, path: Path, key: str):
    return bucket.upload(path, key, file_crc32(path), RateLimiter(1e12), threading.Event())


@pytest.mark.slow
def test_single_and_multipart_uploads_are_proven_by_the_store(nvr_s3: SeaweedS3,
                                                             tmp_path: Path) -> None:
    bucket = Bucket(settings_for(nvr_s3))
    files = {"small.mp4": os.urandom(300_000), "exact.mp4": os.urandom(5 * MB),
             "large.mp4": os.urandom(12 * MB + 7)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        stored = upload(bucket, tmp_path / name, f"t/{name}")
        assert stored.size == len(data) and stored.crc32 == file_crc32(tmp_path / name)
    assert stored.etag.endswith("-3")  # the large one went in three parts
    assert nvr_s3.objects("nvr", "t/") == {f"t/{n}": d for n, d in files.items()}
    assert bucket.stat("t/none.mp4") is None


class OpaqueEtags(Bucket):
    """The real bucket, but answering ETags that are not the content's MD5, as an
    encrypting store (SSE-KMS, SSE-C) does; SeaweedFS here does not encrypt, so this one
    answer is the only thing made up. `damage` overwrites the object in the real store
    just before the proof, as a store that lost bytes would."""

    damage: bytes | None = None

    def stat(self, key: str) -> StoredObject | None:
        if self.damage is not None:
            self.client.put_object(self.settings.bucket, key, io.BytesIO(self.damage),
                                   len(self.damage))
        found = super().stat(key)
        return None if found is None else dataclasses.replace(found, etag="kms-" + found.etag)


@pytest.mark.slow
def test_a_store_with_opaque_etags_is_proven_by_reading_back(
        nvr_s3: SeaweedS3, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bucket = OpaqueEtags(settings_for(nvr_s3))
    data = os.urandom(700_000)
    (tmp_path / "a.mp4").write_bytes(data)
    stored = upload(bucket, tmp_path / "a.mp4", "opaque/a.mp4")
    assert stored.size == len(data) and not bucket.etags_are_md5
    assert "copies are proven by reading them back" in caplog.text
    # a damaged copy of the right size is still caught, by its bytes
    bucket.damage = os.urandom(len(data))
    with pytest.raises(VerifyError, match="read back"):
        upload(bucket, tmp_path / "a.mp4", "opaque/b.mp4")


def test_network_errors_are_named_in_a_few_words() -> None:
    import urllib3

    try:
        urllib3.PoolManager(retries=urllib3.Retry(total=0)).request(
            "GET", f"http://127.0.0.1:{free_port()}/")
    except Exception as exc:
        assert network_reason(exc) == "MaxRetryError ([Errno 111] Connection refused)"
    else:
        pytest.fail("nothing listens there")


@pytest.mark.slow
def test_wrong_credentials_are_named_without_the_secret(nvr_s3: SeaweedS3,
                                                        tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x" * 1000)
    for wrong in ({"secret_key": "Wrong-Secret-77"}, {"access_key": "nobody-key"}):
        bucket = Bucket(settings_for(nvr_s3, **wrong))
        with pytest.raises(StoreError) as caught:
            upload(bucket, tmp_path / "a.mp4", "t/a.mp4")
        assert caught.value.credentials
        assert "refused the credentials" in str(caught.value)
        for secret in ("Wrong-Secret-77", SECRET_KEY):
            assert secret not in str(caught.value)
    assert nvr_s3.objects("nvr") == {}


def test_unreachable_store_is_a_plain_store_error(tmp_path: Path) -> None:
    from nvr_edge_testing.waiting import free_port

    (tmp_path / "a.mp4").write_bytes(b"x")
    bucket = Bucket(S3Settings(endpoint=f"http://127.0.0.1:{free_port()}", bucket="nvr",
                               access_key="a", secret_key="sekrit-55"))
    with pytest.raises(StoreError) as caught:
        upload(bucket, tmp_path / "a.mp4", "t/a.mp4")
    assert not caught.value.credentials and "sekrit-55" not in str(caught.value)


@pytest.mark.parametrize("size", [0, 1, 5 * MB - 1, 5 * MB, 5 * MB + 1, 10 * MB])
def test_expected_etag_counts_parts_as_s3_does(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"\x01" * size)
    etag = expected_etag(path, 5 * MB)
    parts = -(-size // (5 * MB))
    assert ("-" in etag) == (parts > 1) and (parts <= 1 or etag.endswith(f"-{parts}"))


def test_object_key_is_prefix_device_camera_date_time() -> None:
    seg = SegmentRecord(camera="yard", stream="main", start_ms=1_700_000_123_456,
                        end_ms=1_700_000_133_456, bytes=1, path="/c/x.mp4", tier="cache",
                        video_codec="h264", width=1, height=1, has_audio=False)
    assert object_key("nvr", "box-1", seg) == "nvr/box-1/yard/2023-11-14/221523.mp4"
    sub = SegmentRecord.from_dict({**seg.to_dict(), "stream": "sub"})
    assert object_key("a/b", "box-1", sub) == "a/b/box-1/yard/2023-11-14/221523-sub.mp4"


def table(data: dict, present: bool = True) -> ConfigTable:
    t = ConfigTable(data, "s3", "test.toml", Path("."))
    t.present = present
    return t


def test_the_section_is_checked() -> None:
    good = {"endpoint": "https://s3.example.com:9000", "bucket": "cams",
            "access_key": "AK", "secret_key": "SK", "cameras": ["cam1"]}
    settings = read_s3(table(good))
    assert settings is not None and settings.secure and settings.host == "s3.example.com:9000"
    assert settings.archives("cam1") and not settings.archives("cam2")
    for bad, words in (({"endpoint": "ftp://x"}, "endpoint"),
                       ({"endpoint": "https://u:p@x"}, "credentials go in"),
                       ({"bucket": "No_Such"}, "bucket"),
                       ({"prefix": "a//b"}, "prefix"),
                       ({"secret_key": ""}, "secret_key"),
                       ({"part_size_mb": 1}, "part_size_mb")):
        with pytest.raises(Exception, match=words):
            read_s3(table({**good, **bad}))
    assert read_s3(table({}, present=False)) is None


def test_reads_keep_to_the_bandwidth_cap() -> None:
    import io
    import time

    from nvr_edge_s3.store import PacedReader

    reader = PacedReader(io.BytesIO(b"\0" * MB), RateLimiter(4 * MB), threading.Event())
    started = time.monotonic()
    got = 0
    while block := reader.read(5 * MB):  # the client asks for a whole part at once
        assert len(block) <= 256 * 1024
        got += len(block)
    assert got == MB and time.monotonic() - started >= 0.2  # 1 MB at 4 MB/s: 0.25 s
    stop = threading.Event()
    stop.set()
    with pytest.raises(StoreError):
        PacedReader(io.BytesIO(b"x"), RateLimiter(1.0), stop).read()


@pytest.mark.slow
def test_the_test_store_starts_although_a_port_of_its_own_was_taken(tmp_path: Path) -> None:
    """weed dies when any of its eight ports is taken while it comes up (free_port picks are
    not reservations; a CI setup met it): the kit starts it again on fresh ports."""
    store = SeaweedS3(tmp_path / "weed")
    taken = store.ports["volume.port"]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        try:
            store.start(buckets=("nvr",))
            assert store.process is not None and store.process.poll() is None
            assert store.ports["volume.port"] != taken
            store.client().put_object("nvr", "probe", io.BytesIO(b"x"), 1)
            assert store.objects("nvr") == {"probe": b"x"}
        finally:
            store.stop()
    assert b"address already in use" in (tmp_path / "weed" / "weed.log").read_bytes()
