"""Camera URLs of local capture devices, the form the V4L2 discovery plugin offers:
`v4l2:/dev/v4l/by-id/usb-...-video-index0?fourcc=MJPG&width=1280&height=720&fps=30`.

The config check parses them (a malformed one is refused naming its key); the camera
worker opens the device through FFmpeg's `v4l2` input with the options built here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

SCHEME = "v4l2"
# FFmpeg's v4l2 `input_format` names for the fourccs USB cameras offer.
INPUT_FORMATS = {"MJPG": "mjpeg", "JPEG": "mjpeg", "H264": "h264", "HEVC": "hevc",
                 "YUYV": "yuyv422", "UYVY": "uyvy422", "NV12": "nv12", "YU12": "yuv420p",
                 "RGB3": "rgb24"}
QUERY_KEYS = ("fourcc", "width", "height", "fps")
_FOURCC = re.compile(r"^[A-Z0-9]{4}$")


class V4l2UrlError(ValueError):
    """A `v4l2:` URL that cannot be opened as it is written."""


@dataclass(frozen=True)
class V4l2Source:
    device: str                      # an absolute path under /dev
    fourcc: str | None = None        # None: the driver's current format
    width: int | None = None
    height: int | None = None
    fps: float | None = None

    @property
    def codec(self) -> str | None:
        """FFmpeg's name of what the device sends (None: whatever it is set to)."""
        return None if self.fourcc is None else INPUT_FORMATS[self.fourcc]

    def pyav_options(self) -> dict[str, str]:
        """Options of FFmpeg's v4l2 input (av.open(device, format="v4l2", options=...))."""
        options: dict[str, str] = {}
        if self.codec is not None:
            options["input_format"] = self.codec
        if self.width is not None and self.height is not None:
            options["video_size"] = f"{self.width}x{self.height}"
        if self.fps is not None:
            options["framerate"] = f"{self.fps:g}"
        return options


def is_v4l2_url(url: str) -> bool:
    return url[:5].lower() == f"{SCHEME}:"


def parse_v4l2_url(url: str) -> V4l2Source:
    """The source a `v4l2:` URL names; V4l2UrlError saying what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        raise V4l2UrlError(f"not a {SCHEME}: URL")
    if parts.netloc:
        raise V4l2UrlError("a v4l2: URL names a local device (v4l2:/dev/...), not a host")
    device = parts.path
    if not device.startswith("/dev/") or "/../" in f"{device}/" or device.endswith("/"):
        raise V4l2UrlError(f"the device {device!r} must be a path under /dev/")
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in QUERY_KEYS:
            raise V4l2UrlError(f"unknown query key {key!r} (known: {', '.join(QUERY_KEYS)})")
        if key in query:
            raise V4l2UrlError(f"query key {key!r} given twice")
        query[key] = value
    fourcc = query.get("fourcc")
    if fourcc is not None and (not _FOURCC.match(fourcc) or fourcc not in INPUT_FORMATS):
        raise V4l2UrlError(f"fourcc {fourcc!r} is not one of {', '.join(INPUT_FORMATS)}")
    width, height = _size(query, "width"), _size(query, "height")
    if (width is None) != (height is None):
        raise V4l2UrlError("width and height go together")
    return V4l2Source(device, fourcc, width, height, _fps(query.get("fps")))


def _size(query: dict[str, str], key: str) -> int | None:
    value = query.get(key)
    if value is None:
        return None
    if not value.isdigit() or not 16 <= int(value) <= 8192:
        raise V4l2UrlError(f"{key} {value!r} must be a whole number of pixels, 16-8192")
    return int(value)


def _fps(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        fps = float(value)
    except ValueError:
        fps = 0.0
    if not 0.5 <= fps <= 240:
        raise V4l2UrlError(f"fps {value!r} must be a number, 0.5-240")
    return fps
