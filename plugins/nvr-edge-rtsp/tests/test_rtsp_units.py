"""The request parser, URL reader, transport choice, packetizer and config section."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nvr_edge_rtsp.nal import H264, H265, parameter_sets
from nvr_edge_rtsp.protocol import (
    METHODS,
    RtspError,
    parse_head,
    parse_target,
    parse_transport,
    scrub_url,
)
from nvr_edge_rtsp.rtp import aac_payload, fragment, reassemble
from nvr_edge_rtsp.sdp import describe
from nvr_edge_rtsp.settings import read_rtsp

from nvr_edge import StreamInfo, split_annex_b
from nvr_edge.config import ConfigError, parse_config

NAME = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_"), min_size=1,
               max_size=16)
VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)


@given(st.sampled_from(METHODS), NAME, NAME,
       st.dictionaries(NAME.filter(lambda n: n != "cseq"), VALUE, max_size=5),
       st.integers(0, 10**6))
def test_a_well_formed_request_reads_back(method: str, camera: str, stream: str,
                                          headers: dict[str, str], cseq: int) -> None:
    headers.pop("content-length", None)
    lines = [f"{method} rtsp://box:8554/{camera}/{stream} RTSP/1.0", f"CSeq: {cseq}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request, length = parse_head("\r\n".join(lines).encode())
    assert (request.method, request.cseq, length) == (method, str(cseq), 0)
    assert {k: v for k, v in request.headers.items() if k != "cseq"} == \
        {k.lower(): v.strip() for k, v in headers.items()}
    target = parse_target(request.url)
    assert (target.camera, target.stream, target.track) == (camera, stream, None)


@given(st.binary(max_size=300))
def test_any_bytes_are_a_request_or_an_rtsp_error(raw: bytes) -> None:
    try:
        parse_head(raw)
    except RtspError as exc:
        assert 400 <= exc.status < 600 and exc.reason


@given(st.text(max_size=200))
def test_any_url_is_a_target_or_an_rtsp_error(url: str) -> None:
    try:
        parse_target(url)
    except RtspError as exc:
        assert exc.status in (400, 401, 404)


@given(st.text(max_size=200))
def test_any_transport_is_a_choice_or_an_rtsp_error(value: str) -> None:
    try:
        found = parse_transport(value)
    except RtspError as exc:
        assert exc.status in (400, 461)
    else:
        if found.interleaved is not None:
            assert found.client_ports is None and all(0 <= c <= 255 for c in found.interleaved)
        else:
            assert found.client_ports is not None
            assert all(1 <= p <= 65535 for p in found.client_ports)


@pytest.mark.parametrize(("url", "camera", "stream", "track", "token"), [
    ("rtsp://h:8554/cam1/main", "cam1", "main", None, None),
    ("rtsp://h:8554/cam1/main/trackID=1", "cam1", "main", 1, None),
    ("rtsp://h/cam1/sub?token=a.b.c", "cam1", "sub", None, "a.b.c"),
    ("rtsp://h/cam1/sub?token=a.b.c/", "cam1", "sub", None, "a.b.c"),
    ("rtsp://h/cam1/sub?token=a.b.c/trackID=0", "cam1", "sub", 0, "a.b.c"),
    ("rtsp://h/cam1/sub/trackID=0?token=a.b.c", "cam1", "sub", 0, "a.b.c"),
    ("*", None, None, None, None),
])
def test_urls_name_path_track_and_token(url: str, camera: str | None, stream: str | None,
                                        track: int | None, token: str | None) -> None:
    target = parse_target(url)
    assert (target.camera, target.stream, target.track, target.token) == \
        (camera, stream, track, token)


def test_logged_urls_carry_no_token_or_password() -> None:
    assert scrub_url("rtsp://u:pw@h:8554/cam1/main?token=a.b.c") == "rtsp://h:8554/cam1/main"


def test_the_first_served_transport_is_taken_and_multicast_is_461() -> None:
    assert parse_transport("RTP/AVP;unicast;client_port=5000-5001").client_ports == \
        (5000, 5001)
    found = parse_transport("RTP/AVP;multicast;client_port=5000-5001,RTP/AVP/TCP;interleaved=2-3")
    assert (found.interleaved, found.client_ports) == ((2, 3), None)
    with pytest.raises(RtspError) as refused:
        parse_transport("RTP/AVP;multicast;port=5000-5001")
    assert refused.value.status == 461
    with pytest.raises(RtspError, match="client_port must be 'n-m'"):
        parse_transport("RTP/AVP;unicast;client_port=a-b")


def _nal(codec: str) -> st.SearchStrategy[bytes]:
    head = st.integers(1, 23).map(lambda t: bytes((0x60 | t,))) if codec == H264 else \
        st.integers(0, 40).map(lambda t: bytes((t << 1, 1)))
    return st.tuples(head, st.binary(min_size=0, max_size=5000)).map(lambda p: p[0] + p[1])


@settings(max_examples=200)
@given(st.sampled_from([H264, H265]).flatmap(lambda c: st.tuples(st.just(c), _nal(c))),
       st.integers(16, 1500))
def test_fragments_reassemble_into_the_nal(codec_nal: tuple[str, bytes],
                                          max_payload: int) -> None:
    codec, nal = codec_nal
    payloads = list(fragment(codec, nal, max_payload))
    assert all(len(p) <= max_payload for p in payloads)
    assert reassemble(codec, payloads) == nal
    if len(payloads) > 1:  # FU-A / FU: start bit on the first only, end bit on the last
        at = 1 if codec == H264 else 2
        assert [bool(p[at] & 0x80) for p in payloads] == [True] + [False] * (len(payloads) - 1)
        assert [bool(p[at] & 0x40) for p in payloads] == [False] * (len(payloads) - 1) + [True]


@given(st.lists(st.binary(min_size=1, max_size=200).filter(
    lambda b: b"\x00\x00" not in b and not b.endswith(b"\x00")), min_size=1, max_size=8),
       st.lists(st.booleans(), min_size=8, max_size=8))
def test_annexb_splits_into_its_nals(nals: list[bytes], long_codes: list[bool]) -> None:
    data = b"".join((b"\x00\x00\x00\x01" if long_codes[i] else b"\x00\x00\x01") + n
                    for i, n in enumerate(nals))
    assert split_annex_b(data) == nals


def test_avcc_extradata_gives_sps_and_pps() -> None:
    sps, pps = bytes.fromhex("6742c01e95a0"), bytes.fromhex("68ce3c80")
    avcc = bytes((1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1)) + len(sps).to_bytes(2, "big") + sps \
        + b"\x01" + len(pps).to_bytes(2, "big") + pps
    assert parameter_sets(H264, avcc) == ([sps, pps], 4)
    assert parameter_sets(H264, b"\x00\x00\x00\x01" + sps + b"\x00\x00\x01" + pps) == \
        ([sps, pps], 4)


def test_aac_adts_header_is_replaced_by_an_au_header() -> None:
    frame = b"\x21\x10\x04\x60"
    adts = bytes((0xFF, 0xF1, 0x50, 0x80, 0x01, 0x7F, 0xFC)) + frame
    assert aac_payload(adts) == aac_payload(frame) == b"\x00\x10\x00\x20" + frame


@pytest.mark.parametrize(("table", "message"), [
    ({"listen": "box.local"}, r"rtsp\.listen: 'box\.local' is not an IP address"),
    ({"port": 0}, r"rtsp\.port"),
    ({"users": {}}, "expected an array of tables"),
    ({"users": [{"name": "a"}]}, r"rtsp\.users\[0\]\.password: is required"),
    ({"users": [{"name": "a:b", "password": "x"}]}, "may not contain ':'"),
    ({"users": [{"name": "a", "password": "x"}, {"name": "a", "password": "y"}]},
     "listed twice"),
    ({"tokens": False}, "at least one user is needed"),
    ({"stall_timeout_s": 0.1}, r"rtsp\.stall_timeout_s"),
    ({"bogus": 1}, "unknown key"),
])
def test_bad_rtsp_settings_are_named(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"device": {"id": "box"}, "rtsp": table}, readers={"rtsp": read_rtsp})


def test_an_empty_table_listens_on_8554_with_tokens_and_none_listens_nowhere() -> None:
    config = parse_config({"device": {"id": "box"}}, readers={"rtsp": read_rtsp})
    assert config.sections["rtsp"] is None
    config = parse_config({"device": {"id": "box"}, "rtsp": {}}, readers={"rtsp": read_rtsp})
    settings = config.sections["rtsp"]
    assert (settings.listen, settings.port, settings.tokens, settings.enabled) == \
        ("0.0.0.0", 8554, True, True)


def _hvcc(vps: bytes, sps: bytes, pps: bytes) -> bytes:
    arrays = b"".join(bytes((0x80 | kind,)) + b"\x00\x01" + len(n).to_bytes(2, "big") + n
                      for kind, n in ((32, vps), (33, sps), (34, pps)))
    return bytes(21) + b"\x03" + b"\x03" + arrays  # lengthSizeMinusOne = 3, 3 arrays


def test_sdp_carries_h265_parameter_sets_and_refuses_mjpeg() -> None:
    vps, sps, pps = b"\x40\x01\x0c", b"\x42\x01\x01\x60", b"\x44\x01\xc1"
    info = StreamInfo("hevc", 1920, 1080, (1, 90000), _hvcc(vps, sps, pps))
    assert parameter_sets(H265, info.video_extradata) == ([vps, sps, pps], 4)
    sdp = describe(info, "cam1/main", "127.0.0.1").sdp
    assert "a=rtpmap:96 H265/90000" in sdp
    assert "sprop-vps=QAEM;sprop-sps=QgEBYA==;sprop-pps=RAHB" in sdp
    assert "m=audio" not in sdp
    with pytest.raises(ValueError, match="'mjpeg' is not served"):
        describe(StreamInfo("mjpeg", 640, 480, (1, 90000)), "cam1/main", "127.0.0.1")


def test_sdp_offers_aac_and_says_which_audio_it_left_out() -> None:
    aac = StreamInfo("h264", 640, 360, (1, 90000), audio_codec="aac", sample_rate=48000,
                     channels=2, audio_extradata=bytes.fromhex("1190"))
    tracks = describe(aac, "cam1/sub", "127.0.0.1")
    assert tracks.audio and "MPEG4-GENERIC/48000/2" in tracks.sdp and "config=1190" in tracks.sdp
    g711 = StreamInfo("h264", 640, 360, (1, 90000), audio_codec="pcm_alaw", sample_rate=8000,
                      channels=1)
    tracks = describe(g711, "cam1/sub", "127.0.0.1")
    assert (tracks.audio, tracks.skipped_audio) == (False, "pcm_alaw")
