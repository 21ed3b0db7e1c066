"""The rungs' admission (live/rung_gate.py): on the camera's ladder as the hub has seen its
streams, an encoder that passed its probe, and room in the software budget; each refusal
names its reason, as the API lists it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.encode.offer import EncoderOffer, Engine
from nvr_edge.encode.software import open_software
from nvr_edge.live.rung_gate import RungGate
from nvr_edge.live.wire import StreamInfo

X264 = EncoderOffer("libx264", Engine.SOFTWARE, open_software)
HW = EncoderOffer("fake_hw", Engine.RKMPP, open_software, device="/dev/null", priority=10)
INFOS = {("cam1", "live"): StreamInfo("h264", 640, 480, (1, 90000), source="sub"),
         ("cam1", "main"): StreamInfo("h264", 1920, 1080, (1, 90000), source="main"),
         ("cam2", "live"): StreamInfo("h264", 640, 360, (1, 90000), source="main")}


def gate(budget: int, offers: list[EncoderOffer] | None) -> RungGate:
    return RungGate(budget, lambda cam, stream: INFOS.get((cam, stream)), lambda: offers)


def test_the_ladder_is_made_from_the_streams_the_hub_has_seen() -> None:
    g = gate(10_000_000, [X264])
    assert [(r["name"], r["width"], r["height"], r["stream"]) for r in g.rungs("cam1")] == [
        ("main", 1920, 1080, "main"), ("sub", 640, 480, "live"), ("360p", 640, 360, "360p"),
        ("240p", 426, 240, "240p")]
    assert g.rungs("cam2")[0]["stream"] == "live"  # no sub: the main stream is the live one
    # no sub stream: rungs only below the main one (640x360 is no 360p rung)
    assert [r["name"] for r in g.rungs("cam2")] == ["main", "240p"]
    assert g.admit("cam2", "360p") == "not below the camera's live stream (it is no larger)"
    # a camera not seen yet: its rungs as configured, admitted (the worker knows better)
    assert [r["name"] for r in g.rungs("cam9")] == ["360p", "240p"]
    assert g.admit("cam9", "240p") == ""


def test_software_rungs_are_refused_over_the_budget_and_hardware_ones_are_not_counted() -> None:
    g = gate(7_000_000, [X264])  # the 360p rung (5.76 M pixels/s) fits, not 240p beside it
    assert g.admit("cam1", "360p") == ""
    assert g.admit("cam1", "360p") == ""  # (counted once)
    refused = g.admit("cam1", "240p")
    assert refused == "over the software encoding budget (8,316,000 of 7,000,000 pixels/s)"
    assert {r["name"]: r["reason"] for r in g.rungs("cam1")}["240p"] == refused
    g.release("cam1", "360p")
    assert g.admit("cam1", "240p") == ""
    assert gate(0, [HW, X264]).admit("cam1", "240p") == ""  # the best encoder is hardware
    assert gate(10_000_000, None).admit("cam1", "240p") == "no encoder passed its probe"
    assert gate(10_000_000, []).rungs("cam2")[-1] == {
        "name": "240p", "width": 426, "height": 240, "kbps": 250, "transcoded": True,
        "available": False, "reason": "no encoder passed its probe", "stream": "240p"}
    assert gate(0, None).admit("cam1", "live") == ""  # passed through: no encoder


@given(st.integers(0, 20_000_000),
       st.lists(st.tuples(st.booleans(), st.sampled_from(["cam1", "cam2", "cam9"]),
                          st.sampled_from(["360p", "240p"])), max_size=30))
def test_the_budget_is_never_overrun(budget: int, steps: list[tuple[bool, str, str]]) -> None:
    g = gate(budget, [X264])
    for admit, camera, rung in steps:
        if admit:
            g.admit(camera, rung)
        else:
            g.release(camera, rung)
        assert sum(g.budget.running.values()) <= budget
