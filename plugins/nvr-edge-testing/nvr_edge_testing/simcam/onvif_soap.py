"""The simulated camera's SOAP device and media services, with the camera's
authentication: WS-UsernameToken digest checked against its (offset) clock, or HTTP
Digest only. Hand-written apart from the nvr-edge-onvif client on purpose."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from nvr_edge_testing.simcam.onvif_model import OnvifCamera, SimProfile

MAX_REQUEST = 64 * 1024
MEDIA1_CODECS = {"JPEG", "MPEG4", "H264"}  # Media1's whole encoding enum
TOKEN_TOLERANCE_S = 5.0  # as strict as the cameras that say "time check failed"


_ANONYMOUS = {"GetSystemDateAndTime", "GetCapabilities"}  # as on Dahua, Reolink, TP-Link


def handler_for(camera: OnvifCamera) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST:
                self._reply(413, b"")
                return
            request = self.rfile.read(length).decode("utf-8", "replace")
            action = re.search(r"<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?(\w+)", request)
            name = action.group(1) if action else ""
            if self.path.endswith("/media2_service"):  # same action names, other service
                name = f"Media2.{name}"
            if camera.auth == "http-digest" and camera.user is not None \
                    and not http_digest_ok(self.headers.get("Authorization", ""), camera):
                self._challenge()
                return
            if name not in _ANONYMOUS and camera.user is not None and camera.auth == "ws":
                problem = token_problem(request, camera)
                if problem:
                    self._reply(400, _fault("ter:NotAuthorized", problem))
                    return
            body = _answer(name, request, camera, self._base())
            if body is None:
                self._reply(400, _fault("ter:ActionNotSupported", f"no action {name}"))
            else:
                self._reply(200, _envelope(body))

        def do_GET(self) -> None:
            """The snapshot (`GetSnapshotUri`), behind HTTP Digest as cameras serve it."""
            if camera.snapshot is None or not re.fullmatch(r"/snapshot/\w+\.jpg", self.path):
                self._reply(404, b"")
                return
            if camera.user is not None and not http_digest_ok(
                    self.headers.get("Authorization", ""), camera, "GET"):
                self._challenge()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(camera.snapshot)))
            self.end_headers()
            self.wfile.write(camera.snapshot)

        def _challenge(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate",
                             f'Digest realm="simcam", nonce="{_NONCE}", qop="auth"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _base(self) -> str:
            host, port = self.connection.getsockname()[:2]
            return f"http://{host}:{port}"

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: tests read their own output

    return Handler


def token_problem(request: str, camera: OnvifCamera) -> str | None:
    """Why the request's UsernameToken is refused, or None: user, digest, and Created
    within TOKEN_TOLERANCE_S of the camera's (offset) clock."""
    def field_of(name: str) -> str:
        found = re.search(rf"<(?:\w+:)?{name}\b[^>]*>([^<]*)<", request)
        return found.group(1).strip() if found else ""

    user, digest, nonce, created = (field_of(n) for n in
                                    ("Username", "Password", "Nonce", "Created"))
    if not user:
        return "sender not authorized: no UsernameToken"
    try:
        at = datetime.strptime(created.replace("Z", "+0000").split(".")[0].split("+")[0],
                               "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        raw_nonce = base64.b64decode(nonce, validate=True)
    except ValueError:
        return "sender not authorized: malformed token"
    expected = base64.b64encode(hashlib.sha1(
        raw_nonce + created.encode() + (camera.password or "").encode()).digest()).decode()
    if user != camera.user or digest != expected:
        return "sender not authorized"
    if abs((at - camera.now()).total_seconds()) > TOKEN_TOLERANCE_S:
        return "sender not authorized: time check failed"
    return None


_NONCE = uuid.uuid4().hex


def http_digest_ok(header: str, camera: OnvifCamera, method: str = "POST") -> bool:
    """Whether `header` answers this face's MD5 Digest challenge with the camera's
    credentials (qop auth, `method`)."""
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header.removeprefix("Digest ")))

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{camera.user}:simcam:{camera.password}")
    ha2 = md5(f"{method}:{fields.get('uri', '')}")
    expected = md5(f"{ha1}:{_NONCE}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:auth:{ha2}")
    return (header.startswith("Digest ") and fields.get("username") == camera.user
            and fields.get("nonce") == _NONCE and fields.get("response") == expected)


def _answer(action: str, request: str, camera: OnvifCamera, base: str) -> str | None:
    """The Body of the answer to `action`; `base` is the HTTP address the call came to."""
    if action == "GetSystemDateAndTime":
        now = camera.now()
        return ("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false"
                "</tt:DaylightSavings><tt:UTCDateTime>"
                f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
                f"<tt:Second>{now.second}</tt:Second></tt:Time>"
                f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month>"
                f"<tt:Day>{now.day}</tt:Day></tt:Date></tt:UTCDateTime>"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")
    if action == "GetCapabilities":
        return ("<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media>"
                f"<tt:XAddr>{base}/onvif/media_service</tt:XAddr>"
                "</tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>")
    if action == "GetDeviceInformation":
        return ("<tds:GetDeviceInformationResponse>"
                f"<tds:Manufacturer>{escape(camera.manufacturer)}</tds:Manufacturer>"
                f"<tds:Model>{escape(camera.model)}</tds:Model>"
                "<tds:FirmwareVersion>1.0</tds:FirmwareVersion>"
                f"<tds:SerialNumber>{escape(camera.urn[-12:])}</tds:SerialNumber>"
                "<tds:HardwareId>sim</tds:HardwareId></tds:GetDeviceInformationResponse>")
    if action == "GetServices":
        services = [("ver10/device", "device_service"), ("ver10/media", "media_service")]
        services += [("ver20/media", "media2_service")] if camera.media2 else []
        return "<tds:GetServicesResponse>" + "".join(
            f"<tds:Service><tds:Namespace>http://www.onvif.org/{ns}/wsdl</tds:Namespace>"
            f"<tds:XAddr>{base}/onvif/{path}</tds:XAddr></tds:Service>"
            for ns, path in services) + "</tds:GetServicesResponse>"
    if action == "GetProfiles":  # Media1 cannot name H.265: such profiles are left out
        return "<trt:GetProfilesResponse>" + "".join(
            f'<trt:Profiles token="{p.token}" fixed="true"><tt:Name>{p.token}</tt:Name>'
            f'<tt:VideoEncoderConfiguration token="enc_{p.token}">{_encoder(p)}'
            "</tt:VideoEncoderConfiguration></trt:Profiles>"
            for p in camera.profiles if p.codec in MEDIA1_CODECS) + "</trt:GetProfilesResponse>"
    if action == "Media2.GetProfiles":
        return "<tr2:GetProfilesResponse>" + "".join(
            f'<tr2:Profiles token="{p.token}" fixed="true"><tr2:Name>{p.token}</tr2:Name>'
            f'<tr2:Configurations><tr2:VideoEncoder token="enc_{p.token}">{_encoder(p)}'
            "</tr2:VideoEncoder></tr2:Configurations></tr2:Profiles>"
            for p in camera.profiles) + "</tr2:GetProfilesResponse>"
    profile = _profile(request, camera)
    snapshot = f"{base}/snapshot/{profile.token}.jpg" if profile and camera.snapshot else None
    if action == "GetSnapshotUri" and snapshot:
        return (f"<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{snapshot}</tt:Uri>"
                "</trt:MediaUri></trt:GetSnapshotUriResponse>")
    if action == "Media2.GetSnapshotUri" and snapshot:
        return (f"<tr2:GetSnapshotUriResponse><tr2:Uri>{snapshot}</tr2:Uri>"
                "</tr2:GetSnapshotUriResponse>")
    uri = f"{camera.rtsp}/{profile.stream}" if profile else None
    if action == "GetStreamUri" and uri:
        return ("<trt:GetStreamUriResponse><trt:MediaUri>"
                f"<tt:Uri>{escape(uri)}</tt:Uri>"
                "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
                "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>")
    if action == "Media2.GetStreamUri" and uri:
        return (f"<tr2:GetStreamUriResponse><tr2:Uri>{escape(uri)}</tr2:Uri>"
                "</tr2:GetStreamUriResponse>")
    return None


def _encoder(p: SimProfile) -> str:
    return (f"<tt:Name>enc</tt:Name><tt:Encoding>{p.codec}</tt:Encoding><tt:Resolution>"
            f"<tt:Width>{p.width}</tt:Width><tt:Height>{p.height}</tt:Height></tt:Resolution>"
            f"<tt:RateControl><tt:FrameRateLimit>{p.fps}</tt:FrameRateLimit></tt:RateControl>")


def _profile(request: str, camera: OnvifCamera) -> SimProfile | None:
    token = re.search(r"<(?:\w+:)?ProfileToken>([^<]*)<", request)
    return next((p for p in camera.profiles if token and p.token == token.group(1)), None)


def _envelope(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
            'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
            'xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" '
            'xmlns:tt="http://www.onvif.org/ver10/schema">'
            f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>").encode()


def _fault(subcode: str, reason: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault>'
            "<env:Code><env:Value>env:Sender</env:Value><env:Subcode>"
            f"<env:Value>{subcode}</env:Value></env:Subcode></env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{escape(reason)}</env:Text></env:Reason>'
            "</env:Fault></env:Body></env:Envelope>").encode()
