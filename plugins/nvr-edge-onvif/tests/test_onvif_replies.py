"""ProbeMatch and SOAP replies in the shapes cameras send, and junk: discovery never raises
for what a device sent."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nvr_edge_onvif import soap
from nvr_edge_onvif import untrusted_xml as ux
from nvr_edge_onvif.candidates import describe
from nvr_edge_onvif.client import camera_utc, main_and_sub, parse_profile
from nvr_edge_onvif.probe import ProbeMatch, parse_probe_matches, probe_message
from nvr_edge_onvif.prober import matches_in, unicast_targets

SENDER = "192.0.2.7"

# Prefixes and layouts seen in the field: gSOAP's SOAP-ENV/wsdd/tdn (Hikvision, Dahua),
# d:/dn: (python-ws-discovery), default namespaces without prefixes, pretty-printed.
MATCH = """<?xml version="1.0" encoding="UTF-8"?>
<{env}Envelope {ns}><{env}Body><{d}ProbeMatches>{matches}</{d}ProbeMatches></{env}Body>
</{env}Envelope>"""
ONE = """<{d}ProbeMatch><{a}EndpointReference><{a}Address>{urn}</{a}Address>
</{a}EndpointReference><{d}Types>{types}</{d}Types>
<{d}Scopes>onvif://www.onvif.org/name/Front%20Door onvif://www.onvif.org/hardware/IPC-X1
 onvif://www.onvif.org/Profile/Streaming</{d}Scopes>
<{d}XAddrs>
  {xaddrs}
</{d}XAddrs></{d}ProbeMatch>"""
NS = ('xmlns{e}="http://www.w3.org/2003/05/soap-envelope" '
      'xmlns{a}="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
      'xmlns{d}="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
      'xmlns:tdn="http://www.onvif.org/ver10/network/wsdl" '
      'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"')


def reply(*matches: tuple[str, str, str],
          prefixes: tuple[str, str, str] = ("SOAP-ENV", "wsa", "wsdd")) -> bytes:
    e, a, d = prefixes
    body = "".join(ONE.format(urn=u, types=t, xaddrs=x, a=f"{a}:", d=f"{d}:")
                   for u, t, x in matches)
    return MATCH.format(matches=body, ns=NS.format(e=f":{e}", a=f":{a}", d=f":{d}"),
                        env=f"{e}:", d=f"{d}:").encode()


def test_a_match_in_default_namespaces_without_prefixes() -> None:
    data = b"""<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body>
      <ProbeMatches xmlns="http://schemas.xmlsoap.org/ws/2005/04/discovery"><ProbeMatch>
      <EndpointReference xmlns="http://schemas.xmlsoap.org/ws/2004/08/addressing">
      <Address>urn:uuid:plain</Address></EndpointReference>
      <Types xmlns:x="http://www.onvif.org/ver10/network/wsdl">x:NetworkVideoTransmitter</Types>
      <XAddrs>http://192.0.2.7:2020/onvif/device_service</XAddrs>
      </ProbeMatch></ProbeMatches></Body></Envelope>"""
    [match] = parse_probe_matches(data, SENDER)
    assert (match.urn, match.xaddrs) == ("urn:uuid:plain",
                                         ("http://192.0.2.7:2020/onvif/device_service",))
    assert match.scope("name") == ""


def test_the_probe_asks_for_video_transmitters_with_a_fresh_message_id() -> None:
    (id1, probe), (id2, _) = probe_message(), probe_message()
    root = ux.parse(probe, 8192)
    assert id1 != id2 and ux.text(root, "MessageID") == id1
    assert ux.text(root, "Types") == "dn:NetworkVideoTransmitter"


@pytest.mark.parametrize("prefixes", [("SOAP-ENV", "wsa", "wsdd"), ("s", "a", "d"),
                                      ("env", "wsa5", "wsd")])
def test_a_match_is_read_whatever_the_prefixes(prefixes: tuple[str, str, str]) -> None:
    data = reply(("urn:uuid:cam-1", "tdn:NetworkVideoTransmitter tds:Device",
                  "http://192.0.2.7/onvif/device_service"), prefixes=prefixes)
    [match] = parse_probe_matches(data, SENDER)
    assert match.urn == "urn:uuid:cam-1"
    assert match.xaddrs == ("http://192.0.2.7/onvif/device_service",)
    assert match.scope("name") == "Front Door" and match.scope("hardware") == "IPC-X1"


def test_several_xaddrs_ipv4_first_and_zero_address_replaced_by_the_sender() -> None:
    data = reply(("urn:uuid:cam-2", "dn:NetworkVideoTransmitter",
                  "http://[fe80::1]/onvif/device_service http://[2001:db8::5]:80/onvif/device "
                  "http://0.0.0.0:8080/onvif/device_service ftp://192.0.2.7/x not-a-url "
                  "http://camera.local/onvif/device_service"))
    [match] = parse_probe_matches(data, SENDER)
    assert match.xaddrs == ("http://192.0.2.7/onvif/device_service",
                            "http://192.0.2.7:8080/onvif/device_service",
                            "http://camera.local/onvif/device_service",
                            "http://[2001:db8::5]:80/onvif/device")


def test_printers_and_matches_without_identity_or_address_are_ignored() -> None:
    data = reply(("urn:uuid:printer", "wprt:PrintDeviceType", "http://192.0.2.9/wsd"),
                 ("urn:uuid:nas", "pub:Computer", "http://192.0.2.10/wsd"),
                 ("", "dn:NetworkVideoTransmitter", "http://192.0.2.11/onvif"),
                 ("urn:uuid:no-xaddr", "dn:NetworkVideoTransmitter", ""),
                 ("urn:uuid:cam-3", "NetworkVideoTransmitter", "http://192.0.2.12/onvif"))
    assert [m.urn for m in parse_probe_matches(data, SENDER)] == ["urn:uuid:cam-3"]


@pytest.mark.parametrize("junk", [
    b"", b"\x00\xff" * 100, b"<a>", b"not xml at all",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;&a;</x>',
    '<?xml version="1.0" encoding="UTF-16"?><x/>'.encode("utf-16"),
    b"<x>" * 200 + b"</x>" * 200,  # too deep
    b"<x>" + b"a" * 70_000 + b"</x>",  # over one datagram
])
def test_junk_is_ignored_by_the_prober(junk: bytes) -> None:
    assert matches_in(junk, SENDER) == []


def test_a_hello_or_an_unrelated_soap_message_yields_nothing() -> None:
    hello = (b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
             b'<d:Hello xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"/>'
             b"</e:Body></e:Envelope>")
    assert parse_probe_matches(hello, SENDER) == []


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes_never_raise(data: bytes) -> None:
    matches_in(data, SENDER)


_FIELD = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(urn=_FIELD, types=_FIELD, xaddrs=st.lists(_FIELD, max_size=4),
       cut=st.integers(min_value=0, max_value=4000))
def test_fuzz_mangled_matches_never_raise(urn: str, types: str, xaddrs: list[str],
                                          cut: int) -> None:
    from xml.sax.saxutils import escape

    data = reply((escape(urn), escape(types), escape(" ".join(xaddrs))))
    for candidate in (data, data[:cut], data.replace(b"ProbeMatch>", b"ProbeMatch/>", 1)):
        for match in matches_in(candidate, SENDER):
            assert match.urn and match.xaddrs


def test_directed_probe_targets_from_addresses_subnets_and_names() -> None:
    assert unicast_targets(["192.0.2.9", "10.1.2.0/30", "192.0.2.9", "localhost",
                            "10.0.0.0/8", "bad\x00host"]) == [
        "192.0.2.9", "10.1.2.1", "10.1.2.2", "127.0.0.1"]


def test_profiles_become_main_and_sub_by_resolution() -> None:
    body = ux.parse(b"""<B xmlns:tt="t" xmlns:trt="m">
      <trt:Profiles token="p0"><tt:Name>Main</tt:Name><tt:VideoEncoderConfiguration>
        <tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>2560</tt:Width>
        <tt:Height>1440</tt:Height></tt:Resolution><tt:RateControl>
        <tt:FrameRateLimit>25</tt:FrameRateLimit></tt:RateControl>
      </tt:VideoEncoderConfiguration></trt:Profiles>
      <trt:Profiles token="p1"><tt:VideoEncoderConfiguration><tt:Encoding>H264</tt:Encoding>
        <tt:Resolution><tt:Width>704</tt:Width><tt:Height>576</tt:Height></tt:Resolution>
      </tt:VideoEncoderConfiguration></trt:Profiles>
      <trt:Profiles token="audio"><tt:Name>Audio only</tt:Name></trt:Profiles>
      <trt:Profiles token="bad"><tt:VideoEncoderConfiguration><tt:Resolution>
        <tt:Width>wide</tt:Width><tt:Height>1</tt:Height></tt:Resolution>
      </tt:VideoEncoderConfiguration></trt:Profiles>
      <trt:Profiles token="nan"><tt:VideoEncoderConfiguration><tt:Resolution>
        <tt:Width>320</tt:Width><tt:Height>240</tt:Height></tt:Resolution><tt:RateControl>
        <tt:FrameRateLimit>nan</tt:FrameRateLimit></tt:RateControl>
      </tt:VideoEncoderConfiguration></trt:Profiles></B>""", 1 << 20)
    profiles = [p for p in map(parse_profile, ux.find_all(body, "Profiles")) if p]
    assert [(p.token, p.name, p.width, p.fps) for p in profiles] == [
        ("p0", "Main", 2560, 25.0), ("p1", "p1", 704, None), ("nan", "nan", 320, None)]
    assert main_and_sub(profiles) == {"p0": "main", "nan": "sub"}
    assert main_and_sub(profiles[:1]) == {"p0": "main"}
    twins = [replace(profiles[1], token="a"), replace(profiles[1], token="b")]
    assert main_and_sub(twins) == {"a": "main", "b": "sub"}  # the earlier one is main


@settings(max_examples=300, deadline=None)
@given(status=st.sampled_from([200, 400, 401, 500]), data=st.one_of(
    st.binary(max_size=512),
    st.builds(lambda inner: (
        '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
        f"{inner}</e:Body></e:Envelope>").encode(),
        st.sampled_from(["", "<e:Fault/>", "<e:Fault><e:Code><e:Value>x:NotAuthorized"
                         "</e:Value></e:Code></e:Fault>", "<Uri>rtsp://a</Uri>"]))))
def test_fuzz_soap_replies_raise_only_onvif_errors(status: int, data: bytes) -> None:
    with contextlib.suppress(soap.OnvifError):
        soap.body_of(status, data, "http://192.0.2.7/onvif/device_service")


def test_camera_time_is_read_from_utc_and_nonsense_is_none() -> None:
    good = ux.parse(b"<r><UTCDateTime><Time><Hour>23</Hour><Minute>5</Minute><Second>9</Second>"
                    b"</Time><Date><Year>2026</Year><Month>2</Month><Day>28</Day></Date>"
                    b"</UTCDateTime></r>", 4096)
    assert camera_utc(good).isoformat() == "2026-02-28T23:05:09+00:00"  # type: ignore[union-attr]
    bad = ux.parse(b"<r><UTCDateTime><Date><Year>2026</Year><Month>13</Month></Date>"
                   b"</UTCDateTime></r>", 4096)
    assert camera_utc(bad) is None
    assert camera_utc(ux.parse(b"<r/>", 64)) is None


_BODY_PARTS = st.sampled_from([
    "<tt:UTCDateTime><tt:Date><tt:Year>99999999999999999999</tt:Year></tt:Date></tt:UTCDateTime>",
    "<tds:Manufacturer>" + "m" * 500 + "</tds:Manufacturer>",
    '<trt:Profiles token="p"><tt:VideoEncoderConfiguration><tt:Resolution><tt:Width>1e9'
    "</tt:Width><tt:Height>-1</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration>"
    "</trt:Profiles>",
    '<trt:Profiles token="q"><tt:VideoEncoderConfiguration><tt:Resolution><tt:Width>64'
    "</tt:Width><tt:Height>64</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration>"
    "</trt:Profiles>",
    "<tt:Media><tt:XAddr>http://[::1</tt:XAddr></tt:Media>",
    "<tt:Uri>javascript:alert(1)</tt:Uri>", "<tt:Uri>rtsp://h/s</tt:Uri>",
    "<s:Fault><s:Reason><s:Text>no</s:Text></s:Reason></s:Fault>", "&amp;", "<x/>",
])


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(_BODY_PARTS, max_size=5), status=st.sampled_from([200, 400, 500]))
def test_fuzz_a_camera_answering_nonsense_gives_a_candidate(parts: list[str],
                                                           status: int) -> None:
    """Whatever a camera answers to every call, `describe` returns a candidate."""
    body = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="t" '
            'xmlns:tds="d" xmlns:trt="m"><s:Body>' + "".join(parts) + "</s:Body></s:Envelope>")
    with canned_http(status, body.encode()) as url:
        candidate = describe(ProbeMatch("urn:uuid:x", (url,), (), "127.0.0.1"), None, 3)
    assert candidate.id == "urn:uuid:x"
    assert all(s.url.startswith("rtsp://") for s in candidate.streams)


@contextmanager
def canned_http(status: int, body: bytes) -> Iterator[str]:
    class Canned(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/onvif/device_service"
    finally:
        server.shutdown()
        server.server_close()
