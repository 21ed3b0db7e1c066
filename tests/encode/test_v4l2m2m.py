"""The V4L2 M2M engine through PyAV, in process (the board images carry no `ffmpeg`
binary; PyAV's wheel has `h264_v4l2m2m` for x86-64 and aarch64 alike). No M2M encoder
exists on this machine (no bcm2835-codec; the QEMU guest's `vicodec` encodes FWHT, not
H.264): what is tested is the offer, the options it opens with, the clear refusal where
there is no device and the fallback to software after it, and the packet handling a
hardware encoder needs (parameter sets before every keyframe, header-only buffers), on
libx264 told not to repeat its headers."""

from __future__ import annotations

import av
import pytest

from nvr_edge import Alert, EncodedPacket, EncoderError, EncoderOffer, EncodeTarget, Engine
from nvr_edge.encode import v4l2m2m
from nvr_edge.encode.annexb import PPS, SPS, HeaderRepeater, nal_types, split_annex_b
from nvr_edge.encode.probe import probe
from nvr_edge.encode.session import EncoderSession
from nvr_edge.encode.software import PyAvEncoder, open_software
from nvr_edge.encode.synthetic import frames

TARGET = EncodeTarget(320, 240, fps=10, gop_s=1.0)
SOFTWARE = EncoderOffer("libx264", Engine.SOFTWARE, open_software)


def m2m_offer() -> EncoderOffer:
    (offer,) = v4l2m2m.nvr_encoders(config=None)
    return offer


def test_pyav_s_m2m_encoder_is_offered_in_process_with_the_child_s_settings() -> None:
    assert v4l2m2m.NAME in av.codecs_available
    offer = m2m_offer()
    assert offer.open is v4l2m2m.open_in_process
    assert (offer.engine, offer.device, offer.priority) == (Engine.V4L2M2M, "/dev/video11", 10)
    assert offer.options["via"] == "pyav"
    # High at 4.1 and 16 capture buffers, as the FFmpeg child's -profile:v/-level/-num_...
    assert v4l2m2m.pyav_options(offer) == {"profile": "100", "level": "41",
                                           "num_capture_buffers": "16"}
    assert list(
        v4l2m2m.engine_args(offer).codec_args[:4]) == ["-profile:v", "high", "-level", "4.1"]


def test_an_unknown_profile_is_refused_by_name() -> None:
    offer = EncoderOffer(v4l2m2m.NAME, Engine.V4L2M2M, v4l2m2m.open_in_process,
                         options={"profile": "ultra", "level": "4.1"})
    with pytest.raises(EncoderError, match="profile 'ultra'"):
        v4l2m2m.open_in_process(offer, TARGET)


def test_without_the_device_it_fails_clearly_and_software_takes_over() -> None:
    offer = m2m_offer()
    verdict = probe(offer, TARGET)
    assert not verdict.ok and verdict.reason == "no device node /dev/video11"
    assert verdict.via == "pyav"
    with pytest.raises(EncoderError, match="h264_v4l2m2m would not open"):
        v4l2m2m.open_in_process(offer, TARGET)
    alerts: list[Alert] = []
    session = EncoderSession([offer, SOFTWARE], TARGET, alert=alerts.append, camera="usb1")
    packets = [p for frame in frames(320, 240, 12) for p in session.encode(frame)]
    assert session.active == "libx264" and packets[0].keyframe
    assert [a.code for a in alerts] == ["encoder_failed"]
    assert "h264_v4l2m2m" in alerts[0].message


def x264_packets(count: int) -> list[EncodedPacket]:
    encoder = PyAvEncoder(TARGET)
    packets: list[EncodedPacket] = []
    for i, frame in enumerate(frames(640, 480, count)):
        packets += encoder.encode(frame, force_keyframe=(i == 15))
    return packets + encoder.flush()


def as_a_v4l2_encoder_sends_them(packets: list[EncodedPacket]) -> list[tuple[bytes, bool]]:
    """The same stream with SPS/PPS once, in a buffer of their own before the first frame."""
    out: list[tuple[bytes, bool]] = []
    for p in packets:
        nals = split_annex_b(p.data)
        headers = [n for n in nals if n[0] & 0x1F in (SPS, PPS)]
        rest = b"".join(b"\x00\x00\x00\x01" + n for n in nals if n not in headers)
        if not out:
            out.append((b"".join(b"\x00\x00\x00\x01" + n for n in headers), False))
        out.append((rest, p.keyframe))
    return out


def test_keyframes_get_the_parameter_sets_a_hardware_encoder_sent_once() -> None:
    packets = x264_packets(35)  # x264 repeats SPS/PPS at every keyframe itself
    keyframes = [i for i, p in enumerate(packets) if p.keyframe]
    assert len(packets) == 35 and keyframes == [0, 10, 15, 25]
    sent = as_a_v4l2_encoder_sends_them(packets)
    assert len(sent) == 36 and all(SPS not in nal_types(d) for d, _ in sent[1:])
    repeater = HeaderRepeater()
    out = [repeater.packet(data, keyframe) for data, keyframe in sent]
    assert out[0] is None  # the headers' own buffer is no frame: it has no pts to take
    assert [o[1] for o in out[1:] if o] == [p.keyframe for p in packets]
    rebuilt = [None] + [o[0] for o in out[1:] if o]
    assert rebuilt[1:] == [normalised(p.data) for p in packets]
    for i in keyframes:  # each keyframe alone starts a decodable stream
        decoder = av.CodecContext.create("h264", "r")
        shown = decoder.decode(av.Packet(rebuilt[i + 1])) + decoder.decode(None)
        assert [(f.width, f.height) for f in shown] == [(320, 240)]


def normalised(data: bytes) -> bytes:
    """Every start code 4 bytes, as parameter_sets writes them."""
    return b"".join(b"\x00\x00\x00\x01" + n for n in split_annex_b(data))


def test_headers_given_only_in_extradata_start_the_first_keyframe() -> None:
    packets = x264_packets(12)
    sent = as_a_v4l2_encoder_sends_them(packets)
    repeater = HeaderRepeater(extradata=sent[0][0])  # a global-header encoder's way
    # not flagged by the encoder: its IDR makes it a keyframe all the same
    assert repeater.packet(sent[1][0], False) == (normalised(packets[0].data), True)
