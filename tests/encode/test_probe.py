"""The probe: test-encodes in a child process; a crash, a hang, a failed open or a wrong
picture size is a verdict with its reason, and the calling process goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
from nvr_edge_testing.waiting import wait_for

from nvr_edge import EncoderOffer, EncodeTarget, Engine, hookimpl
from nvr_edge.config import parse_config
from nvr_edge.encode.plugin import Encoders, nvr_status_part
from nvr_edge.encode.probe import probe
from nvr_edge.encode.software import open_software
from nvr_edge.plugins import make_plugin_manager, section_readers_of
from tests.encode import fakes, slow_start

TARGET = EncodeTarget(320, 240, fps=10)


def offer(name: str) -> EncoderOffer:
    return next(o for o in fakes.OFFERS if o.name == name)


def test_software_passes_with_its_first_packet_time() -> None:
    result = probe(EncoderOffer("libx264", Engine.SOFTWARE, open_software), TARGET)
    assert (result.ok, result.reason) == (True, "ok")
    assert result.first_packet_s is not None and result.first_packet_s < 1.0


def test_a_driver_that_aborts_is_a_crash_and_the_caller_survives() -> None:
    result = probe(offer("fake_abort"), TARGET)
    assert (result.ok, result.reason) == (False, "crashed: SIGABRT")


def test_a_failed_open_says_why() -> None:
    assert probe(offer("fake_fail"), TARGET).reason == "device busy"


def test_a_hung_encoder_is_killed_at_the_timeout() -> None:
    result = probe(EncoderOffer("hang", Engine.VAAPI, fakes.open_hang), TARGET, timeout_s=2)
    assert (result.ok, result.timed_out) == (False, "encode")
    assert result.reason.startswith("timed out after 2 s (encoding, after a "), result.reason
    assert result.startup_s is not None and result.seconds - result.startup_s >= 2


def test_a_slow_start_is_not_counted_against_the_encode(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A child that takes 5 s to import (an emulator, a slow SD card) still passes with 4 s
    for the encode: the probe's clock starts when the child is ready."""
    monkeypatch.setenv(slow_start.ENV, "5")
    result = probe(slow_start.x264(), TARGET, timeout_s=4, startup_timeout_s=120)
    assert (result.ok, result.reason, result.timed_out) == (True, "ok", None)
    assert result.startup_s is not None and result.startup_s >= 5
    assert result.first_packet_s is not None


def test_a_child_never_ready_is_killed_at_the_startup_bound(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(slow_start.ENV, "3600")
    result = probe(slow_start.x264(), TARGET, timeout_s=60, startup_timeout_s=2)
    assert (result.ok, result.timed_out, result.startup_s) == (False, "startup", None)
    assert result.reason == "not ready within 2 s (start-up: Python and PyAV)"
    assert result.seconds >= 2


def test_a_too_slow_libx264_is_killed_at_the_encode_bound() -> None:
    """Real libx264 at 1 s a frame: ready at once, then 10 frames would take 10 s."""
    result = probe(slow_start.x264(frame_s="1"), TARGET, timeout_s=2, startup_timeout_s=120)
    assert (result.ok, result.timed_out) == (False, "encode")
    assert result.reason.startswith("timed out after 2 s (encoding"), result.reason
    assert result.startup_s is not None and result.seconds - result.startup_s >= 2


def test_a_picture_of_the_wrong_size_fails() -> None:
    result = probe(EncoderOffer("small", Engine.VAAPI, fakes.open_wrong_size), TARGET)
    assert result.reason == "decoded at 160x120, not 320x240"


def test_a_missing_device_node_fails_fast() -> None:
    from nvr_edge.encode import vaapi

    hw = vaapi.nvr_encoders(config=None)[0]
    result = probe(hw, TARGET)
    assert result.reason == "no device node /dev/dri/renderD128"
    assert result.startup_s is None  # decided before any child process


def test_probe_all_through_the_hook_feeds_the_status_and_alerts(tmp_path: Path) -> None:
    pm = make_plugin_manager(load_entry_points=False,
                             blocked=("v4l2m2m_encoder", "vaapi_encoder", "rkmpp_encoder"))
    pm.register(fakes.FakeEncoders(), name="fakes")
    hw = tmp_path / "hw.toml"
    hw.write_text('[encoder]\nprefer = "fake_abort"\n')
    config = parse_config({"device": {"id": "box"}, "encoders": {
        "hw_file": str(hw), "probe_width": 320, "probe_height": 240}},
        readers=section_readers_of(pm))
    alerts = []
    encoders = Encoders()
    results = {r.name: r for r in encoders.probe_all(pm, config, alerts.append)}
    assert {n: r.reason for n, r in results.items()} == {
        "libx264": "ok", "fake_abort": "crashed: SIGABRT", "fake_fail": "device busy",
        "fake_stall": "ok"}  # it stalls only after 5 frames of 10: the session catches it
    assert [a.code for a in alerts] == ["encoder_unavailable"]  # the board's choice failed
    assert encoders.status()["prefer"] == "fake_abort"
    session = encoders.session(pm, config, TARGET, alert=alerts.append)
    assert [o.name for o in session.candidates] == ["fake_stall", "libx264"]
    assert "encoders" in nvr_status_part(config=config)


def test_a_device_node_that_appears_is_probed_again(tmp_path: Path) -> None:
    node = tmp_path / "video12"
    usb = EncoderOffer("usb_h264", Engine.V4L2M2M, open_software, device=str(node))

    class Usb:
        @hookimpl
        def nvr_encoders(self, config: object) -> list[EncoderOffer]:
            return [usb]

    pm = make_plugin_manager(load_entry_points=False, blocked=(
        "x264_encoder", "v4l2m2m_encoder", "vaapi_encoder", "rkmpp_encoder"))
    pm.register(Usb(), name="usb")
    config = parse_config({"device": {"id": "box"}, "encoders": {
        "hw_file": str(tmp_path / "none"), "probe_width": 320, "probe_height": 240}},
        readers=section_readers_of(pm))
    encoders = Encoders()
    encoders.device_poll_s = 0.1
    thread = encoders.start_probes(pm, config, alert=lambda a: None)
    try:
        assert wait_for(lambda: encoders.results.get("usb_h264"), 20, "the first probe").reason == \
            f"no device node {node}"
        node.touch()  # plugged in
        assert wait_for(lambda: encoders.results["usb_h264"].ok, 20, "a probe of the new node")
    finally:
        encoders.stop()
        thread.join(20)
