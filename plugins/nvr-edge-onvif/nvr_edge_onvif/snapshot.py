"""A camera's snapshot (`GetSnapshotUri`): one JPEG over HTTP, fetched with HTTP Digest
when the camera asks for it. Lighter for the camera than an RTSP session, and what the
found-cameras list shows first."""

from __future__ import annotations

import base64
import time
from typing import Any

from nvr_edge import iso_utc, jpeg_preview, now_ms
from nvr_edge_onvif.soap import AuthError, Credentials, OnvifError, request

MAX_JPEG = 8 * 1024 * 1024  # a 4K camera's snapshot is ~1-2 MB
TIMEOUT_S = 5.0


def fetch_snapshot(url: str, credentials: Credentials | None,
                   timeout_s: float = TIMEOUT_S) -> bytes:
    """The JPEG at `url`; OnvifError (AuthError for refused credentials) naming why not."""
    status, data = request("GET", url, None, time.monotonic() + timeout_s, credentials,
                           MAX_JPEG)
    if status == 401:
        raise AuthError("the camera refused the user or password for its snapshot")
    if status != 200:
        raise OnvifError(f"the snapshot answered HTTP {status}")
    if not data.startswith(b"\xff\xd8"):
        raise OnvifError("the snapshot is not a JPEG")
    return data


def snapshot_answer(url: str, credentials: Credentials | None, max_width: int
                    ) -> dict[str, Any]:
    """The snapshot as `preview_camera` answers it (the same fields as `test_stream`'s
    picture); OnvifError, or ValueError for a JPEG that does not decode."""
    at = now_ms()
    jpeg, width, height = jpeg_preview(fetch_snapshot(url, credentials), max_width)
    return {"stream": "snapshot", "source": "onvif snapshot", "at": iso_utc(at),
            "codec": "mjpeg", "width": width, "height": height,
            "jpeg": base64.b64encode(jpeg).decode("ascii")}
