"""Bearer tokens (JWT) for the web plugin's HTTP API: who may view, play back or administer.

The HTTP server calls, per request (docs/AUTH.md):

    token = token_from_request(request.headers, request.query)   # 401 when malformed
    grant = authenticator.verify(token)                         # 401 when missing/invalid
    require(grant, "view", camera_id)                           # 403 when not allowed

Every refusal is an `AuthError` carrying the HTTP status (401 or 403) and a short reason
that is safe to send back: it never contains the token. `verify` may block (up to
FETCH_TIMEOUT_S) in mode "jwks" with a `jwks_url` when a token names an unknown key, so an
asyncio server calls it through `asyncio.to_thread`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import re
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from nvr_edge import ACTIONS, Config, fsync_dir, make_dirs_durable, redact

from .auth_settings import AuthConfig

log = logging.getLogger(__name__)

CLAIM = "nvr"  # {"actions": [...], "cameras": [...] | "*"}
ALL_CAMERAS = "*"
SECRET_FILE = "auth-secret"
SECRET_BYTES = 64      # enough for HS512's minimum key length too
MAX_TOKEN_CHARS = 8192  # refused before any parsing: a cheap bound on the work per request
FETCH_TIMEOUT_S = 5.0
MAX_JWKS_BYTES = 1 << 20

# Three base64url segments (PyJWT tolerates '=' padding). Anything else never reaches PyJWT:
# a lone surrogate, for one, would fail in str.encode rather than as a PyJWTError.
_TOKEN = re.compile(r"[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]*")
_BEARER = re.compile(r"[ \t]*Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*", re.I)
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class AuthError(Exception):
    """A refused request: `status` 401 (who are you?) or 403 (not allowed to)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason

    @property
    def www_authenticate(self) -> str:
        """The WWW-Authenticate header for the response (RFC 6750 section 3)."""
        error = "insufficient_scope" if self.status == 403 else "invalid_token"
        return f'Bearer realm="nvr-edge", error="{error}"'


class AuthSetupError(RuntimeError):
    """The appliance's own side is broken (secret file unusable): not the client's fault."""


class TokenIssueError(ValueError):
    """`issue` refused: tokens come from the fleet issuer, or the request is out of bounds."""


def authenticator_for(config: Config) -> Authenticator:
    """The verifier (and local issuer) of the appliance `config` describes: its [auth]
    section, its state folder, and its device id as a fleet token's default audience."""
    settings: AuthConfig = config.sections.get("auth") or AuthConfig()
    return Authenticator(settings.for_device(config.device_id), config.storage.state_dir)


def _unauthorized(reason: str) -> AuthError:
    return AuthError(401, reason)


@dataclass(frozen=True)
class Grant:
    """What a verified token allows. `cameras` None: every camera (the claim said "*")."""

    subject: str | None
    actions: frozenset[str]
    cameras: frozenset[str] | None
    expires_at: int

    def allows(self, action: str, camera: str | None) -> bool:
        """`camera` None asks about the box as a whole, which needs an all-cameras grant.

        A list endpoint therefore filters with allows(action, camera_id) per camera."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")  # a server bug, not the client's
        if action not in self.actions and "admin" not in self.actions:
            return False
        if self.cameras is None:
            return True
        return camera is not None and camera in self.cameras


def require(grant: Grant, action: str, camera: str | None) -> None:
    """Raise AuthError(403) unless `grant` allows `action` on `camera`."""
    if grant.allows(action, camera):
        return
    if action not in grant.actions and "admin" not in grant.actions:
        raise AuthError(403, f"this token does not allow {action}")
    raise AuthError(403, "this token does not cover this camera")


def token_from_request(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The bearer token of a request: `Authorization: Bearer` first, then `?token=`.

    None when there is neither (verify(None) is then the 401). A malformed Authorization
    header is a 401 at once, rather than silently falling back to the query."""
    value = _header(headers, "authorization")
    if value is not None:
        match = _BEARER.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise _unauthorized("the Authorization header must be 'Bearer <token>'")
        return match.group(1)
    token = query.get("token")
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise _unauthorized("the token parameter is malformed")
    return token


def _header(headers: Mapping[str, str], name: str) -> Any:
    value = headers.get(name)
    if value is not None:  # case-insensitive mappings (aiohttp's CIMultiDict) end here
        return value
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


def parse_grant(payload: Mapping[str, Any]) -> Grant:
    """The permissions in a verified payload; a missing or malformed claim is a 401."""
    claim = payload.get(CLAIM)
    if not isinstance(claim, dict):
        raise _unauthorized(f"the token has no {CLAIM!r} permissions claim")
    actions, cameras = claim.get("actions"), claim.get("cameras")
    if not _string_list(actions):
        raise _unauthorized(f"{CLAIM}.actions must be a list of strings")
    if cameras != ALL_CAMERAS and not _string_list(cameras):
        raise _unauthorized(f"{CLAIM}.cameras must be \"*\" or a list of strings")
    subject = payload.get("sub")
    # Unknown actions are ignored, so a fleet issuer may add new ones before every box knows.
    return Grant(
        subject=subject if isinstance(subject, str) else None,
        actions=frozenset(a for a in actions if a in ACTIONS),
        cameras=None if cameras == ALL_CAMERAS else frozenset(cameras),
        expires_at=int(payload["exp"]),
    )


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class Authenticator:
    """Verifies tokens against the configured mode; in mode "local", also issues them.

    Thread-safe: verify() may run in several threads at once."""

    def __init__(self, config: AuthConfig, state_dir: Path,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})
        self._secret: bytes | None = None
        self._keys: _KeySource | None = None
        if config.mode == "local":
            self._secret = load_or_create_secret(Path(state_dir) / SECRET_FILE)
        else:
            self._keys = _KeySource(config, clock)

    def verify(self, token: str | None) -> Grant:
        """The grant of a valid token; AuthError(401) for anything else."""
        if token is None or token == "":
            raise _unauthorized("a token is required")
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS \
                or not _TOKEN.fullmatch(token):
            raise _unauthorized("the token is malformed")
        try:
            payload = self._decode(token)
        except jwt.PyJWTError as exc:
            raise _unauthorized(_reason(exc)) from None
        return parse_grant(payload)

    def authenticate(self, headers: Mapping[str, str], query: Mapping[str, str]) -> Grant:
        """token_from_request + verify: the grant of a request, or AuthError(401)."""
        return self.verify(token_from_request(headers, query))

    def _decode(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        # Before any key lookup: a disallowed alg (none, HS* in jwks mode) must not even
        # cause a JWKS fetch.
        if alg not in self.config.algorithms:
            raise jwt.InvalidAlgorithmError("alg")
        key: Any = self._secret if self._keys is None else self._keys.key_for(header, alg)
        return self._jwt.decode(
            token, key, algorithms=list(self.config.algorithms),
            options={"require": ["exp"]},
            issuer=self.config.issuer, audience=self.config.audience,
            leeway=self.config.leeway_s,
        )

    def issue(self, subject: str, actions: Iterable[str], cameras: Iterable[str] | str,
              ttl_s: int) -> str:
        """A token signed with the local secret (mode "local" only)."""
        if self._secret is None:
            raise TokenIssueError("auth.mode is 'jwks': tokens come from the fleet issuer")
        claim = _claim(actions, cameras)
        if not 1 <= ttl_s <= self.config.max_ttl_s:
            raise TokenIssueError(f"ttl must be between 1 and {self.config.max_ttl_s} s "
                                  "(auth.max_ttl_s)")
        now = int(time.time())
        payload: dict[str, Any] = {"sub": subject, "iat": now, "exp": now + ttl_s,
                                   CLAIM: claim}
        if self.config.issuer:
            payload["iss"] = self.config.issuer
        if self.config.audience:
            payload["aud"] = self.config.audience
        return self._jwt.encode(payload, self._secret, algorithm=self.config.algorithms[0])


def _claim(actions: Iterable[str], cameras: Iterable[str] | str) -> dict[str, Any]:
    action_list = list(dict.fromkeys(actions))
    if not action_list:
        raise TokenIssueError("at least one action is needed")
    unknown = [a for a in action_list if a not in ACTIONS]
    if unknown:
        raise TokenIssueError(f"unknown action {unknown[0]!r} (one of {', '.join(ACTIONS)})")
    if cameras == ALL_CAMERAS:
        return {"actions": action_list, "cameras": ALL_CAMERAS}
    camera_list = [cameras] if isinstance(cameras, str) else list(dict.fromkeys(cameras))
    if not camera_list:
        raise TokenIssueError("at least one camera (or all cameras) is needed")
    return {"actions": action_list, "cameras": camera_list}


_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is not meant for this device"),
    (jwt.InvalidIssuerError, "the token comes from an issuer this device does not trust"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted"),
    (jwt.InvalidSignatureError, "the token's signature is not valid"),
    (jwt.InvalidKeyError, "the token's signing key is not accepted"),
)


def _reason(exc: jwt.PyJWTError) -> str:
    """A safe sentence for the client: PyJWT's own messages may quote token contents."""
    if isinstance(exc, jwt.MissingRequiredClaimError) and exc.claim in ("exp", "iss", "aud"):
        return f"the token has no {exc.claim!r} claim"
    if isinstance(exc, _UnknownKey):
        return str(exc)
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "the token is malformed"


# --- mode "local": the shared secret -----------------------------------------------------

def load_or_create_secret(path: Path) -> bytes:
    """The HS* secret, created once (0600, atomically) and then reused by every process."""
    try:
        try:
            return _read_secret(path)
        except FileNotFoundError:
            _create_secret(path)
            log.info("created the token secret %s", path)
            return _read_secret(path)
    except OSError as exc:
        raise AuthSetupError(f"cannot use the token secret {path}: {exc.strerror}") from None


def _create_secret(path: Path) -> None:
    make_dirs_durable(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link, not rename: when the appliance and `nvr-edge token` race on a first start,
        # the loser must adopt the winner's secret rather than replace it.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()
    fsync_dir(path.parent)


def _read_secret(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        mode = os.fstat(fd).st_mode
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    # A secret others could read may have leaked; deleting the file makes a new one (and
    # invalidates every token), which is the operator's call, not ours.
    if mode & 0o077:
        raise AuthSetupError(f"{path} is readable by others (mode {mode & 0o777:o}); "
                             "remove it to generate a new secret, or chmod 600 it")
    try:
        secret = base64.urlsafe_b64decode(data.strip())
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) < SECRET_BYTES:
        raise AuthSetupError(f"{path} does not hold a {SECRET_BYTES}-byte secret; "
                             "remove it to generate a new one")
    return secret


# --- mode "jwks": the fleet's public keys ------------------------------------------------

class _UnknownKey(jwt.InvalidTokenError):
    """The token names a key the JWKS does not have (its message is safe to show)."""


@dataclass(frozen=True)
class _KeySet:
    keys: Mapping[str | None, Mapping[str, Any]]  # kid -> JWK (public, signing, RSA/EC)
    fetched_at: float
    # (kid, alg) -> the key, built once; replaced with the set, so a refetch drops them
    built: dict[tuple[str | None, str], jwt.PyJWK] = field(default_factory=dict)


class _KeySource:
    """The JWKS from a file or URL: cached, refetched when too old or when a token names an
    unknown kid, but never more often than jwks_refresh_s (a stream of made-up kids must not
    turn into a stream of requests to the issuer)."""

    def __init__(self, config: AuthConfig, clock: Callable[[], float]) -> None:
        self.config, self.clock = config, clock
        self._set: _KeySet | None = None
        self._last_try = -float("inf")
        self._lock = threading.Lock()

    def key_for(self, header: Mapping[str, Any], alg: str) -> jwt.PyJWK:
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise jwt.DecodeError("kid")
        keys = self._current(kid)
        if kid is None and len(keys.keys) != 1:
            raise _UnknownKey("the token names no key (kid) and the key set has several")
        jwk = keys.keys.get(kid) if kid is not None else next(iter(keys.keys.values()))
        if jwk is None:
            raise _UnknownKey("the token's signing key (kid) is unknown")
        if _KEY_TYPES.get(alg[:2]) != jwk.get("kty"):
            raise jwt.InvalidAlgorithmError("kty")
        built = keys.built.get((kid, alg))
        if built is None:
            # A JWK that names its alg binds it; PyJWT then refuses any other header alg.
            built = keys.built[(kid, alg)] = jwt.PyJWK(dict(jwk), jwk.get("alg") or alg)
        return built

    def _current(self, kid: str | None) -> _KeySet:
        keys = self._set
        now = self.clock()
        stale = keys is None or now - keys.fetched_at >= self.config.jwks_cache_s
        missing = keys is not None and kid is not None and kid not in keys.keys
        if stale or missing:
            keys = self._refresh(now) or keys
        if keys is None:
            raise _UnknownKey("the token's signing key cannot be checked now")
        return keys

    def _refresh(self, now: float) -> _KeySet | None:
        with self._lock:
            if now - self._last_try < self.config.jwks_refresh_s:
                return self._set
            self._last_try = now
            try:
                keys = _parse_jwks(self._fetch())
            except (OSError, ValueError, RecursionError) as exc:  # URLError is an OSError
                # Old keys stay in use: the issuer being away must not lock everyone out.
                log.warning("cannot load the JWKS from %s: %s", redact(self._where()),
                            redact(str(exc)))
                return self._set
            self._set = _KeySet(keys, now)
            log.info("loaded %d signing key(s) from %s", len(keys), redact(self._where()))
            return self._set

    def _where(self) -> str:
        return str(self.config.jwks_file or self.config.jwks_url)

    def _fetch(self) -> bytes:
        if self.config.jwks_file is not None:
            with open(self.config.jwks_file, "rb") as f:
                return f.read(MAX_JWKS_BYTES + 1)
        request = urllib.request.Request(str(self.config.jwks_url),
                                         headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
            return response.read(MAX_JWKS_BYTES + 1)


def _parse_jwks(data: bytes) -> dict[str | None, Mapping[str, Any]]:
    """kid -> JWK of the usable keys; ValueError when there is none."""
    if len(data) > MAX_JWKS_BYTES:
        raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
    document = json.loads(data)
    raw = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(raw, list):
        raise ValueError('expected a JSON object with a "keys" array')
    keys: dict[str | None, Mapping[str, Any]] = {}
    for jwk in raw:
        if _usable(jwk) and jwk.get("kid") not in keys:
            keys[jwk.get("kid")] = jwk
    if not keys:
        raise ValueError("no usable signing key (RSA or EC public keys)")
    return keys


def _usable(jwk: Any) -> bool:
    """A public RSA/EC signing key. Symmetric ("oct") keys are never taken from a JWKS."""
    if not isinstance(jwk, dict) or jwk.get("kty") not in ("RSA", "EC"):
        return False
    if jwk.get("use", "sig") != "sig" or "d" in jwk:  # "d": private key material
        return False
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        return False
    try:
        jwt.PyJWK(dict(jwk), algorithm=jwk.get("alg"))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return False
    return True


__all__ = [
    "ACTIONS",
    "ALL_CAMERAS",
    "CLAIM",
    "AuthError",
    "AuthSetupError",
    "Authenticator",
    "Grant",
    "TokenIssueError",
    "authenticator_for",
    "parse_grant",
    "require",
    "token_from_request",
]
