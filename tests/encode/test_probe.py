"""The probe: test-encodes in a child process; a crash, a hang, a failed open or a wrong
picture size is a verdict with its reason, and the calling process goes on."""

from __future__ import annotations

from pathlib import Path

from nvr_edge_testing.waiting import wait_for

from nvr_edge import EncoderOffer, EncodeTarget, Engine, hookimpl
from nvr_edge.config import parse_config
from nvr_edge.encode.plugin import Encoders, nvr_status_part
from nvr_edge.encode.probe import probe
from nvr_edge.encode.software import open_software
from nvr_edge.plugins import make_plugin_manager, section_readers_of
from tests.encode import fakes

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
    assert (result.ok, result.reason) == (False, "timed out after 2 s")
    assert 2 <= result.seconds < 5


def test_a_picture_of_the_wrong_size_fails() -> None:
    result = probe(EncoderOffer("small", Engine.VAAPI, fakes.open_wrong_size), TARGET)
    assert result.reason == "decoded at 160x120, not 320x240"


def test_a_missing_device_node_fails_fast() -> None:
    from nvr_edge.encode import vaapi

    hw = vaapi.nvr_encoders(config=None)[0]
    result = probe(hw, TARGET)
    assert result.reason == "no device node /dev/dri/renderD128"


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
