"""The simulated camera's ONVIF face: a WS-Discovery responder and the SOAP device and
media services (onvif_soap.py), whose stream URIs point at the RTSP server's streams.

Stdlib only, written apart from the nvr-edge-onvif plugin (a fake that shared the
client's code would agree with its bugs). Knobs for the field's failures: a clock offset
(tokens are checked against the camera's clock), an XAddr of `0.0.0.0`, a password,
HTTP Digest instead of WS-UsernameToken. With `multicast`, it announces itself with a
WS-Discovery Hello when it starts and a Bye when it stops, as cameras do on boot and
orderly shutdown.
Run it in a network namespace with ``python -m nvr_edge_testing.simcam.onvif``::

    with OnvifFace(OnvifCamera(rtsp="rtsp://10.0.0.2:8554/cam1"), advertise="10.0.0.2"):
        ...
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import uuid
from fractions import Fraction
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

from nvr_edge_testing.simcam import PASSWORD_ENV, SimCameraServer
from nvr_edge_testing.simcam.onvif_model import OnvifCamera, SimProfile
from nvr_edge_testing.simcam.onvif_soap import MAX_REQUEST, handler_for

MULTICAST_GROUP = "239.255.255.250"
DISCOVERY_PORT = 3702
APP_MAX_DELAY_S = 0.5  # SOAP-over-UDP: a device waits up to this before answering multicast


def snapshot_jpeg(width: int = 800, height: int = 450) -> bytes:
    """A JPEG for a face's snapshot: grey, of a size none of the clips has, so a test can
    tell a snapshot from a picture of a stream."""
    import av  # the face itself needs no PyAV

    frame = av.VideoFrame(width, height, "yuvj420p")
    for plane in frame.planes:
        plane.update(bytes([128]) * plane.buffer_size)
    encoder: Any = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    return b"".join(bytes(p) for p in encoder.encode(frame) + encoder.encode(None))


def onvif_camera_of(server: SimCameraServer, camera: int = 1, **fields: Any) -> OnvifCamera:
    """The ONVIF identity of `server`'s camera `camera`: its URL, user, password and the
    sizes of its main and sub clips (a live clock sub stream is left out)."""
    url = server.url(camera, with_credentials=False).rsplit("/", 1)[0]
    profiles = [SimProfile("main", server.main.width, server.main.height, server.main.fps,
                           "main")]
    if server.sub is not None:
        profiles.append(SimProfile("sub", server.sub.width, server.sub.height, server.sub.fps,
                                   "sub"))
    fields = {"user": server.user, "password": server.password, **fields}
    return OnvifCamera(rtsp=url, profiles=tuple(profiles), **fields)


class OnvifFace:
    """Serves `camera` over HTTP on `http_host:http_port` (0: any free port) and answers
    Probes on UDP `discovery_port` at `advertise`; multicast ones too when `multicast`
    (the group is joined on the interface whose address is `advertise`), those after a
    random wait of up to `reply_delay_max_s`, as WS-Discovery devices do (APP_MAX_DELAY)."""

    def __init__(self, camera: OnvifCamera, *, advertise: str = "127.0.0.1",
                 http_host: str = "0.0.0.0", http_port: int = 0,
                 discovery_port: int = DISCOVERY_PORT, multicast: bool = True,
                 reply_delay_max_s: float = APP_MAX_DELAY_S) -> None:
        self.camera = camera
        self.advertise = advertise
        self.discovery_port = discovery_port
        self.reply_delay_max_s = reply_delay_max_s
        self.http = ThreadingHTTPServer((http_host, http_port), handler_for(camera))
        self.http.daemon_threads = True
        self.udp = self._udp_socket(advertise)
        self.group = self._udp_socket(MULTICAST_GROUP) if multicast else None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._sequence = 0  # AppSequence MessageNumber of Hello and Bye

    @property
    def http_port(self) -> int:
        return int(self.http.server_address[1])

    @property
    def device_url(self) -> str:
        return f"http://{self.advertise}:{self.http_port}/onvif/device_service"

    def start(self) -> OnvifFace:
        if self.group is not None:
            self.hello()
        targets = [self._serve_http, lambda: self._answer_probes(self.udp, 0.0)]
        if self.group is not None:
            group = self.group
            targets.append(lambda: self._answer_probes(group, self.reply_delay_max_s))
        for target in targets:
            thread = threading.Thread(target=target, daemon=True, name="simcam-onvif")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, bye: bool = True) -> None:
        """`bye` False: vanish without a word (a camera losing power)."""
        if bye and self.group is not None:
            self.bye()
        self._stopping.set()
        self.http.shutdown()
        self.http.server_close()
        self.udp.close()
        if self.group is not None:
            self.group.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> OnvifFace:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _serve_http(self) -> None:
        self.http.serve_forever(poll_interval=0.05)  # stop() returns in 50 ms, not 500

    def _udp_socket(self, address: str) -> socket.socket:
        """Bound to `address`: this face's own (unicast Probes) or the group's (multicast
        ones only: a socket bound to a group address gets nothing else)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, self.discovery_port))
        if address == MULTICAST_GROUP:
            membership = struct.pack("4s4s", socket.inet_aton(MULTICAST_GROUP),
                                     socket.inet_aton(self.advertise))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sock.settimeout(0.2)
        return sock

    def _answer_probes(self, sock: socket.socket, delay_max_s: float) -> None:
        while not self._stopping.is_set():
            try:
                data, sender = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            message_id = _probe_for_cameras(data)
            if message_id is not None:
                reply = self._probe_match(message_id)
                timer = threading.Timer(random.uniform(0, delay_max_s), self._send,
                                        (reply, sender))
                timer.daemon = True
                timer.start()

    def hello(self, to: tuple[str, int] | None = None) -> None:
        """Announce this camera (type, scopes, XAddrs) to the multicast group, or to `to`
        only (a test on loopback, which carries no multicast)."""
        self._announce(_HELLO.format(body=self._match_body(), **self._headers("Hello")), to)

    def bye(self) -> None:
        urn = escape(self.camera.urn)
        self._announce(_BYE.format(urn=urn, **self._headers("Bye")))

    def _headers(self, action: str) -> dict[str, str]:
        self._sequence += 1
        return {"message_id": f"urn:uuid:{uuid.uuid4()}", "action": action,
                "sequence": str(self._sequence)}

    def _announce(self, text: str, to: tuple[str, int] | None = None) -> None:
        """Out of the interface whose address is `advertise`, from our own socket."""
        with contextlib.suppress(OSError):
            self.udp.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                socket.inet_aton(self.advertise))
            self.udp.sendto(text.encode(), to or (MULTICAST_GROUP, self.discovery_port))

    def _send(self, reply: bytes, to: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):  # stopped meanwhile
            self.udp.sendto(reply, to)  # from our own address, as the client expects

    def _probe_match(self, relates_to: str) -> bytes:
        return _PROBE_MATCHES.format(
            message_id=f"urn:uuid:{uuid.uuid4()}", relates_to=escape(relates_to),
            body=self._match_body()).encode()

    def _match_body(self) -> str:
        """What a ProbeMatch and a Hello both say: who, what, where."""
        cam = self.camera
        host = "0.0.0.0" if cam.zero_xaddr else self.advertise
        scopes = " ".join([
            "onvif://www.onvif.org/Profile/Streaming",
            f"onvif://www.onvif.org/name/{_scope_text(cam.name)}",
            f"onvif://www.onvif.org/hardware/{_scope_text(cam.model)}"])
        return _MATCH_BODY.format(
            urn=escape(cam.urn), scopes=escape(scopes),
            xaddrs=f"http://{host}:{self.http_port}/onvif/device_service")


def _scope_text(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._~-]", lambda m: f"%{ord(m.group()):02X}", text)


def _probe_for_cameras(data: bytes) -> str | None:
    """The MessageID of a Probe whose Types are empty or name NetworkVideoTransmitter."""
    text = data[:MAX_REQUEST].decode("utf-8", "replace")
    if not re.search(r"<(\w+:)?Probe[\s>/]", text):
        return None
    types = re.search(r"<(?:\w+:)?Types[^>]*>([^<]*)<", text)
    if types and types.group(1).strip() and "NetworkVideoTransmitter" not in types.group(1):
        return None
    message_id = re.search(r"<(?:\w+:)?MessageID[^>]*>([^<]+)<", text)
    return message_id.group(1).strip() if message_id else ""


# Every WS-Discovery message the face sends opens the same way.
_ENVELOPE_OPEN = """<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" \
xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" \
xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" \
xmlns:tdn="http://www.onvif.org/ver10/network/wsdl">
<SOAP-ENV:Header><wsa:MessageID>{message_id}</wsa:MessageID>
"""

_PROBE_MATCHES = _ENVELOPE_OPEN + """<wsa:RelatesTo>{relates_to}</wsa:RelatesTo>
<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
</SOAP-ENV:Header><SOAP-ENV:Body><wsdd:ProbeMatches><wsdd:ProbeMatch>{body}
</wsdd:ProbeMatch></wsdd:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"""

_MATCH_BODY = """
<wsa:EndpointReference><wsa:Address>{urn}</wsa:Address></wsa:EndpointReference>
<wsdd:Types>tdn:NetworkVideoTransmitter</wsdd:Types><wsdd:Scopes>{scopes}</wsdd:Scopes>
<wsdd:XAddrs>{xaddrs}</wsdd:XAddrs><wsdd:MetadataVersion>1</wsdd:MetadataVersion>"""

_ANNOUNCEMENT_HEAD = _ENVELOPE_OPEN + """\
<wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>
<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/{action}</wsa:Action>
<wsdd:AppSequence InstanceId="1" MessageNumber="{sequence}"/>
</SOAP-ENV:Header><SOAP-ENV:Body>"""
_HELLO = _ANNOUNCEMENT_HEAD + """<wsdd:Hello>{body}
</wsdd:Hello></SOAP-ENV:Body></SOAP-ENV:Envelope>"""
_BYE = _ANNOUNCEMENT_HEAD + """<wsdd:Bye>
<wsa:EndpointReference><wsa:Address>{urn}</wsa:Address></wsa:EndpointReference>
</wsdd:Bye></SOAP-ENV:Body></SOAP-ENV:Envelope>"""


# ------------------------------------------------------------------ command line

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="a simulated camera's ONVIF face")
    p.add_argument("--rtsp", required=True, help="the camera's RTSP URL without the stream")
    p.add_argument("--advertise", required=True, help="this namespace's address")
    p.add_argument("--urn")
    p.add_argument("--name", default="SimCam")
    p.add_argument("--user", help="the password comes in $" + PASSWORD_ENV)
    p.add_argument("--clock-offset", type=float, default=0.0)
    p.add_argument("--zero-xaddr", action="store_true")
    p.add_argument("--auth", choices=("ws", "http-digest"), default="ws")
    p.add_argument("--no-multicast", action="store_true")
    p.add_argument("--reply-delay-max", type=float, default=APP_MAX_DELAY_S,
                   help="seconds; multicast Probes are answered after a random wait")
    p.add_argument("--http-port", type=int, default=0)
    p.add_argument("--discovery-port", type=int, default=DISCOVERY_PORT)
    args = p.parse_args(argv)
    camera = OnvifCamera(rtsp=args.rtsp, name=args.name, user=args.user,
                         password=os.environ.get(PASSWORD_ENV) if args.user else None,
                         clock_offset_s=args.clock_offset, zero_xaddr=args.zero_xaddr,
                         auth=args.auth)
    if args.urn:
        camera.urn = args.urn
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    with OnvifFace(camera, advertise=args.advertise, http_port=args.http_port,
                   discovery_port=args.discovery_port, multicast=not args.no_multicast,
                   reply_delay_max_s=args.reply_delay_max) as face:
        print(f"READY {face.http_port} {camera.urn}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
