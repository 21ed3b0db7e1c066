"""What a simulated camera's ONVIF face says about itself: its identity and profiles (the
face's HTTP handler and its discovery responder both read it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal


@dataclass(frozen=True)
class SimProfile:
    token: str
    width: int
    height: int
    fps: int
    stream: str  # the RTSP path under the camera's URL: "main" or "sub"
    codec: str = "H264"


@dataclass
class OnvifCamera:
    """What the face says about itself. `rtsp` is the camera's RTSP URL without a stream
    (``rtsp://host:port/cam1``); `user` None serves every call without credentials."""

    rtsp: str
    urn: str = field(default_factory=lambda: f"urn:uuid:{uuid.uuid4()}")
    name: str = "SimCam"
    manufacturer: str = "nvr-edge"
    model: str = "simcam"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    clock_offset_s: float = 0.0
    zero_xaddr: bool = False  # advertise http://0.0.0.0:port/ like some firmware does
    auth: Literal["ws", "http-digest"] = "ws"  # WS-UsernameToken, or HTTP Digest only
    media2: bool = True  # offer the Media2 service (the only one that can say H.265)
    snapshot: bytes | None = field(default=None, repr=False)  # a JPEG: GetSnapshotUri
    profiles: tuple[SimProfile, ...] = (SimProfile("main", 1920, 1080, 30, "main"),
                                        SimProfile("sub", 640, 360, 30, "sub"))

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset_s)
