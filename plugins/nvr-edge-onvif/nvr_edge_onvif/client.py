"""An ONVIF camera's device and media services (Media1, Media2): identity, profiles, stream
and snapshot URIs.

`GetSystemDateAndTime` needs no credentials and comes first: its answer sets the clock
offset every signed call is made with.
"""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from nvr_edge_onvif import soap
from nvr_edge_onvif import untrusted_xml as ux
from nvr_edge_onvif.soap import AuthError, Credentials, OnvifError

MEDIA2 = "http://www.onvif.org/ver20/media/wsdl"


@dataclass(frozen=True)
class DeviceInfo:
    manufacturer: str
    model: str
    firmware: str
    serial: str


@dataclass(frozen=True)
class Profile:
    token: str
    name: str
    codec: str
    width: int
    height: int
    fps: float | None


class OnvifClient:
    """Calls to one camera; none runs past `deadline` (time.monotonic()), so a camera
    that answers slowly costs at most its budget, not 5 s per call."""

    def __init__(self, device_url: str, credentials: Credentials | None,
                 deadline: float) -> None:
        self.device_url = device_url
        self.media_url = device_url  # until GetCapabilities names the media service
        self.media2_url: str | None = None  # Media2, where the camera has it
        self.credentials = credentials
        self.deadline = deadline
        self.clock_offset_s = 0.0  # the camera's clock minus ours

    def sync_clock(self) -> float:
        """Measure the camera's clock offset (unsigned `GetSystemDateAndTime`)."""
        sent = time.time()
        body = self._call(self.device_url, "<tds:GetSystemDateAndTime/>", signed=False)
        camera = camera_utc(body)
        if camera is not None:  # half the round trip: when the camera read its clock
            self.clock_offset_s = camera.timestamp() - (sent + time.time()) / 2
        return self.clock_offset_s

    def device_information(self) -> DeviceInfo:
        body = self._call(self.device_url, "<tds:GetDeviceInformation/>")
        return DeviceInfo(*(ux.text(body, n)[:128] for n in
                            ("Manufacturer", "Model", "FirmwareVersion", "SerialNumber")))

    def find_media_service(self) -> None:
        body = self._call(self.device_url,
                          "<tds:GetCapabilities><tds:Category>Media</tds:Category>"
                          "</tds:GetCapabilities>")
        xaddr = ux.text(ux.find(body, "Media"), "XAddr")
        if xaddr.startswith(("http://", "https://")):
            self.media_url = xaddr

    def find_media2_service(self) -> None:
        """Media2's address, if the camera has it: only Media2 can say H.265 (Media1's
        encodings are JPEG, MPEG4 and H264)."""
        body = self._call(self.device_url, "<tds:GetServices><tds:IncludeCapability>false"
                                           "</tds:IncludeCapability></tds:GetServices>")
        for service in ux.find_all(body, "Service"):
            xaddr = ux.text(service, "XAddr")
            if ux.text(service, "Namespace") == MEDIA2 and \
                    xaddr.startswith(("http://", "https://")):
                self.media2_url = xaddr

    def profiles(self) -> list[Profile]:
        body = self._media2_profiles() if self.media2_url is not None else None
        if body is None:
            body = self._call(self.media_url, "<trt:GetProfiles/>")
        return [p for p in map(parse_profile, ux.find_all(body, "Profiles")) if p][:64]

    def _media2_profiles(self) -> ET.Element | None:
        assert self.media2_url is not None
        try:
            return self._call(self.media2_url,
                              "<tr2:GetProfiles><tr2:Type>VideoEncoder</tr2:Type></tr2:GetProfiles>")
        except AuthError:
            raise
        except OnvifError:
            self.media2_url = None  # advertised but broken: Media1 it is
            return None

    def stream_uri(self, profile_token: str) -> str:
        token = escape(profile_token)
        if self.media2_url is not None:
            body = self._call(self.media2_url, "<tr2:GetStreamUri><tr2:Protocol>RTSP"
                              f"</tr2:Protocol><tr2:ProfileToken>{token}</tr2:ProfileToken>"
                              "</tr2:GetStreamUri>")
        else:
            body = self._call(
                self.media_url,
                "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
                "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport>"
                f"</trt:StreamSetup><trt:ProfileToken>{token}</trt:ProfileToken>"
                "</trt:GetStreamUri>")
        uri = ux.text(body, "Uri")
        if not uri.lower().startswith(("rtsp://", "rtsps://")) or len(uri) > 2048:
            raise OnvifError(f"profile {profile_token!r} has no RTSP stream URI")
        return uri

    def snapshot_uri(self, profile_token: str) -> str:
        """Where the profile's JPEG snapshot is fetched (HTTP); OnvifError when it has none."""
        token = escape(profile_token)
        if self.media2_url is not None:
            body = self._call(self.media2_url, f"<tr2:GetSnapshotUri><tr2:ProfileToken>{token}"
                              "</tr2:ProfileToken></tr2:GetSnapshotUri>")
        else:
            body = self._call(self.media_url, f"<trt:GetSnapshotUri><trt:ProfileToken>{token}"
                              "</trt:ProfileToken></trt:GetSnapshotUri>")
        uri = ux.text(body, "Uri")
        if not uri.lower().startswith(("http://", "https://")) or len(uri) > 2048:
            raise OnvifError(f"profile {profile_token!r} has no HTTP snapshot URI")
        return uri

    def _call(self, url: str, body: str, signed: bool = True) -> ET.Element:
        header = ""
        if signed and self.credentials is not None:
            header = soap.username_token(self.credentials, self.clock_offset_s)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OnvifError("the camera answers too slowly: gave up")
        return soap.call(url, soap.envelope(body, header), min(soap.TIMEOUT_S, left),
                         http_auth=self.credentials)


def camera_utc(body: ET.Element) -> datetime | None:
    """The camera's UTC time from a GetSystemDateAndTime reply, or None."""
    utc = ux.find(body, "UTCDateTime")
    if utc is None:
        return None
    try:
        d, t = ux.find(utc, "Date"), ux.find(utc, "Time")
        return datetime(int(ux.text(d, "Year")), int(ux.text(d, "Month")), int(ux.text(d, "Day")),
                        int(ux.text(t, "Hour")), int(ux.text(t, "Minute")),
                        int(ux.text(t, "Second")), tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def parse_profile(profile: ET.Element) -> Profile | None:
    """A media profile with a video encoder, or None (audio-only, metadata, malformed)."""
    token = profile.get("token", "")[:64]
    encoder = ux.find(profile, "VideoEncoderConfiguration")  # Media1
    if encoder is None:
        encoder = ux.find(profile, "VideoEncoder")  # Media2
    if not token or encoder is None:
        return None
    resolution = ux.find(encoder, "Resolution")
    try:
        width = int(ux.text(resolution, "Width", "0"))
        height = int(ux.text(resolution, "Height", "0"))
        fps_text = ux.text(ux.find(encoder, "RateControl"), "FrameRateLimit")
        fps = float(fps_text) if fps_text else None
    except ValueError:
        return None
    if fps is not None and not (math.isfinite(fps) and 0 < fps <= 1000):
        fps = None
    if not (0 < width <= 16384 and 0 < height <= 16384):
        return None
    return Profile(token, ux.text(profile, "Name")[:64] or token,
                   ux.text(encoder, "Encoding")[:16] or "?", width, height, fps)


def main_and_sub(profiles: list[Profile]) -> dict[str, str]:
    """Profile token -> role: "main" is the most pixels, "sub" the fewest (if another).
    Between equal sizes, the earlier profile ranks higher: cameras list their main first."""
    if not profiles:
        return {}
    order = {p.token: i for i, p in reversed(list(enumerate(profiles)))}
    ranked = sorted(profiles, key=lambda p: (p.width * p.height, -order[p.token]))
    roles = {ranked[-1].token: "main"}
    if ranked[0].token != ranked[-1].token:
        roles[ranked[0].token] = "sub"
    return roles
