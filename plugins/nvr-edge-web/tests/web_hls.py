"""Fetch one whole LL-HLS segment of a camera as a plain player would: the playlist (until
the appliance has made one), then the init segment the playlist maps and a completed media
segment. For tests that only need to know that LL-HLS serves a camera and what it holds."""

from __future__ import annotations

import time
from dataclasses import dataclass

from web_box import Box
from web_m3u8 import Playlist, attributes, parse_playlist

from tests.helpers import wait_for


@dataclass
class HlsSegment:
    init: bytes
    media: bytes
    duration: float
    waited_s: float   # from the first playlist request to the first 200


def first_playlist(box: Box, camera: str, token: str, timeout: float) -> tuple[Playlist, float]:
    path = f"/live/{camera}/index.m3u8?token={token}"
    started = time.monotonic()
    reply = wait_for(lambda: (r := box.get(path)).status == 200 and r, timeout,
                     f"{camera}'s LL-HLS playlist")
    return parse_playlist(reply.body.decode()), time.monotonic() - started


def fetch_segment(box: Box, camera: str, token: str, timeout: float = 30) -> HlsSegment:
    playlist, waited = first_playlist(box, camera, token, timeout)
    if playlist.segments[-1].uri is None and len(playlist.segments) == 1:
        # the first segment is still open: a blocking reload for the one after it
        path = f"/live/{camera}/index.m3u8?token={token}"
        reply = box.get(f"{path}&_HLS_msn={playlist.segments[-1].msn + 1}")
        assert reply.status == 200, (reply.status, reply.body[:300])
        playlist = parse_playlist(reply.body.decode())
    segment = next(s for s in reversed(playlist.segments) if s.uri is not None)
    assert segment.uri is not None and segment.duration is not None
    init_uri = attributes(playlist.tags["EXT-X-MAP"])["URI"]
    init = box.get(f"/live/{camera}/{init_uri}")
    media = box.get(f"/live/{camera}/{segment.uri}")
    assert init.status == 200 and media.status == 200, \
        (init_uri, init.status, init.body[:200], segment.uri, media.status)
    return HlsSegment(init.body, media.body, segment.duration, waited)
