"""A playlist as an HTTP response: not cached, and gzipped when the player accepts it.

An LL-HLS player reloads the media playlist for every part (10 a second), and every URI in
it carries the viewer's token (players do not pass the playlist's query on), so a playlist
is ~15 KB: more than a small rung's media (the 240p rung's parts are ~3 KB). Behind a
600 kbit/s link that alone stalled the picture. The token repeats on every line, so gzip
makes it a few hundred bytes; compressed inline (a fraction of a millisecond), not on an
executor thread, to keep the reply prompt."""

from __future__ import annotations

from aiohttp import web

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
INLINE_ZLIB_BYTES = 1 << 20


def playlist_response(text: str) -> web.Response:
    response = web.Response(text=text, content_type=PLAYLIST_TYPE,
                            headers={"Cache-Control": "no-cache"},
                            zlib_executor_size=INLINE_ZLIB_BYTES)
    response.enable_compression()
    return response
