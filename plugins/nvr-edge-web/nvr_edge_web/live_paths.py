"""The live routes' paths. WHEP is served by `webrtc/whep.py`, LL-HLS by `hls/routes.py`
(the multivariant playlist by `hls/abr_routes.py`)."""

from __future__ import annotations

CAMERA = r"{camera:[A-Za-z0-9][A-Za-z0-9_-]{0,63}}"
WHEP_ROUTE = f"/live/{CAMERA}/whep"
HLS_ROUTE = f"/live/{CAMERA}/index.m3u8"  # the live view's stream alone (with its audio)
RUNG = r"{rung:[a-z0-9]{1,16}}"  # a rung of the camera's ladder: main, sub, 360p, 240p
HLS_ABR_ROUTE = f"/live/{CAMERA}/abr.m3u8"  # the multivariant playlist over the rungs
HLS_RUNG_ROUTE = f"/live/{CAMERA}/{RUNG}/index.m3u8"  # one rung's media playlist
