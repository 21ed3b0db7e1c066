"""One bucket, many boxes: each box's key may write only under its own prefix and delete
nothing. Against a real SeaweedFS S3 gateway whose keys carry exactly the IAM actions
the store says it needs (`REQUIRED_ACTIONS`), so a new call in store.py that needs more
fails here first."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from nvr_edge_s3.keys import object_key
from nvr_edge_s3.plugin import S3Plugin
from nvr_edge_s3.settings import S3Settings
from nvr_edge_s3.store import REQUIRED_ACTIONS, Bucket, StoreError
from nvr_edge_testing.appliance import RunningAppliance, running_supervisor
from nvr_edge_testing.configs import write_toml
from nvr_edge_testing.hooks import HookRecorder
from nvr_edge_testing.s3 import ACCESS_KEY, SECRET_KEY, SeaweedS3, User
from nvr_edge_testing.waiting import wait_for

from nvr_edge import RateLimiter, file_crc32
from nvr_edge.appliance.run import opened_catalog

pytestmark = pytest.mark.slow
MB = 1024 * 1024
BOXES = {"box-a": "box-a-Secret-11", "box-b": "box-b-Secret-22",
         "test-box": "test-box-Secret-33"}  # test-box: the appliance's device id
LEGACY_KEY, LEGACY_SECRET = "box-legacy", "box-legacy-Secret-44"


def box_policy(bucket: str, prefix: str, actions: tuple[str, ...] = REQUIRED_ACTIONS
               ) -> dict[str, Any]:
    """The IAM policy docs/STORAGE.md gives a fleet box: `actions` on its prefix only."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": list(actions),
        "Resource": [f"arn:aws:s3:::{bucket}/{prefix}/*"]}]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A bucket `nvr` for boxes under `site/<box>/`: the admin key, one key per box
    scoped by an IAM policy, and one scoped by SeaweedFS's own actions. One store for
    the module (weed takes ~10 s to stop): each test writes under a camera of its own."""
    tmp_path = tmp_path_factory.mktemp("fleet")
    users: dict[str, str | User] = {ACCESS_KEY: SECRET_KEY}
    users |= {box: User(secret, policy=box_policy("nvr", f"site/{box}"))
              for box, secret in BOXES.items()}
    users[LEGACY_KEY] = User(LEGACY_SECRET, actions=(
        "Write:nvr/site/box-legacy/*", "Read:nvr/site/box-legacy/*"))
    store = SeaweedS3(tmp_path / "seaweedfs", users).start(buckets=("nvr",))
    try:
        yield store
    finally:
        store.stop()


def box_bucket(store: SeaweedS3, box: str, secret: str = "") -> Bucket:
    return Bucket(S3Settings(endpoint=store.url, bucket="nvr", prefix=f"site/{box}",
                             access_key=box, secret_key=secret or BOXES[box],
                             part_size_mb=5, rate_mb_s=1000.0))


def box_client(store: SeaweedS3, box: str, secret: str = "") -> Minio:
    # with the region given, as Bucket does: no GetBucketLocation, which a box may not do
    return Minio(f"127.0.0.1:{store.port}", access_key=box, secret_key=secret or BOXES[box],
                 secure=False, region="us-east-1")


def upload(bucket: Bucket, path: Path, key: str, limiter: RateLimiter | None = None) -> Any:
    return bucket.upload(path, key, file_crc32(path), limiter or RateLimiter(1e12),
                         threading.Event())


def write(folder: Path, name: str, size: int) -> Path:
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


class StopAfter(RateLimiter):
    """No pace; sets the stop event once `limit` bytes were read, as a shutdown does in
    the middle of an upload."""

    def __init__(self, limit: int) -> None:
        super().__init__(1e12)
        self.limit = limit

    def pace(self, n: int, stop: threading.Event) -> None:
        super().pace(n, stop)
        if self.sent >= self.limit:
            stop.set()


def incomplete_uploads(store: SeaweedS3, prefix: str) -> list[str]:
    admin = store.client()
    # minio has no public call for it; the store's own listing, as the admin
    result = admin._list_multipart_uploads("nvr", prefix=prefix)
    return [u.object_name for u in result.uploads]


def key(box: str, camera: str, hhmmss: str = "120000", root: str = "site") -> str:
    """An object key as the plugin makes them; each test takes a camera of its own."""
    return f"{root}/{box}/{camera}/2026-11-28/{hhmmss}.mp4"


def test_a_box_uploads_and_verifies_under_its_own_prefix(fleet: SeaweedS3,
                                                         tmp_path: Path) -> None:
    bucket = box_bucket(fleet, "box-a")
    small = write(tmp_path, "small.mp4", 300_000)
    large = write(tmp_path, "large.mp4", 12 * MB + 7)
    assert upload(bucket, small, key("box-a", "up")).size == 300_000
    stored = upload(bucket, large, key("box-a", "up", "120010"))
    assert stored.etag.endswith("-3") and stored.crc32 == file_crc32(large)  # multipart
    assert fleet.objects("nvr", "site/box-a/up/") == {
        key("box-a", "up"): small.read_bytes(),
        key("box-a", "up", "120010"): large.read_bytes()}
    # a missing copy reads as missing, not as refused: `check` can tell the two apart
    assert bucket.stat(key("box-a", "up", "999999")) is None


def test_an_upload_cut_short_is_aborted_with_the_box_rights(fleet: SeaweedS3,
                                                            tmp_path: Path) -> None:
    large = write(tmp_path, "large.mp4", 12 * MB)
    with pytest.raises(StoreError) as caught:  # stopped in part two
        upload(box_bucket(fleet, "box-a"), large, key("box-a", "cut"), StopAfter(6 * MB))
    assert str(caught.value) == "stopping" and not caught.value.credentials
    assert incomplete_uploads(fleet, "site/box-a/cut/") == []  # the abort was allowed
    assert fleet.objects("nvr", "site/box-a/cut/") == {}


@pytest.mark.parametrize("target", [
    key("box-b", "out"),  # another box's prefix
    key("box-a2", "out"),  # a prefix that only starts like its own
    key("box-a", "out", root="elsewhere")])
@pytest.mark.parametrize("size", [300_000, 12 * MB])  # single PUT and multipart
def test_a_write_outside_the_box_prefix_is_refused(fleet: SeaweedS3, tmp_path: Path,
                                                   target: str, size: int) -> None:
    path = write(tmp_path, "a.mp4", size)
    with pytest.raises(StoreError) as caught:
        upload(box_bucket(fleet, "box-a"), path, target)
    message = str(caught.value)
    assert caught.value.credentials
    assert f"refused the credentials (AccessDenied) for the upload of {target}" in message
    assert f"allows {', '.join(REQUIRED_ACTIONS)} on nvr/{target}" in message
    assert BOXES["box-a"] not in message
    assert fleet.objects("nvr", target) == {}
    assert incomplete_uploads(fleet, target) == []


def test_a_box_cannot_look_at_another_box_copies(fleet: SeaweedS3, tmp_path: Path) -> None:
    theirs = key("box-b", "peek")
    upload(box_bucket(fleet, "box-b"), write(tmp_path, "b.mp4", 1000), theirs)
    with pytest.raises(StoreError) as caught:
        box_bucket(fleet, "box-a").stat(theirs)
    assert caught.value.credentials and "(AccessDenied) for the look-up" in str(caught.value)


def test_a_box_cannot_delete_its_own_copies(fleet: SeaweedS3, tmp_path: Path) -> None:
    path = write(tmp_path, "a.mp4", 300_000)
    own = key("box-a", "del")
    upload(box_bucket(fleet, "box-a"), path, own)
    client = box_client(fleet, "box-a")
    with pytest.raises(S3Error) as caught:
        client.remove_object("nvr", own)
    assert caught.value.code == "AccessDenied"
    errors = list(client.remove_objects("nvr", [DeleteObject(own)]))  # batch delete
    assert [(e.name, e.code) for e in errors] == [(own, "AccessDenied")]
    assert fleet.objects("nvr", "site/box-a/del/") == {own: path.read_bytes()}


def test_seaweedfs_own_actions_scope_writes_but_allow_delete(fleet: SeaweedS3,
                                                             tmp_path: Path) -> None:
    """`Write:<bucket>/<prefix>/*` keeps a box in its prefix, but SeaweedFS lets `Write`
    delete too: hence the IAM policy form in docs/STORAGE.md."""
    bucket = box_bucket(fleet, LEGACY_KEY, LEGACY_SECRET)
    path = write(tmp_path, "a.mp4", 6 * MB)
    own = key(LEGACY_KEY, "legacy")
    assert upload(bucket, path, own).etag.endswith("-2")
    with pytest.raises(StoreError) as caught:
        upload(bucket, path, key("box-a", "legacy"))
    assert caught.value.credentials
    assert fleet.objects("nvr", key("box-a", "legacy")) == {}
    box_client(fleet, LEGACY_KEY, LEGACY_SECRET).remove_object("nvr", own)
    assert fleet.objects("nvr", own) == {}


def box_table(store: SeaweedS3, box: str, prefix: str) -> dict[str, Any]:
    return {"endpoint": store.url, "bucket": "nvr", "prefix": prefix, "access_key": box,
            "secret_key": BOXES[box], "retry_min_s": 0.2, "retry_max_s": 1.0,
            "rate_mb_s": 20.0}


def test_the_appliance_copies_and_checks_with_its_box_key(
        tmp_path: Path, nvr_config: dict[str, Any], fleet: SeaweedS3) -> None:
    nvr_config["s3"] = box_table(fleet, "test-box", "site")  # keys site/test-box/...
    path = write_toml(tmp_path / "nvr-edge.toml", nvr_config)
    hooks = HookRecorder()
    with running_supervisor(path, {"s3": S3Plugin()}, installed=True,
                            hooks=hooks) as supervisor:
        appliance = RunningAppliance(supervisor, path)
        wait_for(lambda: len(copied(appliance.config)) >= 2, 90, "two verified copies")
        copies = copied(appliance.config)
        result = appliance.cli("check", "--json")  # HEAD of every copy, with the box's key
        alerts = [c.alert.code for c in hooks.getcalls("nvr_alert")]
    assert not [a for a in alerts if a.startswith("s3_")], alerts
    assert not [f for f in json.loads(result.stdout)["findings"]
                if f["kind"].startswith("object")], result.stdout
    objects = fleet.objects("nvr", "site/test-box/")
    for copy in copies:
        assert copy.object_key == object_key("site", "test-box", copy.segment)
        assert objects[copy.object_key] == Path(copy.segment.path).read_bytes()


def test_a_box_configured_outside_its_prefix_alerts_and_keeps_recording(
        tmp_path: Path, nvr_config: dict[str, Any], fleet: SeaweedS3,
        caplog: pytest.LogCaptureFixture) -> None:
    nvr_config["s3"] = box_table(fleet, "test-box", "other-site")  # rights: site/test-box/
    hooks = HookRecorder()
    caplog.set_level(logging.DEBUG)
    with running_supervisor(write_toml(tmp_path / "nvr-edge.toml", nvr_config),
                            {"s3": S3Plugin()}, installed=True, hooks=hooks):
        alert = wait_for(lambda: [c.alert for c in hooks.getcalls("nvr_alert")
                                  if c.alert.code == "s3_credentials"], 60,
                         "the credentials alert")[0]
        closed = len(hooks.getcalls("nvr_segment_closed"))
        hooks.wait_for("nvr_segment_closed", closed + 1, 30)  # recording goes on
    assert "refused the credentials (AccessDenied) for the upload of other-site/test-box/" \
        in alert.message
    assert "policy allows s3:PutObject" in alert.message
    for text in (alert.message, caplog.text):
        assert BOXES["test-box"] not in text
    assert fleet.objects("nvr", "other-site/") == {}


def copied(config: Any) -> list[Any]:
    with opened_catalog(config) as catalog:
        return catalog.object_copies()
