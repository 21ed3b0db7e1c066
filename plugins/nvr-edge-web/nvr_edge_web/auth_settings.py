"""The `[auth]` config section: who may use the HTTP API (docs/AUTH.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from nvr_edge import ConfigTable, Secret, declare_secrets, read_url

MODES = ("local", "jwks")
# Pinning per mode is the HS/RS confusion guard: a local (shared-secret) verifier never
# accepts an asymmetric algorithm, and a JWKS verifier never accepts a symmetric one
# (else a public key could be used as an HMAC secret).
ALGORITHMS = {
    "local": ("HS256", "HS384", "HS512"),
    "jwks": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"),
}
DEFAULT_ALGORITHMS = {"local": ("HS256",), "jwks": ("RS256", "ES256")}
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
# The JWKS URL may carry a password or a token in its query; the signing secret itself
# lives in <state_dir>/auth-secret, never in the config.
declare_secrets("auth", jwks_url=Secret.URL)


@dataclass(frozen=True)
class AuthConfig:
    """Who may use the HTTP API (docs/AUTH.md): a local HS256 secret or a fleet's JWKS."""

    mode: str = "local"  # or "jwks"
    algorithms: tuple[str, ...] = ("HS256",)
    jwks_file: Path | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway_s: float = 30.0
    max_ttl_s: int = 86_400
    jwks_refresh_s: float = 60.0   # at most one refetch per this on an unknown kid
    jwks_cache_s: float = 3600.0   # keys older than this are refetched (revocation)

    def for_device(self, device_id: str) -> AuthConfig:
        """This box's settings: a fleet issuer signs for every box, so without an audience a
        token made for one box (camera ids like "front-door" repeat) would open all of
        them; the device id is then the audience. Local secrets are per box already."""
        if self.mode == "jwks" and self.audience is None:
            return replace(self, audience=device_id)
        return self


def read_auth(t: ConfigTable) -> AuthConfig:
    """The [auth] table (absent: local tokens with the defaults)."""
    mode = t.choice("mode", "local", MODES)
    allowed = ALGORITHMS[mode]
    algorithms = t.strings("algorithms", DEFAULT_ALGORITHMS[mode])
    if not algorithms:
        raise t.error("algorithms", "must name at least one algorithm")
    for alg in algorithms:
        if alg not in allowed:
            raise t.error("algorithms", f"{alg!r} is not allowed with mode = {mode!r} "
                                        f"(allowed: {', '.join(allowed)})")
    jwks_file = t.path_("jwks_file", None)  # type: ignore[arg-type]
    jwks_url = _jwks_url(t)
    if mode == "jwks" and (jwks_file is None) == (jwks_url is None):
        raise t.error("jwks_file", "mode = 'jwks' needs exactly one of jwks_file, jwks_url")
    if mode == "local" and (jwks_file or jwks_url):
        raise t.error("jwks_file" if jwks_file else "jwks_url", "only with mode = 'jwks'")
    auth = AuthConfig(
        mode=mode,
        algorithms=tuple(dict.fromkeys(algorithms)),
        jwks_file=jwks_file,
        jwks_url=jwks_url,
        issuer=_nonempty(t, "issuer"),
        audience=_nonempty(t, "audience"),  # jwks: the device id unless set (for_device)
        leeway_s=t.number("leeway_s", 30.0, 0.0, 300.0),
        max_ttl_s=t.integer("max_ttl_s", 86_400, 60, 31_536_000),
        jwks_refresh_s=t.number("jwks_refresh_s", 60.0, 1.0, 86_400.0),
        jwks_cache_s=t.number("jwks_cache_s", 3600.0, 60.0, 604_800.0),
    )
    return auth  # the config loader calls t.finish()


def _nonempty(t: ConfigTable, name: str) -> str | None:
    value = t.string(name, None)
    if value is not None and not value.strip():
        raise t.error(name, "must not be empty (leave it out to skip the check)")
    return value


def _jwks_url(t: ConfigTable) -> str | None:
    value = read_url(t, "jwks_url", None, ("http", "https"), "an https:// URL")
    if value is None:
        return None
    # Whoever can swap the keys in transit can mint tokens: plain HTTP only on loopback.
    if value.startswith("http:") and urlsplit(value).hostname not in LOOPBACK_HOSTS:
        raise t.error("jwks_url", "must be https:// (http:// only for a loopback host)")
    return value  # type: ignore[no-any-return]
