"""The web plugin's parts on their own: the [web] table, the metrics text, the page's files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nvr_edge_web.counters import HttpCounters, LiveMetrics
from nvr_edge_web.download import download_name
from nvr_edge_web.exposition import Exposition
from nvr_edge_web.metrics import render_metrics
from nvr_edge_web.page import INDEX, load_static
from nvr_edge_web.settings import WebSettings, read_web
from web_promtext import parse, value

from nvr_edge.config import ConfigError, parse_config
from nvr_edge.models import SegmentRecord

BASE = {"device": {"id": "box"}, "cameras": [{"id": "cam1", "main": "rtsp://192.0.2.1/x"}]}


def web_section(tmp_path: Path, web: dict[str, object] | None) -> WebSettings | None:
    document = dict(BASE, **({"web": web} if web is not None else {}))
    return parse_config(document, "t.toml", tmp_path, readers={"web": read_web}) \
        .sections["web"]


def test_no_web_table_keeps_the_plugin_idle_and_an_empty_one_takes_the_defaults(
        tmp_path: Path) -> None:
    assert web_section(tmp_path, None) is None
    settings = web_section(tmp_path, {})
    assert settings == WebSettings(host="0.0.0.0", port=8080)
    assert settings.listen == "0.0.0.0:8080"
    assert (settings.idle_timeout_s, settings.max_unauthenticated_connections) == (15.0, 256)


@pytest.mark.parametrize(("listen", "host", "port"), [
    ("127.0.0.1:9000", "127.0.0.1", 9000), ("[::1]:8443", "::1", 8443),
    ("[::]:80", "::", 80), ("nvr.lan:8080", "nvr.lan", 8080), ("localhost:1", "localhost", 1),
])
def test_listen_forms(tmp_path: Path, listen: str, host: str, port: int) -> None:
    settings = web_section(tmp_path, {"listen": listen})
    assert settings is not None and (settings.host, settings.port) == (host, port)
    assert settings.listen == listen


@pytest.mark.parametrize("web", [
    {"listen": "8080"}, {"listen": "::1:8080"}, {"listen": "[::1]8080"},
    {"listen": "[127.0.0.1]:80"}, {"listen": "host:0"}, {"listen": "host:65536"},
    {"listen": "host:http"}, {"listen": "999.1.1.1:80"}, {"listen": "a b:80"},
    {"listen": 8080}, {"max_request_bytes": 10}, {"access_log": "yes"}, {"lisen": "x:1"},
    {"idle_timeout_s": 0}, {"idle_timeout_s": "15"}, {"max_unauthenticated_connections": 0},
])
def test_bad_web_tables_name_the_key(tmp_path: Path, web: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        web_section(tmp_path, web)
    assert f"web.{next(iter(web))}" in str(info.value)


def test_exposition_escapes_label_values_and_help() -> None:
    out = Exposition()
    out.family("x_total", "counter", 'help with \\ and\nnewline', [
        ({"camera": 'a"b\\c\nd'}, 3), ({}, 0.5), ({"k": "v"}, float("nan"))])
    out.family("empty", "gauge", "no samples", [])
    types, samples = parse(out.text())
    assert types == {"x_total": "counter", "empty": "gauge"}
    assert samples[0].labels == {"camera": 'a"b\\c\nd'} and samples[0].value == 3
    assert samples[1].value == 0.5 and samples[2].value != samples[2].value  # NaN


def test_metrics_from_a_status_snapshot() -> None:
    status = {
        "uptime_s": 12,
        "cameras": {"cam1": {"state": "online", "restarts": 1, "segments": 4, "bytes": 99,
                             "ingest": {"fps": 29.9, "kbps": 812.5, "continuity": 0.99},
                             "transcoding": {"encoder": "libx264", "fps": 29.5}},
                    "cam2": {"state": "offline", "restarts": 0, "segments": 0, "bytes": 0,
                             "ingest": {"fps": 0.0, "kbps": 0.0, "continuity": 0.0}}},
        "tiers": {"cache": {"free_bytes": 10, "total_bytes": 20, "floor_bytes": 1,
                            "state": "ok", "backlog": {"segments": 2, "bytes": 300}},
                  "archive": {"free_bytes": 5, "total_bytes": 9, "floor_bytes": 1,
                              "state": "degraded"}},
        "catalog": {"healthy": True, "spooled_writes": 0},
        "plugins": {"encoders": {"probes": [
            {"name": "libx264", "engine": "software", "ok": True},
            {"name": "h264_vaapi", "engine": "vaapi", "ok": False}]}},
    }
    http, live = HttpCounters(), LiveMetrics()
    http.count("/api/cameras", 200)
    http.count("/api/cameras", 200)
    live.viewer_joined("cam1")
    live.add_bytes_out("cam1", 1234)
    types, samples = parse(render_metrics(status, ["cam1", "cam2", "cam3"], http, live))
    assert value(samples, "nvr_camera_state", camera="cam1", state="online") == 1
    assert value(samples, "nvr_camera_state", camera="cam2", state="online") == 0
    assert value(samples, "nvr_camera_ingest_fps", camera="cam1") == 29.9
    assert value(samples, "nvr_camera_restarts_total", camera="cam1") == 1
    assert value(samples, "nvr_camera_transcode_fps", camera="cam1", encoder="libx264") == 29.5
    # a camera that is not encoded has no sample
    assert [s.labels["camera"] for s in samples if s.name == "nvr_camera_transcode_fps"] == [
        "cam1"]
    assert value(samples, "nvr_tier_degraded", tier="archive") == 1
    assert value(samples, "nvr_cache_backlog_bytes") == 300
    assert value(samples, "nvr_catalog_healthy") == 1
    assert value(samples, "nvr_encoder_usable", encoder="libx264", engine="software") == 1
    assert value(samples, "nvr_encoder_usable", encoder="h264_vaapi", engine="vaapi") == 0
    assert value(samples, "nvr_http_requests_total", route="/api/cameras", status="200") == 2
    assert value(samples, "nvr_live_viewers", camera="cam1") == 1
    assert value(samples, "nvr_live_viewers", camera="cam3") == 0
    assert value(samples, "nvr_live_bytes_out_total", camera="cam1") == 1234
    assert types["nvr_live_bytes_out_total"] == "counter"
    # before the first status snapshot (the first 2 s): families, no failure
    types, samples = parse(render_metrics({}, ["cam1"], HttpCounters(), LiveMetrics()))
    assert "nvr_camera_ingest_fps" in types and value(samples, "nvr_live_viewers") == 0


def test_live_metrics_never_count_below_zero() -> None:
    live = LiveMetrics()
    live.viewer_left("cam1")
    live.add_bytes_out("cam1", -5)
    assert live.viewers() == {"cam1": 0} and live.bytes_out() == {}


def test_hls_players_count_while_they_keep_asking() -> None:
    live = LiveMetrics()
    live.hls_request("cam1", ("10.0.0.5", "alice", 1), now=100.0)
    live.hls_request("cam1", ("10.0.0.5", "alice", 1), now=104.0)  # the same player again
    live.hls_request("cam1", ("10.0.0.6", "bob", 2), now=105.0)
    live.hls_request("cam2", ("10.0.0.6", "bob", 2), now=105.0)
    assert live.hls_clients(now=110.0) == {"cam1": 2, "cam2": 1}
    assert live.hls_clients(now=114.5) == {"cam1": 1, "cam2": 1}  # alice stopped at 104
    assert live.hls_clients(now=200.0) == {}


def test_download_name_is_safe() -> None:
    segment = SegmentRecord(camera='we"ird/../cam', stream="main", start_ms=1_795_486_176_000,
                            end_ms=1_795_486_186_000, bytes=1, path="/x", tier="cache",
                            video_codec="h264", width=1, height=1, has_audio=False, id=7)
    assert download_name(segment) == "we_ird____cam-20261124T020936Z.mp4"


def test_the_page_references_only_files_it_ships() -> None:
    files = load_static()
    index = files[INDEX].body.decode()
    referenced = set(re.findall(r'(?:src|href)="/static/([^"]+)"', index))
    assert {"app.js", "style.css"} <= referenced <= set(files)
    for name, found in files.items():
        if name.endswith(".js"):
            for module in re.findall(r'from "\./([^"]+)"', found.body.decode()):
                assert module in files, f"{name} imports {module}, which is not shipped"
    assert "live view: coming" in index
    assert "export class LiveTile" in files["live.js"].body.decode()
