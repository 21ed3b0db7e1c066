"""The session's fallback at run time, with fake encoders offered through the hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvr_edge import Alert, EncodedPacket, EncoderError, EncoderOffer, EncodeTarget, Engine
from nvr_edge.encode.child import hardware_offer
from nvr_edge.encode.policy import RetryPolicy
from nvr_edge.encode.session import EncoderSession
from nvr_edge.encode.software import open_software
from nvr_edge.encode.synthetic import frames
from tests.encode import fakes

TARGET = EncodeTarget(320, 240, fps=10)
SOFTWARE = EncoderOffer("libx264", Engine.SOFTWARE, open_software)


def test_a_stalled_encoder_hands_its_work_to_software_with_an_alert() -> None:
    alerts: list[Alert] = []
    stall = next(o for o in fakes.OFFERS if o.name == "fake_stall")
    session = EncoderSession([stall, SOFTWARE], TARGET, alert=alerts.append, camera="usb1",
                             stall_frames=3)
    produced = [session.encode(frame) for frame in frames(320, 240, 30)]
    assert session.active == "libx264"
    assert [a.code for a in alerts] == ["encoder_failed"]
    assert alerts[0].camera == "usb1" and "fake_stall stalled" in alerts[0].message
    # 5 good frames, 3 silent ones (the third is re-encoded by software), then software
    assert [bool(p) for p in produced] == [True] * 5 + [False] * 2 + [True] * 23
    assert produced[7][0].keyframe  # the new encoder's stream starts with a keyframe
    assert session.state()["candidates"][0]["healthy"] is False


def test_a_child_encoder_that_ends_mid_stream_falls_back_and_the_caller_goes_on() -> None:
    """A hardware engine is an FFmpeg child: its end (a driver crash, a give-up) is an
    error of that child, seen at the next write, never the caller's crash."""
    alerts: list[Alert] = []
    child = hardware_offer("x264_child", Engine.V4L2M2M, fakes.x264_child_args, "/dev/null",
                           frames="10")
    session = EncoderSession([child, SOFTWARE], TARGET, alert=alerts.append)
    used = []
    for frame in frames(320, 240, 40):
        session.encode(frame)
        used.append(session.active)
    assert used[:5] == ["x264_child"] * 5 and used[-1] == "libx264"
    assert len(alerts) == 1 and "x264_child failed: the encoder process ended" \
        in alerts[0].message
    session.close()


def test_an_encoder_that_fails_on_open_is_skipped_with_an_alert() -> None:
    alerts: list[Alert] = []
    fail = next(o for o in fakes.OFFERS if o.name == "fake_fail")
    session = EncoderSession([fail, SOFTWARE], TARGET, alert=alerts.append)
    assert session.encode(next(frames(320, 240, 1)))[0].keyframe
    assert session.active == "libx264"
    assert "fake_fail would not open: device busy" in alerts[0].message


def test_hardware_is_tried_again_after_its_backoff() -> None:
    now = [0.0]
    stall = next(o for o in fakes.OFFERS if o.name == "fake_stall")
    session = EncoderSession([stall, SOFTWARE], TARGET, alert=lambda a: None,
                             stall_frames=2, retry=RetryPolicy(10, 100),
                             clock=lambda: now[0])
    active = []
    for frame in frames(320, 240, 40):
        session.encode(frame)
        active.append(session.active)
        now[0] += 1.0
    # stalls at frame 6, software from then; back to it 10 s later, stalls again (20 s)
    assert active[:5] == ["fake_stall"] * 5
    assert active[7:16] == ["libx264"] * 9
    assert "fake_stall" in active[16:20]
    assert session.state()["candidates"][0]["failures"] == 2


# -- the policy as a property: scripted encoders, no video --------------------------------

class Scripted:
    """Packets for `good` frames per opening, then raises or goes silent."""

    def __init__(self, good: int, how: str) -> None:
        self.left, self.how = good, how

    def encode(self, frame: Any, force_keyframe: bool = False) -> list[EncodedPacket]:
        self.left -= 1
        if self.left >= 0:
            return [EncodedPacket(b"\0\0\1\x65", None, True)]
        if self.how == "raise":
            raise EncoderError("driver error")
        return []

    def flush(self) -> list[EncodedPacket]:
        return []

    def close(self) -> None:
        pass


def scripted(spec: tuple[str, int]) -> Callable[[EncoderOffer, EncodeTarget], Scripted]:
    how, good = spec

    def open_(offer: EncoderOffer, target: EncodeTarget) -> Scripted:
        if how == "open":
            raise EncoderError("cannot open")
        return Scripted(good, how)
    return open_


SPECS = st.tuples(st.sampled_from(["open", "raise", "silent", "fine"]),
                  st.integers(0, 8))


@settings(max_examples=150, deadline=None)
@given(st.lists(SPECS, min_size=0, max_size=4), st.integers(1, 60),
       st.floats(0.2, 3.0), st.integers(1, 4))
def test_fallback_policy(specs: list[tuple[str, int]], count: int, step: float,
                         stall_frames: int) -> None:
    now = [0.0]
    offers = [EncoderOffer(f"hw{i}", Engine.V4L2M2M,
                           scripted(spec if spec[0] != "fine" else ("raise", 10**9)))
              for i, spec in enumerate(specs)]
    software = EncoderOffer("sw", Engine.SOFTWARE, scripted(("raise", 10**9)))
    alerts: list[Alert] = []
    session = EncoderSession([*offers, software], TARGET, alert=alerts.append,
                             stall_frames=stall_frames, stall_s=1e9,
                             retry=RetryPolicy(5.0, 20.0), clock=lambda: now[0])
    for _ in range(count):
        session.encode(None)  # never raises: software never fails
        state = session.state()
        names = [c["name"] for c in state["candidates"]]
        active = names.index(session.active)
        # every better encoder is waiting out its backoff: none due was left untried
        assert all(not c["healthy"] for c in state["candidates"][:active])
        assert state["candidates"][active]["healthy"]
        now[0] += step
    assert len(alerts) == sum(c["failures"] for c in session.state()["candidates"])
    assert all(a.code == "encoder_failed" for a in alerts)


def test_no_candidate_is_an_error() -> None:
    with pytest.raises(EncoderError):
        EncoderSession([], TARGET, alert=lambda a: None)
