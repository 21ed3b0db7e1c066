"""The live routes' paths. WHEP is served by `webrtc/whep.py`, LL-HLS by `hls/routes.py`."""

from __future__ import annotations

CAMERA = r"{camera:[A-Za-z0-9][A-Za-z0-9_-]{0,63}}"
WHEP_ROUTE = f"/live/{CAMERA}/whep"
HLS_ROUTE = f"/live/{CAMERA}/index.m3u8"
