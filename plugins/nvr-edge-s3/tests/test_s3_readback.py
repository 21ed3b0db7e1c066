"""Reading back: a segment whose file left the box for want of space is still on the
timeline and plays from the bucket, whole and by Range, through the web plugin; a store
that cannot serve is a clear 502. The real appliance, web plugin and SeaweedFS."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_s3.plugin import S3Plugin
from nvr_edge_testing.s3 import SeaweedS3
from nvr_edge_testing.waiting import free_port, wait_for
from nvr_edge_web.auth import authenticator_for

from nvr_edge import iso_utc

pytestmark = pytest.mark.slow


@pytest.fixture
def nvr_plugins() -> dict[str, Any]:
    return {"s3": S3Plugin()}


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any], nvr_s3: SeaweedS3) -> dict[str, Any]:
    nvr_config["s3"] = {"endpoint": nvr_s3.url, "bucket": "nvr", "prefix": "site",
                        "access_key": "nvr-test-access", "secret_key": "nvr-test-Secret-93kx",
                        "retry_min_s": 0.2, "retry_max_s": 1.0, "rate_mb_s": 50.0}
    nvr_config["web"] = {"listen": f"127.0.0.1:{free_port()}"}
    return nvr_config


def get(base: str, path: str, token: str, method: str = "GET",
        **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(base + path, method=method, headers={
        "Authorization": f"Bearer {token}", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_segment_offloaded_for_space_plays_from_the_bucket(nvr_appliance: Any,
                                                              nvr_s3: SeaweedS3,
                                                              tmp_path: Path) -> None:
    config = nvr_appliance.config
    base = f"http://{config.sections['web'].listen}"
    token = authenticator_for(config).issue("tester", ["playback"], "*", 600)
    # three verified copies first: with no room left, recording pauses (space floors)
    wait_for(lambda: len(_copies(nvr_appliance)) >= 3, 90, "three verified copies")
    # room runs out: verified segments leave the box, the rest stay (delete_policy archived)
    nvr_appliance.handle.patch_config({"storage": {"cache_min_free_gb": 100_000.0,
                                                   "archive_min_free_gb": 100_000.0}})
    remote = wait_for(lambda: [s for s in nvr_appliance.segments() if s.status == "remote"],
                      90, "a segment kept only in the bucket")[0]
    assert not Path(remote.path).exists()
    with_copy = {c.segment.path: c.object_key for c in _copies(nvr_appliance)}
    expected = nvr_s3.objects("nvr", with_copy[remote.path])[with_copy[remote.path]]
    assert len(expected) == remote.bytes

    status, _, body = get(base, "/api/segments?camera=cam1", token)
    listed = {s["id"]: s for s in json.loads(body)["segments"]}
    assert status == 200 and listed[remote.id]["location"] == "object-store"
    url = f"/api/segments/{remote.id}.mp4"
    status, headers, body = get(base, url, token)
    assert (status, body) == (200, expected)
    assert headers["X-Segment-Location"] == "object-store"
    status, headers, body = get(base, url, token, Range="bytes=100-1123")
    assert (status, body) == (206, expected[100:1124])
    assert headers["Content-Range"] == f"bytes 100-1123/{len(expected)}"
    status, _, body = get(base, url, token, Range="bytes=-500")
    assert (status, body) == (206, expected[-500:])
    status, _, _ = get(base, url, token, Range=f"bytes={len(expected)}-")
    assert status == 416

    # export: three segments joined, the oldest read back from the bucket
    rows = sorted((r for r in nvr_appliance.segments("cam1") if r.status in ("ok", "remote")),
                  key=lambda r: r.start_ms)
    assert len(rows) >= 3 and rows[0].status == "remote", rows
    first, last = rows[0], rows[2]
    out = tmp_path / "export.mp4"
    done = nvr_appliance.cli("export", "--camera", "cam1", "--from", iso_utc(first.start_ms),
                             "--to", iso_utc(last.end_ms), "-o", out)
    assert done.returncode == 0, done.stderr
    assert "3/3 segment(s)" in done.stderr
    info = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)],
        capture_output=True, text=True, check=True).stdout)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert float(video["duration"]) == pytest.approx((last.end_ms - first.start_ms) / 1000,
                                                     abs=0.1), video

    nvr_s3.kill()
    status, headers, body = get(base, url, token, method="HEAD")  # the catalog knows the size
    assert (status, headers["Content-Length"], body) == (200, str(len(expected)), b"")
    status, _, body = get(base, url, token)
    assert status == 502 and "object storage" in json.loads(body)["error"], body


def _copies(appliance: Any) -> list[Any]:
    from nvr_edge.appliance.run import opened_catalog

    with opened_catalog(appliance.config) as catalog:
        return catalog.object_copies()
