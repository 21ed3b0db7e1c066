"""USB (V4L2) cameras as recording sources: the `v4l2:` URLs the discovery plugin offers,
what the config check says of malformed ones, what the worker hands FFmpeg's v4l2 input,
and how an unplugged device is told apart. Real capture cannot be emulated here (no
v4l2loopback; umockdev has no streaming): it is tested in the QEMU image with `vivid`."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_testing.waiting import wait_for

from nvr_edge.camera.ingest import Ended, RtspReader
from nvr_edge.camera.messages import AlertRaised
from nvr_edge.camera.session_end import SessionEnd
from nvr_edge.camera.worker import CameraWorker, Channel
from nvr_edge.config import ConfigError
from nvr_edge.plugins import load_config
from nvr_edge.v4l2_source import V4l2Source, V4l2UrlError, parse_v4l2_url
from tests.helpers import write_config

BY_ID = "/dev/v4l/by-id/usb-046d_C920_ABC123-video-index0"
URL = f"v4l2:{BY_ID}?fourcc=MJPG&width=1280&height=720&fps=30"


def test_the_discovery_form_is_parsed_into_ffmpeg_v4l2_options() -> None:
    source = parse_v4l2_url(URL)
    assert source == V4l2Source(BY_ID, "MJPG", 1280, 720, 30.0)
    assert source.pyav_options() == {"input_format": "mjpeg", "video_size": "1280x720",
                                     "framerate": "30"}
    yuyv = parse_v4l2_url("v4l2:/dev/video0?fourcc=YUYV&width=640&height=480&fps=7.5")
    assert yuyv.pyav_options() == {"input_format": "yuyv422", "video_size": "640x480",
                                   "framerate": "7.5"}
    assert parse_v4l2_url("v4l2:/dev/video2?fourcc=H264").pyav_options() == {
        "input_format": "h264"}
    assert parse_v4l2_url("v4l2:/dev/video0").pyav_options() == {}  # the driver's current


@pytest.mark.parametrize(("url", "says"), [
    ("v4l2://host/dev/video0", "local device"),
    ("v4l2:video0", "under /dev/"),
    ("v4l2:/dev/../etc/passwd", "under /dev/"),
    ("v4l2:/dev/video0?fourcc=XYZW", "fourcc 'XYZW'"),
    ("v4l2:/dev/video0?width=640", "go together"),
    ("v4l2:/dev/video0?width=64O&height=480", "whole number"),
    ("v4l2:/dev/video0?fps=0", "fps '0'"),
    ("v4l2:/dev/video0?fps=30&fps=25", "twice"),
    ("v4l2:/dev/video0?format=mjpeg", "unknown query key 'format'"),
])
def test_malformed_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(V4l2UrlError, match=says):
        parse_v4l2_url(url)


def test_the_config_check_takes_v4l2_mains_and_names_the_key_of_a_bad_one(
        tmp_path: Path) -> None:
    good = load_config(write_config(tmp_path / "good.toml", {"usb": "V4L2:" + URL[5:]}))
    assert good.camera("usb").main == URL  # scheme in lower case, like rtsp://
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(tmp_path / "bad.toml",
                                 {"ok": URL, "usb": "v4l2:/dev/video0?fourcc=NOPE"}))
    assert refused.value.key == "cameras[1].main"
    assert "bad v4l2: URL: fourcc 'NOPE'" in str(refused.value)


def test_the_reader_opens_the_device_through_ffmpegs_v4l2_input() -> None:
    reader = RtspReader(URL, 5.0, 10.0, queue.SimpleQueue())
    assert reader.open_spec() == (BY_ID, "v4l2", {
        "input_format": "mjpeg", "video_size": "1280x720", "framerate": "30"})
    rtsp = RtspReader("rtsp://cam/main", 5.0, 10.0, queue.SimpleQueue())
    assert rtsp.open_spec() == ("rtsp://cam/main", None, rtsp.options())


class Pipe:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)


@pytest.fixture
def device() -> Iterator[Path]:
    """A device node's path that tests may create and remove (/dev/shm: under /dev/)."""
    path = Path(f"/dev/shm/nvr-edge-test-video-{uuid.uuid4().hex[:8]}")
    yield path
    path.unlink(missing_ok=True)


def usb_worker(tmp_path: Path, device: Path) -> tuple[CameraWorker, Pipe]:
    config = load_config(write_config(
        tmp_path / "nvr.toml", {"usb": f"v4l2:{device}?fourcc=MJPG&width=640&height=480"},
        recording={"probe_interval_s": 0.2}))
    pipe, stop = Pipe(), threading.Event()
    worker = CameraWorker(config, config.camera("usb"), Channel(pipe, "usb", stop), stop)
    return worker, pipe


def test_an_unplugged_device_is_offline_with_alert_camera_unplugged(
        tmp_path: Path, device: Path) -> None:
    worker, pipe = usb_worker(tmp_path, device)
    end = worker.record_session()  # the node is absent: FFmpeg's v4l2 input refuses it
    assert not end.opened and end.reason.startswith("V4L2: ")
    reachable, reason = worker.why_ended(end)
    assert not reachable and reason.startswith(f"the device {device} is unplugged")
    worker.alert_offline(reason)
    assert [(m.code, m.camera) for m in pipe.sent if isinstance(m, AlertRaised)] == [
        ("camera_unplugged", "usb")]
    device.write_bytes(b"")  # present again (but no capture device: a plain file)
    assert worker.why_ended(SessionEnd(True, True, "the stream failed"))[0]


def test_a_device_plugged_back_ends_the_retry_wait_at_once(tmp_path: Path,
                                                           device: Path) -> None:
    worker, _ = usb_worker(tmp_path, device)
    threading.Timer(0.5, device.write_bytes, args=(b"",)).start()
    started = time.monotonic()
    worker.wait_before_retry(30.0, was_reachable=False)
    assert 0.4 < time.monotonic() - started < 2.0


def test_an_unplugged_device_is_waited_for_not_retried(tmp_path: Path, device: Path) -> None:
    """The worker's loop with the node absent: OFFLINE and one alert, then it waits for
    the node (no open attempts counted toward camera_connection_failed, whatever the
    backoff would say); the node back ends the wait and the device is tried again."""
    worker, pipe = usb_worker(tmp_path, device)
    runner = threading.Thread(target=worker._run)
    runner.start()
    try:
        wait_for(lambda: worker.channel.state and worker.channel.state[0] == "offline", 10,
                 "the worker offline")
        time.sleep(1.0)  # five probe intervals: still one attempt, one alert
        assert worker.backoff.failures == 0
        assert "unplugged" in worker.channel.state[1]
        assert [m.code for m in pipe.sent if isinstance(m, AlertRaised)] == ["camera_unplugged"]
        device.write_bytes(b"")  # back (a plain file: reachable, but no capture device)
        wait_for(lambda: worker.backoff.failures >= 1, 10, "the device tried again")
        assert worker.channel.state[0] == "connecting", worker.channel.state
    finally:
        worker.stop.set()
        runner.join(10)
    assert not runner.is_alive()


def test_ended_reasons_name_v4l2_not_rtsp(tmp_path: Path, device: Path) -> None:
    out: queue.SimpleQueue[Any] = queue.SimpleQueue()
    RtspReader(f"v4l2:{device}", 2.0, 2.0, out).run()
    ended = out.get_nowait()
    assert isinstance(ended, Ended) and ended.error and ended.error.startswith("V4L2: ")
