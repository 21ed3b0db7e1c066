"""The multivariant playlist's audio rendition without a box: a muxer writing the live
stream's AAC alone (`video=False`) cuts its parts and segments where the same stream's
video parts are cut, so its playlist keeps in step with the rungs', every part independent,
holding only audio, on the same media time as the audio muxed beside the video."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from nvr_edge_web.hls.muxer import Muxer
from nvr_edge_web.hls.timeline import Timeline
from nvr_edge_web.hls.window import Window

from nvr_edge import LivePacket, StreamInfo

SPS = bytes([0x67, 0x42, 0xC0, 0x1E, 0xDA])
PPS = bytes([0x68, 0xCE, 0x38, 0x80])
START = b"\x00\x00\x00\x01"
RATE = 48_000
INFO = StreamInfo("h264", 640, 360, (1, 90_000), START + SPS + START + PPS,
                  audio_codec="aac", sample_rate=RATE, channels=1,
                  audio_extradata=bytes([0x11, 0x88]))  # AAC-LC, 48 kHz, mono


def packets(gops: list[int], audio_every: int) -> list[LivePacket]:
    """30 fps video, GOPs of the given lengths; an AAC frame (1024 samples, in its own
    48 kHz time base) after every `audio_every`-th video frame, as a camera interleaves."""
    made, audio_at = [], 0
    frame = 0
    for length in gops:
        for index in range(length):
            stamp = frame * 3000
            nal = (b"\x65" if index == 0 else b"\x41") + bytes(20)
            made.append(LivePacket(False, index == 0, stamp, stamp, 3000, (1, 90_000),
                                   START + nal, arrival=frame / 30))
            frame += 1
            while frame % audio_every == 0 and audio_at * 1024 * 90_000 // RATE <= stamp:
                made.append(LivePacket(True, True, audio_at * 1024, audio_at * 1024, 1024,
                                       (1, RATE), b"\x21" + bytes(30), arrival=frame / 30))
                audio_at += 1
    return made


def tracks(data: bytes) -> list[int]:
    """The track ids of a fragment's trafs (each traf's tfhd)."""
    found, at = [], 0
    while (at := data.find(b"tfhd", at)) >= 0:
        found.append(struct.unpack(">I", data[at + 8:at + 12])[0])
        at += 4
    return found


def traf(data: bytes, track: int) -> tuple[int, int]:
    """The track's base decode time (tfdt) and sample count (trun) in a fragment."""
    at = 0
    while (at := data.find(b"tfhd", at)) >= 0:
        if struct.unpack(">I", data[at + 8:at + 12])[0] == track:
            tfdt, trun = data.index(b"tfdt", at), data.index(b"trun", at)
            return (int(struct.unpack(">Q", data[tfdt + 8:tfdt + 16])[0]),
                    int(struct.unpack(">I", data[trun + 8:trun + 12])[0]))
        at += 4
    return 0, 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(15, 60), min_size=2, max_size=4), st.integers(1, 3))
def test_the_audio_rendition_keeps_in_step_with_the_video(gops: list[int],
                                                          audio_every: int) -> None:
    both, alone = Window(), Window()
    muxed = Muxer(INFO, both, timeline=Timeline())
    audio = Muxer(INFO, alone, timeline=Timeline(), video=False)
    for packet in packets(gops, audio_every):
        muxed.add(packet)
        audio.add(packet)
    assert muxed.init is not None and audio.init is not None
    assert b"mp4a" in audio.init and b"avc1" not in audio.init and b"avc1" in muxed.init
    # the same segments (a keyframe past 1 s cuts both), every audio part independent
    assert [s.msn for s in alone.segments] == [s.msn for s in both.segments]
    assert [s.complete for s in alone.segments] == [s.complete for s in both.segments]
    parts = [p for s in alone.segments for p in s.parts]
    assert parts and all(p.independent and tracks(p.data) == [2] for p in parts)
    # the audio's media time is the audio muxed beside the video's, and every audio frame
    # muxed beside the video is in the rendition (the open part's aside), no more
    with_audio = [p for s in both.segments for p in s.parts if 2 in tracks(p.data)]
    assert traf(parts[0].data, 2)[0] == traf(with_audio[0].data, 2)[0]
    assert sum(traf(p.data, 2)[1] for p in parts) \
        == sum(traf(p.data, 2)[1] for p in with_audio)
