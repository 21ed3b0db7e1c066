"""RTMP push into a real nginx-rtmp, read back by ffprobe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nvr_edge_rtmp.plugin import RtmpPlugin
from nvr_edge_rtmp.settings import read_rtmp
from nvr_edge_testing.simcam import SimCameraServer
from rtmp_nginx import NginxRtmp, probe

from nvr_edge import CommandError, ControlError
from nvr_edge.config import ConfigError, parse_config
from tests.helpers import running_supervisor, wait_for, write_config

pytestmark = pytest.mark.slow


def h264_of(found: dict | None) -> dict | None:
    if not found:
        return None
    return next((s for s in found["streams"] if s["codec_name"] == "h264"), None)


def pushes(control: Any, command: str = "rtmp.list", **args: str) -> list[dict[str, Any]]:
    return control.run_command(command, args)["pushes"]


def test_configured_and_operator_pushes_reach_nginx_and_come_back_after_an_outage(
        tmp_path: Path, cameras: SimCameraServer) -> None:
    nginx = NginxRtmp(tmp_path / "nginx").start()
    try:
        extra = (f'[rtmp]\nretry_min_s = 0.5\nretry_max_s = 2\n[[rtmp.push]]\n'
                 f'camera = "cam1"\nurl = "{nginx.url("cam1")}"\n')
        config = write_config(tmp_path / "nvr.toml",
                              {"cam1": cameras.url(1, "main", with_credentials=True),
                               "cam2": cameras.url(2, "main", with_credentials=True)},
                              extra=extra)
        with running_supervisor(config, plugins=(RtmpPlugin(),)) as supervisor:
            video = wait_for(lambda: h264_of(probe(nginx.url("cam1"))), 60, "cam1 on nginx")
            assert (video["width"], video["height"]) == (640, 360)

            control = supervisor.control  # what every transport runs commands through
            assert {"rtmp.start", "rtmp.stop", "rtmp.list"} <= \
                {c.name for c in control.commands()}
            running = pushes(control, "rtmp.start", camera="cam2", url=nginx.url("cam2"))
            assert {p["camera"] for p in running} == {"cam1", "cam2"}
            assert all(p["url"].endswith("/live/***") for p in running)  # the stream key
            assert h264_of(wait_for(lambda: probe(nginx.url("cam2")), 60, "cam2 on nginx"))

            with pytest.raises(CommandError, match="unknown camera 'nope'"):
                pushes(control, "rtmp.start", camera="nope", url=nginx.url("x"))
            with pytest.raises(CommandError, match="rtmp://"):
                pushes(control, "rtmp.start", camera="cam1", url="http://127.0.0.1/x")
            with pytest.raises(CommandError, match="missing argument 'url'"):
                pushes(control, "rtmp.start", camera="cam1")
            assert [p["camera"] for p in
                    pushes(control, "rtmp.stop", camera="cam2", url=nginx.url("cam2"))] \
                == ["cam1"]
            with pytest.raises(ControlError, match="no push of cam2"):
                pushes(control, "rtmp.stop", camera="cam2")
            assert [p["camera"] for p in pushes(control)] == ["cam1"]

            nginx.stop()  # the server goes away; the push retries with backoff
            wait_for(lambda: pushes(control)[0]["state"] == "retrying", 30,
                     "the push to notice")
            nginx.start()
            wait_for(lambda: h264_of(probe(nginx.url("cam1"))), 60, "cam1 back on nginx")
            assert pushes(control)[0]["sessions"] >= 2
            assert supervisor.cameras["cam1"].counters.get("rejected", 0) == 0
    finally:
        nginx.stop()


def test_the_plugin_is_an_object_with_no_commands_until_it_runs() -> None:
    """The entry point names an instance; a fresh one offers no command before
    `nvr_startup` (nothing to push with) and keeps its state on itself."""
    from importlib.metadata import entry_points

    [entry] = [e for e in entry_points(group="nvr_edge") if e.name == "rtmp"]
    assert entry.value == "nvr_edge_rtmp.plugin:plugin"
    assert isinstance(entry.load(), RtmpPlugin)
    assert RtmpPlugin().nvr_commands(appliance=None) == []


@pytest.mark.parametrize(("table", "message"), [
    ({"push": [{"camera": "c"}]}, r"rtmp\.push\[0\]\.url: is required"),
    ({"push": [{"camera": "c", "url": "http://h/a/b"}]}, "expected rtmp://"),
    ({"push": [{"camera": "c", "url": "rtmp://h/app"}]}, "needs an application and a stream"),
    ({"push": [{"url": "rtmp://h/a/b"}]}, r"rtmp\.push\[0\]\.camera: is required"),
    ({"push": [{"camera": "c", "url": "rtmp://h/a/b", "key": 1}]}, "unknown key"),
    ({"push": {}}, "expected an array of tables"),
])
def test_bad_push_settings_are_named(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"device": {"id": "box"}, "rtmp": table}, readers={"rtmp": read_rtmp})
