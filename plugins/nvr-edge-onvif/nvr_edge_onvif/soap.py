"""SOAP 1.2 over HTTP to a camera: envelopes, WS-UsernameToken, bounded replies, faults.

The token's `Created` is the camera's time (our clock plus the offset measured with
`GetSystemDateAndTime`): cameras refuse a token whose time differs from theirs by more
than a few seconds, the failure most reported in the field ("time check failed").
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import SplitResult, urlsplit
from xml.sax.saxutils import escape

from nvr_edge_onvif import http_digest
from nvr_edge_onvif import untrusted_xml as ux

MAX_REPLY = 1 << 20  # GetProfiles of a 16-channel NVR is ~200 KB
TIMEOUT_S = 5.0  # per call, connect to last byte

_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_DIGEST = ("http://docs.oasis-open.org/wss/2004/01/"
           "oasis-200401-wss-username-token-profile-1.0#PasswordDigest")
_AUTH_FAULTS = {"NotAuthorized", "FailedAuthentication", "InvalidSecurityToken",
                "FailedCheck", "SenderNotAuthorized"}


class OnvifError(Exception):
    """A call failed; the message names why, never the password."""


class AuthError(OnvifError):
    """The camera refused the credentials."""


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)


def username_token(credentials: Credentials, clock_offset_s: float,
                   nonce: bytes | None = None, now: datetime | None = None) -> str:
    """A `wsse:Security` header with a PasswordDigest made at the camera's time."""
    nonce = os.urandom(16) if nonce is None else nonce
    at = (now or datetime.now(UTC)) + timedelta(seconds=clock_offset_s)
    created = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hashlib.sha1(nonce + created.encode() + credentials.password.encode()).digest()
    return (f'<wsse:Security s:mustUnderstand="1" xmlns:wsse="{_WSSE}" xmlns:wsu="{_WSU}">'
            f"<wsse:UsernameToken><wsse:Username>{escape(credentials.user)}</wsse:Username>"
            f'<wsse:Password Type="{_DIGEST}">{base64.b64encode(digest).decode()}'
            f"</wsse:Password><wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
            f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>")


def envelope(body: str, header: str = "") -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
            'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
            'xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" '
            'xmlns:tt="http://www.onvif.org/ver10/schema">'
            f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>").encode()


def call(url: str, payload: bytes, timeout_s: float = TIMEOUT_S,
         http_auth: Credentials | None = None) -> ET.Element:
    """POST `payload` to `url`; the reply's Body. A 401 with a Digest challenge is
    answered once with `http_auth` (cameras that want HTTP Digest, not a WS token).
    Raises `OnvifError` (`AuthError` for refused credentials) for every failure."""
    status, data = request("POST", url, payload, time.monotonic() + timeout_s, http_auth)
    return body_of(status, data, url)


def request(method: str, url: str, payload: bytes | None, deadline: float,
            http_auth: Credentials | None, limit: int = MAX_REPLY) -> tuple[int, bytes]:
    """Status and body of `method` on `url`; a 401 with a Digest challenge is answered once
    with `http_auth` (never Basic: that would hand the password to whatever answered)."""
    status, challenge, data = _send(method, url, payload, deadline, limit=limit)
    params = http_digest.parse_challenge(challenge) if status == 401 and http_auth else None
    if params is not None and http_auth is not None:
        header = http_digest.authorization(params, http_auth.user, http_auth.password,
                                           method, _path(urlsplit(url)))
        status, _challenge, data = _send(method, url, payload, deadline, header, limit)
    return status, data


def body_of(status: int, data: bytes, url: str) -> ET.Element:
    """The SOAP Body of an HTTP reply, or the `OnvifError` it amounts to."""
    try:
        root = ux.parse(data, MAX_REPLY)
    except ux.UntrustedXmlError as exc:
        if status == 401:
            raise AuthError("the camera refused the user or password (HTTP 401)") from None
        raise OnvifError(f"{_where(url)}: HTTP {status}, {exc}") from None
    fault = ux.find(root, "Fault")
    if fault is not None:
        codes = {(v.text or "").strip().rpartition(":")[2] for v in ux.find_all(fault, "Value")}
        reason = ux.text(fault, "Text")[:200] or "no reason given"
        if status == 401 or codes & _AUTH_FAULTS:
            raise AuthError(f"the camera refused the user or password ({reason})")
        raise OnvifError(f"{_where(url)}: SOAP fault: {reason}")
    if status == 401:
        raise AuthError("the camera refused the user or password (HTTP 401)")
    body = ux.find(root, "Body")
    if status != 200 or body is None:
        raise OnvifError(f"{_where(url)}: HTTP {status} without a SOAP body")
    return body


def _send(method: str, url: str, payload: bytes | None, deadline: float,
          authorization: str = "", limit: int = MAX_REPLY) -> tuple[int, str, bytes]:
    """Status, Digest challenge (or '') and body of one request that ends by `deadline`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OnvifError("the camera gave a malformed service address") from None
    kind = {"http": http.client.HTTPConnection, "https": http.client.HTTPSConnection}.get(
        parts.scheme)
    if kind is None or not parts.hostname:
        raise OnvifError(f"not an HTTP service address: {parts.scheme}://{parts.hostname}")
    timeout_s = deadline - time.monotonic()
    if timeout_s <= 0:
        raise OnvifError(f"{_where(url)}: no time left for the call")
    conn = kind(parts.hostname, port, timeout=timeout_s)
    headers = {"Content-Type": "application/soap+xml; charset=utf-8"} if payload else {}
    if authorization:
        headers["Authorization"] = authorization
    try:
        conn.request(method, _path(parts), payload, headers)
        response = conn.getresponse()
        challenge = next((v for v in response.headers.get_all("WWW-Authenticate") or ()
                          if v.lstrip().lower().startswith("digest")), "")
        return response.status, challenge, _read_bounded(response, deadline, limit)
    except (OSError, http.client.HTTPException) as exc:
        raise OnvifError(f"{_where(url)}: {exc or type(exc).__name__}") from None
    finally:
        conn.close()


def _read_bounded(response: http.client.HTTPResponse, deadline: float, limit: int) -> bytes:
    """The body, refused past `limit` bytes or the deadline (a camera that trickles)."""
    chunks, size = [], 0
    while chunk := response.read1(65536):
        size += len(chunk)
        if size > limit:
            raise OnvifError(f"reply over {limit} bytes")
        if time.monotonic() > deadline:
            raise OnvifError("reply took longer than the call's time limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _path(parts: SplitResult) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _where(url: str) -> str:
    """Host and path of a service address, for messages (never its userinfo)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "a malformed address"
    return f"{parts.hostname}{parts.path}"
