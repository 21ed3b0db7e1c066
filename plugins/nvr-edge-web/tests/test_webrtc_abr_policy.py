"""A WebRTC session's rung policy (webrtc/abr.py) fed receiver-report stats entries as
aiortc makes them (fraction lost as RTCP's 8-bit fixed point): the ladder WebRTC carries,
the start, the pin, and down/up from the reports and the receiver's estimate; the RTCP
feedback aiortc keeps to itself (webrtc/feedback.py), on packets parsed from the wire."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RtcpPacket,
    RtcpPsfbPacket,
    pack_remb_fci,
)
from nvr_edge_web.webrtc.abr import ViewerAbr, remote_inbound, webrtc_ladder
from nvr_edge_web.webrtc.feedback import Feedback, listen


@dataclass(frozen=True)
class Stats:  # aiortc's RTCRemoteInboundRtpStreamStats, the fields read
    fractionLost: int
    roundTripTime: float | None
    type: str = "remote-inbound-rtp"
    kind: str = "video"


def rung(name: str, stream: str, kbps: int) -> dict[str, object]:
    return {"name": name, "stream": stream, "kbps": kbps, "width": 1, "height": 1,
            "transcoded": stream not in ("live", "main"), "available": True, "reason": ""}


LADDER = [rung("main", "main", 4000), rung("sub", "live", 600), rung("360p", "360p", 500),
          rung("240p", "240p", 250)]


def test_the_ladder_leaves_out_a_main_stream_beside_a_sub_and_starts_on_the_live_one() -> None:
    abr = ViewerAbr(webrtc_ladder(LADDER))
    assert [r.name for r in abr.ladder] == ["sub", "360p", "240p"]
    assert abr.current.stream == "live" and abr.pinned is None
    assert ViewerAbr(webrtc_ladder(LADDER), "240p").current.name == "240p"
    with pytest.raises(ValueError, match=r"no rung 'main' \(this camera has sub, 360p, 240p\)"):
        ViewerAbr(webrtc_ladder(LADDER), "main")


def test_sustained_loss_steps_down_a_hold_follows_and_a_clean_link_steps_up() -> None:
    abr = ViewerAbr(webrtc_ladder(LADDER))
    lossy, clean = 26, 0  # 26/256 ~ 10 %
    assert abr.observe(Stats(lossy, 0.02), 0.0).name == "sub"  # one report: no evidence
    same = Stats(lossy, 0.02)
    assert abr.observe(same, 1.0).name == "360p"  # two in the window
    assert abr.observe(same, 1.5).name == "360p"  # the same report again: nothing new
    abr.switched("360p", 2.6)
    assert abr.status() | {"rtt_ms": None} == {
        "rung": "360p", "pinned": None, "switches": 1, "loss": 0.1016, "rtt_ms": None,
        "refused": ""}
    t = 2.6
    for _ in range(13):  # clean for 13 s: the 4 s hold, then 10 s clean, up one rung
        t += 1
        wanted = abr.observe(Stats(clean, 0.02), t)
    assert wanted.name == "sub"
    abr.pin("240p")
    assert abr.observe(Stats(clean, 0.02), t + 1).name == "240p" and abr.pinned == "240p"


def test_the_remote_inbound_entry_is_found_among_the_others() -> None:
    entry = Stats(0, 0.01)
    report = {"a": Stats(0, None, type="outbound-rtp"), "b": Stats(0, None, kind="audio"),
              "c": entry}
    assert remote_inbound(report) is entry and remote_inbound({}) is None


def test_the_rung_below_is_named_once_a_report_looks_bad_and_not_when_pinned() -> None:
    abr = ViewerAbr(webrtc_ladder(LADDER))
    assert abr.observe(Stats(0, 0.02), 0.0).name == "sub" and abr.below(0.0) is None
    abr.observe(Stats(13, 0.02), 1.0)  # 5 %: not a step yet, but worth getting ready
    below = abr.below(1.0)
    assert below is not None and below.name == "360p" and abr.current.name == "sub"
    assert abr.below(3.5) is None  # that report has left the window: nothing to prepare
    abr.pin("sub")
    assert abr.below(1.0) is None


def test_the_receiver_estimate_steps_down_to_what_it_carries_and_never_holds_up() -> None:
    abr = ViewerAbr(webrtc_ladder(LADDER))  # sub 600, 360p 500, 240p 250 kbit/s
    assert abr.observe(Stats(0, 0.02), 0.0, 320.0).name == "sub"  # one report: no evidence
    # two: 250 <= 320 x 0.85, straight to 240p, no loss needed
    assert abr.observe(Stats(0, 0.02), 1.0, 320.0).name == "240p"
    abr.switched("240p", 1.5)
    t, wanted = 1.5, abr.current
    for _ in range(15):  # Chromium's estimate on 240p: ~1.5 x what it gets, under 360p's
        t += 1
        wanted = abr.observe(Stats(0, 0.02), t, 375.0)
    assert wanted.name == "360p"  # up after the clean period all the same
    # a viewer's own REMB is all it can move, and only within the ladder: 0 sends it to
    # the last rung, a huge one is no signal at all
    for estimate, rung in ((0.0, "240p"), (2.0**40, "sub")):
        abr = ViewerAbr(webrtc_ladder(LADDER))
        abr.observe(Stats(0, 0.02), 0.0, estimate)
        assert abr.observe(Stats(0, 0.02), 1.0, estimate).name == rung


class Sender:
    """What `feedback.listen` uses of aiortc's RTCRtpSender: its stream's SSRC and the
    method every RTCP packet for it goes through."""

    def __init__(self, ssrc: int) -> None:
        self._ssrc, self.passed = ssrc, []

    async def _handle_rtcp_packet(self, packet: object) -> None:
        self.passed.append(packet)


def test_remb_for_the_stream_and_picture_requests_are_noted_and_passed_on() -> None:
    sender, feedback = Sender(1234), Feedback()
    listen(sender, feedback)
    wire = b"".join(bytes(p) for p in (
        RtcpPsfbPacket(RTCP_PSFB_APP, 9, 0, pack_remb_fci(450_000, [1234])),
        RtcpPsfbPacket(RTCP_PSFB_APP, 9, 0, pack_remb_fci(90_000, [777])),  # another's
        RtcpPsfbPacket(RTCP_PSFB_PLI, 9, 1234),
        RtcpPsfbPacket(RTCP_PSFB_APP, 9, 0, b"not a REMB.."),  # 4-byte words
        # says three SSRCs follow, none does (aiortc's own parser raises struct.error)
        RtcpPsfbPacket(RTCP_PSFB_APP, 9, 0, b"REMB\x03\x00\x00\x00")))
    packets = RtcpPacket.parse(wire)

    async def feed() -> None:
        for packet in packets:
            await sender._handle_rtcp_packet(packet)

    asyncio.run(feed())
    assert sender.passed == packets  # every one on to aiortc, unchanged
    assert (feedback.estimate_bps, feedback.estimates, feedback.pictures_asked) == \
        (450_000, 1, 1)
    at = feedback.estimate_at
    assert feedback.estimate_kbps(at + 1, 3.0) == 450
    assert feedback.estimate_kbps(at + 4, 3.0) is None  # stale
