"""RTSP 1.0 messages (RFC 2326): requests in, responses out, and request URLs read into
a path, a track and a token. Bad input is an `RtspError` carrying the status to answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER",
           "SET_PARAMETER", "ANNOUNCE", "RECORD")
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 413: "Request Entity Too Large",
           415: "Unsupported Media Type", 451: "Parameter Not Understood",
           454: "Session Not Found", 455: "Method Not Valid in This State",
           459: "Aggregate Operation Not Allowed", 461: "Unsupported Transport",
           500: "Internal Server Error", 503: "Service Unavailable",
           505: "RTSP Version Not Supported"}
_TRACK = re.compile(r"/trackID=(\d+)/?$")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~+/=-]+")


class RtspError(Exception):
    """A request refused with `status`; `reason` is safe to send and to log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def cseq(self) -> str:
        return self.headers.get("cseq", "0")


def parse_head(head: bytes) -> tuple[Request, int]:
    """The request line and headers (up to the blank line, excluded); returns the
    request and its Content-Length."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise RtspError(400, "the request is not UTF-8 text") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise RtspError(400, "the request line must be 'METHOD URL RTSP/1.0'")
    method, url, version = parts
    if version != "RTSP/1.0":
        raise RtspError(505, f"only RTSP/1.0 is spoken, not {version[:20]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or name != name.strip():
            raise RtspError(400, "a header line must be 'Name: value'")
        headers[name.lower()] = value.strip()
    if "cseq" not in headers:
        raise RtspError(400, "the CSeq header is missing")
    length_text = headers.get("content-length", "0")
    if not length_text.isdigit() or not length_text.isascii():
        raise RtspError(400, "Content-Length must be a number")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise RtspError(413, f"a body of {length} bytes is over {MAX_BODY_BYTES}")
    if method not in METHODS:
        raise RtspError(405, f"method {method[:20]!r} is not supported")
    return Request(method, url, headers), length


@dataclass(frozen=True)
class Target:
    """What a request URL asks for: `/<camera>/<stream>[/trackID=<n>]`, plus `?token=`."""

    camera: str | None
    stream: str | None
    track: int | None = None
    token: str | None = field(default=None, repr=False)


def parse_target(url: str) -> Target:
    """Read a request URL. `*` (OPTIONS) and `/` name nothing. The track may follow the
    path or, when a client appended it to a base URL with a query, the query."""
    if url == "*":
        return Target(None, None)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise RtspError(400, "the request URL is malformed") from None
    if parts.scheme.lower() not in ("rtsp", "rtsps", ""):
        raise RtspError(400, "the request URL must be rtsp://")
    path, query = parts.path, parts.query
    track = None
    for where in ("query", "path"):
        text = query if where == "query" else path
        match = _TRACK.search(text)
        if match:
            track = int(match.group(1)[:6])
            text = text[:match.start()]
            if where == "query":
                query = text
            else:
                path = text
    names = [unquote(p) for p in path.split("/") if p]
    if len(names) > 2:
        raise RtspError(404, "paths are /<camera>/<stream>")
    token = None
    if query:
        values = parse_qs(query.rstrip("/"), keep_blank_values=True).get("token")
        if values:
            token = values[-1].rstrip("/")
            if not _TOKEN_CHARS.fullmatch(token):
                raise RtspError(401, "the token parameter is malformed")
    return Target(names[0] if names else None, names[1] if len(names) > 1 else None,
                  track, token)


def scrub_url(url: str) -> str:
    """`url` for logs: no query (tokens) and no userinfo."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else parts.path


def response(status: int, cseq: str, headers: list[tuple[str, str]] | None = None,
             body: bytes = b"") -> bytes:
    lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Error')}", f"CSeq: {cseq}",
             "Server: nvr-edge"]
    for name, value in headers or ():
        lines.append(f"{name}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Transport:
    """One SETUP's choice: TCP interleaved channels, or UDP unicast to the client's ports."""

    interleaved: tuple[int, int] | None = None   # RTP, RTCP channels
    client_ports: tuple[int, int] | None = None  # RTP, RTCP ports of the client


def parse_transport(value: str) -> Transport:
    """The client's first choice that is served: RTP/AVP/TCP (interleaved) or RTP/AVP[/UDP]
    unicast with client_port; RtspError(461) when none is (multicast, other profiles)."""
    for choice in value.split(","):
        params = [p.strip() for p in choice.split(";")]
        profile = params[0].upper()
        named = {}
        for param in params[1:]:
            name, _, val = param.partition("=")
            named[name.lower()] = val
        if profile.startswith("RTP/AVP/TCP"):
            pair = _pair(named["interleaved"], 255, "interleaved") \
                if "interleaved" in named else (0, 1)
            return Transport(interleaved=pair)
        if profile in ("RTP/AVP", "RTP/AVP/UDP") and "multicast" not in named \
                and "client_port" in named:
            return Transport(client_ports=_pair(named["client_port"], 65535, "client_port"))
    raise RtspError(461, "served transports: RTP/AVP/TCP (interleaved) and RTP/AVP unicast "
                         "with client_port")


def _pair(value: str, top: int, what: str) -> tuple[int, int]:
    first, _, second = value.partition("-")
    if not first.isdigit() or not first.isascii() or \
            (second and (not second.isdigit() or not second.isascii())):
        raise RtspError(400, f"{what} must be 'n-m'")
    a = int(first[:6])
    b = int(second[:6]) if second else a + 1
    if not (0 <= a <= top and 0 <= b <= top) or (what == "client_port" and 0 in (a, b)):
        raise RtspError(400, f"{what} values are {int(what == 'client_port')}..{top}")
    return a, b
