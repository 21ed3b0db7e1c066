"""Keep camera passwords and tokens out of everything a person or a log collector can read."""

from __future__ import annotations

import logging
import re

# scheme://user:password@host  ->  scheme://user:***@host (any scheme, FFmpeg quotes URLs in errors)
# Only ASCII blanks end a password: a password may hold any other character, \xa0 included.
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/ \t\r\n:@'\"]*):(?P<pw>[^@/ \t\r\n'\"]*)@")
# query-string secrets (?token=..., &password=...)
_QUERY_SECRET = re.compile(r"(?P<key>[?&](?:token|password|passwd|pwd|secret)=)[^&\s'\"]*", re.I)
# bearer tokens in headers
_BEARER = re.compile(r"(?P<key>Bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """Return `text` with URL passwords, query secrets and bearer tokens masked."""
    text = _URL_PASSWORD.sub(r"\g<head>:***@", text)
    text = _QUERY_SECRET.sub(r"\g<key>***", text)
    return _BEARER.sub(r"\g<key>***", text)


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
