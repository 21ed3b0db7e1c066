"""Who may watch: RTSP Basic or Digest against the configured users, or a viewer's JWT
(the web plugin's tokens) as the Basic password with any user name or as `?token=`.
Refusals are RtspError(401/403) with a reason that quotes no secret."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict

from nvr_edge import TokenRefused, TokenVerifier

from .protocol import Request, RtspError, Target
from .settings import RtspSettings

NONCE_TTL_S = 300.0
MAX_NONCES = 4096
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]*")
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class RtspAuth:
    """`verifier`: a plugin's token check, `nvr_token_verifier` (None: tokens not accepted)."""

    def __init__(self, settings: RtspSettings, verifier: TokenVerifier | None) -> None:
        self.settings, self.verifier = settings, verifier
        self.users = {u.name: u.password for u in settings.users}
        self.nonces: OrderedDict[str, float] = OrderedDict()

    def challenges(self) -> list[tuple[str, str]]:
        """WWW-Authenticate headers for a 401: Digest first (what clients prefer)."""
        headers = []
        if self.users and self.settings.digest:
            nonce = secrets.token_hex(16)
            self.nonces[nonce] = time.monotonic()
            while len(self.nonces) > MAX_NONCES:
                self.nonces.popitem(last=False)
            headers.append(("WWW-Authenticate",
                            f'Digest realm="{self.settings.realm}", nonce="{nonce}"'))
        headers.append(("WWW-Authenticate", f'Basic realm="{self.settings.realm}"'))
        return headers

    async def check(self, request: Request, target: Target, camera: str) -> str:
        """Who this is (for logs: a user name or the token's subject); RtspError else."""
        if target.token is not None:
            return await self._token(target.token, camera)
        header = request.headers.get("authorization")
        if header is None:
            raise RtspError(401, "credentials or a token are required")
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "basic":
            return await self._basic(value.strip(), camera)
        if scheme.lower() == "digest" and self.settings.digest:
            return self._digest(value, request.method)
        raise RtspError(401, "authorization must be Basic or Digest")

    async def _basic(self, value: str, camera: str) -> str:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise RtspError(401, "malformed Basic credentials") from None
        name, sep, password = decoded.partition(":")
        if not sep:
            raise RtspError(401, "malformed Basic credentials")
        known = self.users.get(name)
        if known is not None and hmac.compare_digest(known.encode(), password.encode()):
            return name
        if self.verifier is not None and _JWT_SHAPE.fullmatch(password):
            return await self._token(password, camera)
        raise RtspError(401, "wrong user name or password")

    def _digest(self, value: str, method: str) -> str:
        params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _PARAM.finditer(value)}
        name, nonce = params.get("username", ""), params.get("nonce", "")
        known = self.users.get(name)
        issued = self.nonces.get(nonce)
        if issued is None or time.monotonic() - issued > NONCE_TTL_S:
            raise RtspError(401, "the Digest nonce is unknown or expired")
        if known is None or "response" not in params or "uri" not in params:
            raise RtspError(401, "wrong user name or password")
        ha1 = _md5(f"{name}:{self.settings.realm}:{known}")
        ha2 = _md5(f"{method}:{params['uri']}")
        qop = params.get("qop")
        if qop:
            expected = _md5(f"{ha1}:{nonce}:{params.get('nc', '')}:{params.get('cnonce', '')}"
                            f":{qop}:{ha2}")
        else:
            expected = _md5(f"{ha1}:{nonce}:{ha2}")
        if not hmac.compare_digest(expected, params["response"].lower()):
            raise RtspError(401, "wrong user name or password")
        return name

    async def _token(self, token: str, camera: str) -> str:
        if self.verifier is None:
            raise RtspError(401, "tokens are not accepted here (rtsp.tokens = false, or no plugin "
                                "checks tokens)")
        try:  # in a thread: a JWKS verifier may fetch keys
            subject = await asyncio.to_thread(self.verifier, token, "view", camera)
        except TokenRefused as exc:
            raise RtspError(exc.status, f"token refused: {exc.reason}") from None
        return f"token:{subject}"
