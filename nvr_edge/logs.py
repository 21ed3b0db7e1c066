"""Keep camera passwords and tokens out of everything a person or a log collector can read."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# scheme://user:password@host -> scheme://user:***@host (any scheme: FFmpeg quotes URLs in
# errors). Found from each "://" outwards rather than by one regex over the text: a regex
# that starts with the scheme retries at every letter of a long run (quadratic, seconds
# for a 100 KB field), and every log line and payload passes through here.
# In free text a password's end is unknown (it may hold blanks, quotes, '@'), so the
# userinfo runs, as in nvr_edge.urls, to the LAST '@' before the next '/' or line end:
# more may be masked than the password, never less.
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_AUTHORITY = re.compile(r"[^/\r\n]*")
# query-string secrets (?token=..., &password=...)
_QUERY_SECRET = re.compile(r"(?P<key>[?&](?:token|password|passwd|pwd|secret)=)[^&\s'\"]*", re.I)
# bearer tokens in headers
_BEARER = re.compile(r"(?P<key>Bearer\s+)[A-Za-z0-9._~+/=-]+")


# The running config's own secrets, masked wherever they appear verbatim (a library may
# quote a URL in a shape the rules above miss). Longest first: one may contain another.
_known: tuple[str, ...] = ()


def mask_known(secrets: Iterable[str]) -> None:
    """Set the secret texts this process masks in every log line (replaces the last set)."""
    global _known
    _known = tuple(sorted(set(secrets), key=len, reverse=True))


def redact(text: str) -> str:
    """Return `text` with URL passwords, query secrets, bearer tokens and the registered
    secrets masked; linear in the length of `text` (for a handful of secrets)."""
    text = _mask_url_passwords(text)
    text = _QUERY_SECRET.sub(r"\g<key>***", text)
    text = _BEARER.sub(r"\g<key>***", text)
    for secret in _known:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _mask_url_passwords(text: str) -> str:
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    mark = text.find("://")
    while mark != -1:
        start = mark + 3
        end = _AUTHORITY.match(text, start).end()  # stops at the next "://" at the latest
        at = text.rfind("@", start, end)
        colon = text.find(":", start, at) if at != -1 else -1
        if colon != -1 and _has_scheme(text, mark):
            pieces += (text[done:colon + 1], "***")
            done = at
        mark = text.find("://", max(end - 1, mark + 1))
    pieces.append(text[done:])
    return "".join(pieces)


def _has_scheme(text: str, mark: int) -> bool:
    """A scheme ends at `mark`: the run of scheme characters before it holds a letter."""
    i = mark - 1
    while i >= 0 and text[i] in _SCHEME_CHARS:
        if text[i].isalpha():
            return True
        i -= 1
    return False


class RedactingFormatter(logging.Formatter):
    """Masks secrets in the final line, tracebacks included (exceptions quote URLs)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


LOG_FORMAT = "%(asctime)s %(levelname)-7s %(processName)s %(name)s: %(message)s"


def setup_logging(level: int | str = logging.INFO) -> None:
    """Route all logging to stderr through the redacting formatter."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(LOG_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
