"""URLs that may carry a password, split by structure (never by scanning for a pattern).

One splitter for the config checks, the masking of shown config and the redaction of log
lines, so all three agree on where a password is. It follows FFmpeg and urllib: the
authority ends at the first '/', '?' or '#' after '://'; the LAST '@' in it ends the
userinfo (a password may hold an unencoded '@'); the first ':' in the userinfo ends the
user. Every message here names the problem without quoting the password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

_AUTHORITY_END = re.compile(r"[/?#]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


@dataclass(frozen=True)
class UrlParts:
    """`scheme://[user[:password]@]hostport rest`, each part as written."""

    scheme: str
    user: str | None
    password: str | None
    hostport: str
    rest: str  # path, query and fragment

    @property
    def identity(self) -> tuple[str, str | None, str]:
        """What a saved password belongs to: scheme, user and host:port (case-folded where
        the standard says case does not matter)."""
        return self.scheme.lower(), self.user, self.hostport.lower()

    def text(self, password: str | None = None, rest: str | None = None) -> str:
        """The URL again, with the scheme in lower case (FFmpeg matches it exactly) and,
        when given, another password or path."""
        user = "" if self.user is None else self.user
        pw = self.password if password is None else password
        userinfo = "" if self.user is None else (user + ("" if pw is None else f":{pw}") + "@")
        return f"{self.scheme.lower()}://{userinfo}{self.hostport}" \
               f"{self.rest if rest is None else rest}"

    def encoded(self) -> str:
        """`text()` with user and password percent-encoded: for clients that, unlike FFmpeg,
        end the userinfo at the FIRST '@' (libpq). Encoded input stays as it was."""
        if self.user is None:
            return self.text()
        user = quote(unquote(self.user), safe="")
        pw = None if self.password is None else quote(unquote(self.password), safe="")
        return UrlParts(self.scheme, user, pw, self.hostport, self.rest).text()


def is_scheme(text: str) -> bool:
    return bool(text) and text[0].isascii() and text[0].isalpha() \
        and all(c in _SCHEME_CHARS for c in text)


def split_url(text: str) -> UrlParts | None:
    """`text` split into its parts, or None when it is no `scheme://` URL."""
    scheme, sep, after = text.partition("://")
    if not sep or not is_scheme(scheme):
        return None
    found = _AUTHORITY_END.search(after)
    end = found.start() if found else len(after)
    authority, rest = after[:end], after[end:]
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        return UrlParts(scheme, None, None, authority, rest)
    user, colon, password = userinfo.partition(":")
    return UrlParts(scheme, user, password if colon else None, hostport, rest)


def control_problem(text: str) -> str | None:
    """A newline, tab or other control character: refused at check-config rather than
    failing forever in `run` (and a newline would forge lines in logs)."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    return f"holds a control character (code {ord(found.group())}) at position {found.start()}"


def url_problem(text: str, schemes: tuple[str, ...], expected: str = "") -> str | None:
    """Why `text` is not a usable URL of one of `schemes` (case-insensitive), or None;
    `expected` says what is wanted ("an rtsp:// URL"), for the operator.

    The answer never quotes the user's password: at most the scheme and the host."""
    problem = control_problem(text)
    if problem:
        return problem
    parts = split_url(text)
    expected = expected or "a URL starting " + " or ".join(f"{s}://" for s in schemes)
    if parts is None:
        return f"expected {expected}"
    if parts.scheme.lower() not in schemes:
        return f"expected {expected}, got scheme {parts.scheme[:16]!r}"
    if "@" in parts.rest:
        return ("holds an '@' after the host; if it belongs to the user name or password, "
                "percent-encode their '/', '?', '#' (%2F, %3F, %23)")
    return _host_problem(parts, expected)


def _host_problem(parts: UrlParts, expected: str) -> str | None:
    """Host and port, checked on the authority alone (no password in any message)."""
    if any(c.isspace() for c in parts.hostport):
        return "the host holds a blank"
    try:
        host = urlsplit(f"x://{parts.hostport}")
        port = host.port
    except ValueError:
        return "the host's port is not a number from 1 to 65535, or the host is malformed"
    if not host.hostname:
        return f"expected {expected}, got no host"
    if port == 0:
        return "port 0 is not a usable port"
    return None
