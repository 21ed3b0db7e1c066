"""nvr_edge/auth.py: every refusal is an AuthError with 401 or 403, never anything else."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from nvr_edge_web.auth import (
    SECRET_FILE,
    Authenticator,
    AuthError,
    AuthSetupError,
    Grant,
    TokenIssueError,
    authenticator_for,
    require,
    token_from_request,
)
from nvr_edge_web.auth_settings import AuthConfig, read_auth
from web_tokens import b64, claims, forge, secret_of

from nvr_edge import DISABLE_AUTOLOAD_ENV
from nvr_edge.config import ConfigError, load_config, parse_config
from nvr_edge.logs import redact

LOCAL = AuthConfig()


# --- helpers ------------------------------------------------------------------------------

def rejected(auth: Authenticator, token: Any, status: int = 401) -> AuthError:
    with pytest.raises(AuthError) as info:
        auth.verify(token)
    assert info.value.status == status
    if isinstance(token, str) and token:
        for part in token.split("."):
            assert len(part) < 8 or part not in info.value.reason  # never echoes the token
    return info.value


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def local(state: Path) -> Authenticator:
    return Authenticator(LOCAL, state)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_key2() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def jwk(key: Any, kid: str | None, alg: str | None = None) -> dict[str, Any]:
    public = key.public_key()
    maker = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
    data: dict[str, Any] = maker.to_jwk(public, as_dict=True)
    data.update({"use": "sig"})
    if kid is not None:
        data["kid"] = kid
    if alg is not None:
        data["alg"] = alg
    return data


def jwks_bytes(*keys: dict[str, Any]) -> bytes:
    return json.dumps({"keys": list(keys)}).encode()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class JwksServer:
    """A JWKS endpoint on 127.0.0.1 (http.server in a thread) counting its requests."""

    def __init__(self) -> None:
        self.body, self.status, self.hits = b"{}", 200, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


def jwks_config(**changes: Any) -> AuthConfig:
    base = AuthConfig(mode="jwks", algorithms=("RS256", "ES256"), audience="nvr-lab-01")
    return replace(base, **changes)


@pytest.fixture
def file_auth(tmp_path: Path, rsa_key: Any, ec_key: Any) -> Authenticator:
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks_bytes(jwk(rsa_key, "rsa-1", "RS256"), jwk(ec_key, "ec-1", "ES256")))
    return Authenticator(jwks_config(jwks_file=path), tmp_path / "state")


def fleet_token(key: Any, kid: str | None, alg: str = "RS256", **changes: Any) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims(**{"aud": "nvr-lab-01", **changes}), key, algorithm=alg,
                      headers=headers)


# --- configuration ------------------------------------------------------------------------

DEVICE = {"device": {"id": "nvr-lab-01"}}


def auth_section(**keys: Any) -> AuthConfig:
    return parse_config({**DEVICE, "auth": keys}, readers=READERS).sections["auth"]


READERS = {"auth": read_auth}  # the web plugin owns [auth] (nvr_config_sections)


def test_config_defaults() -> None:
    assert parse_config(DEVICE, readers=READERS).sections["auth"] == AuthConfig()
    assert AuthConfig().algorithms == ("HS256",) and AuthConfig().audience is None
    fleet = auth_section(mode="jwks", jwks_url="https://fleet.example/jwks.json")
    assert fleet.algorithms == ("RS256", "ES256")
    # A fleet token must name this box unless the operator chooses a shared audience.
    assert fleet.audience is None and fleet.for_device("nvr-lab-01").audience == "nvr-lab-01"
    shared = auth_section(mode="jwks", jwks_file="/k.json", audience="fleet")
    assert shared.for_device("nvr-lab-01").audience == "fleet"
    assert AuthConfig().for_device("nvr-lab-01").audience is None  # local: per box already


def test_auth_is_the_web_plugins_section() -> None:
    """Without the web plugin, [auth] is a table nobody reads: a typo-like error."""
    with pytest.raises(ConfigError, match="auth: unknown key"):
        parse_config({**DEVICE, "auth": {}}, readers={})


@pytest.mark.parametrize(("keys", "key", "problem"), [
    ({"algorithms": ["RS256"]}, "auth.algorithms", "not allowed with mode = 'local'"),
    ({"mode": "jwks", "jwks_file": "/k", "algorithms": ["HS256"]}, "auth.algorithms",
     "not allowed with mode = 'jwks'"),
    ({"mode": "jwks", "jwks_file": "/k", "algorithms": ["none"]}, "auth.algorithms",
     "not allowed"),
    ({"algorithms": []}, "auth.algorithms", "at least one"),
    ({"mode": "jwks"}, "auth.jwks_file", "exactly one of"),
    ({"mode": "jwks", "jwks_file": "/k", "jwks_url": "https://x/k"}, "auth.jwks_file",
     "exactly one of"),
    ({"jwks_url": "https://x/k"}, "auth.jwks_url", "only with mode = 'jwks'"),
    ({"mode": "jwks", "jwks_url": "http://fleet.example/k"}, "auth.jwks_url", "https://"),
    ({"mode": "jwks", "jwks_url": "ftp://fleet.example/k"}, "auth.jwks_url", "https://"),
    ({"mode": "oauth"}, "auth.mode", "must be one of"),
    ({"issuer": ""}, "auth.issuer", "must not be empty"),
    ({"max_ttl_s": 10}, "auth.max_ttl_s", "between"),
    ({"secret": "x"}, "auth.secret", "unknown key"),
])
def test_config_errors(keys: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        auth_section(**keys)
    assert info.value.key == key and problem in info.value.problem


# --- local mode: positive -----------------------------------------------------------------

def test_issue_verify_round_trip(local: Authenticator) -> None:
    token = local.issue("alice", ["view", "playback"], ["cam1", "cam2"], 600)
    grant = local.verify(token)
    assert grant.subject == "alice"
    assert grant.actions == {"view", "playback"} and grant.cameras == {"cam1", "cam2"}
    assert abs(grant.expires_at - (time.time() + 600)) < 5
    require(grant, "playback", "cam2")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_secret_file_is_private_and_reused(state: Path) -> None:
    first = Authenticator(LOCAL, state)
    path = state / SECRET_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    secret = secret_of(state)
    assert len(secret) >= 32
    token = first.issue("a", ["view"], "*", 60)
    second = Authenticator(LOCAL, state)  # a later start, or `nvr-edge token`
    assert secret_of(state) == secret
    assert second.verify(token).cameras is None
    assert [p.name for p in state.iterdir()] == [SECRET_FILE]  # no temp file left


def test_secret_others_can_read_is_refused(state: Path) -> None:
    Authenticator(LOCAL, state)
    (state / SECRET_FILE).chmod(0o644)
    with pytest.raises(AuthSetupError, match="readable by others"):
        Authenticator(LOCAL, state)


def test_short_secret_is_refused(state: Path) -> None:
    state.mkdir()
    fd = os.open(state / SECRET_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"c2hvcnQ=\n")
    os.close(fd)
    with pytest.raises(AuthSetupError, match="remove it"):
        Authenticator(LOCAL, state)


def test_issue_sets_issuer_and_audience(state: Path) -> None:
    auth = Authenticator(replace(LOCAL, issuer="box", audience="nvr-lab-01"), state)
    token = auth.issue("a", ["admin"], ["cam1"], 60)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["iss"] == "box" and payload["aud"] == "nvr-lab-01"
    assert auth.verify(token).actions == {"admin"}


@pytest.mark.parametrize(("args", "message"), [
    ((["view"], ["cam1"], 86_401), "ttl"),
    ((["view"], ["cam1"], 0), "ttl"),
    ((["view", "delete"], ["cam1"], 60), "unknown action"),
    (([], ["cam1"], 60), "at least one action"),
    ((["view"], [], 60), "at least one camera"),
])
def test_issue_refuses(local: Authenticator, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(TokenIssueError, match=message):
        local.issue("a", *args)


def test_issue_in_jwks_mode_is_refused(file_auth: Authenticator) -> None:
    with pytest.raises(TokenIssueError, match="fleet issuer"):
        file_auth.issue("a", ["view"], ["cam1"], 60)


def test_leeway(local: Authenticator, state: Path) -> None:
    late = jwt.encode(claims(exp=int(time.time()) - 10), secret_of(state), algorithm="HS256")
    assert local.verify(late).subject == "tester"  # within the default 30 s
    rejected(Authenticator(replace(LOCAL, leeway_s=0), state), late)


# --- local mode: refused tokens -----------------------------------------------------------

@pytest.mark.parametrize("token", [None, ""])
def test_missing(local: Authenticator, token: Any) -> None:
    assert "required" in rejected(local, token).reason


def test_expired(local: Authenticator, state: Path) -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 3600), secret_of(state), "HS256")
    assert "expired" in rejected(local, token).reason


@pytest.mark.parametrize("field", ["nbf", "iat"])
def test_not_yet_valid(local: Authenticator, state: Path, field: str) -> None:
    token = jwt.encode(claims(**{field: int(time.time()) + 3600}), secret_of(state), "HS256")
    assert "not valid yet" in rejected(local, token).reason


def test_exp_is_required(local: Authenticator, state: Path) -> None:
    token = jwt.encode(claims(exp=None), secret_of(state), "HS256")
    assert "'exp'" in rejected(local, token).reason


def test_wrong_key(local: Authenticator) -> None:
    token = jwt.encode(claims(), os.urandom(64), "HS256")
    assert "signature" in rejected(local, token).reason


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none(local: Authenticator, state: Path, alg: str) -> None:
    rejected(local, forge({"alg": alg, "typ": "JWT"}, claims()))
    # with a real signature behind it, too
    signed = local.issue("a", ["view"], ["cam1"], 60)
    header = b64(json.dumps({"alg": alg}).encode())
    rejected(local, header + signed[signed.index("."):])


def test_rs256_token_in_local_mode(local: Authenticator, rsa_key: Any) -> None:
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert "algorithm" in rejected(local, token).reason


def test_tampered_payload(local: Authenticator) -> None:
    token = local.issue("a", ["view"], ["cam1"], 60)
    header, _, signature = token.split(".")
    wider = b64(json.dumps(claims(nvr={"actions": ["admin"], "cameras": "*"})).encode())
    assert "signature" in rejected(local, f"{header}.{wider}.{signature}").reason
    rejected(local, f"{header}.{wider}.")  # signature stripped


def test_wrong_issuer_and_audience(state: Path) -> None:
    strict = Authenticator(replace(LOCAL, issuer="box", audience="nvr-lab-01"), state)
    key = secret_of(state)
    good = claims(iss="box", aud="nvr-lab-01")
    assert strict.verify(jwt.encode(good, key, "HS256")).subject == "tester"
    cases = {
        "issuer": {**good, "iss": "elsewhere"},
        "'iss'": {k: v for k, v in good.items() if k != "iss"},
        "this device": {**good, "aud": "nvr-other"},
        "'aud'": {k: v for k, v in good.items() if k != "aud"},
    }
    for reason, payload in cases.items():
        assert reason in rejected(strict, jwt.encode(payload, key, "HS256")).reason
    # A token addressed to some audience is refused by a box that has none configured.
    rejected(Authenticator(LOCAL, state), jwt.encode(good, key, "HS256"))


@pytest.mark.parametrize("nvr", [
    None, "view", [], {"actions": "view", "cameras": "*"}, {"actions": ["view"]},
    {"actions": ["view"], "cameras": "cam1"}, {"actions": ["view"], "cameras": [1]},
    {"cameras": "*"},
])
def test_malformed_permissions_claim(local: Authenticator, state: Path, nvr: Any) -> None:
    token = jwt.encode(claims(nvr=nvr), secret_of(state), "HS256")
    assert "nvr" in rejected(local, token).reason


@pytest.mark.parametrize("token", ["abc", "a.b", "a.b.c.d", "a b.c.d", "é.a.b", "\ud800.a.b",
                                   "x" * 9000, "..", "eyJ.eyJ.x"])
def test_garbage_tokens(local: Authenticator, token: str) -> None:
    rejected(local, token)


# --- permissions (403) --------------------------------------------------------------------

def grant(actions: list[str], cameras: list[str] | str) -> Grant:
    return Grant("t", frozenset(actions), None if cameras == "*" else frozenset(cameras), 0)


def test_wrong_camera_and_wrong_action(local: Authenticator) -> None:
    g = local.verify(local.issue("a", ["view"], ["cam1"], 60))
    with pytest.raises(AuthError) as info:
        require(g, "view", "cam2")
    assert info.value.status == 403 and "camera" in info.value.reason
    with pytest.raises(AuthError) as info:
        require(g, "playback", "cam1")
    assert info.value.status == 403 and "playback" in info.value.reason
    assert 'error="insufficient_scope"' in info.value.www_authenticate


def test_grant_rules() -> None:
    admin = grant(["admin"], ["cam1"])
    assert admin.allows("view", "cam1") and admin.allows("playback", "cam1")
    assert not admin.allows("view", "cam2")
    # The box as a whole (camera None) needs a grant for every camera.
    assert not admin.allows("admin", None)
    assert grant(["admin"], "*").allows("admin", None)
    assert grant(["view"], "*").allows("view", "any-camera")
    assert not grant(["view"], "*").allows("playback", "cam1")
    assert not grant([], "*").allows("view", "cam1")
    with pytest.raises(ValueError):
        admin.allows("delete", "cam1")  # a server bug, not a 403


def test_unknown_actions_in_a_token_are_ignored(local: Authenticator, state: Path) -> None:
    nvr = {"actions": ["ptz", "view"], "cameras": ["cam1"]}
    g = local.verify(jwt.encode(claims(nvr=nvr), secret_of(state), "HS256"))
    assert g.actions == {"view"}


# --- finding the token in a request -------------------------------------------------------

def test_token_from_request() -> None:
    assert token_from_request({"Authorization": "Bearer a.b.c"}, {"token": "x.y.z"}) == "a.b.c"
    assert token_from_request({"authorization": "bearer  a.b.c "}, {}) == "a.b.c"
    assert token_from_request({}, {"token": "x.y.z"}) == "x.y.z"
    assert token_from_request({"Accept": "*/*"}, {}) is None
    assert token_from_request({}, {"token": ""}) is None


@pytest.mark.parametrize("value", ["Basic dXNlcjpwdw==", "Bearer", "Bearer ", "Bearer a b",
                                   "Token a.b.c", "", "Bearer a.b.c, Bearer d.e.f"])
def test_malformed_authorization_header(value: str) -> None:
    with pytest.raises(AuthError) as info:
        token_from_request({"Authorization": value}, {"token": "x.y.z"})
    assert info.value.status == 401 and 'error="invalid_token"' in info.value.www_authenticate


def test_authenticate(local: Authenticator) -> None:
    token = local.issue("a", ["view"], ["cam1"], 60)
    assert local.authenticate({"Authorization": f"Bearer {token}"}, {}).subject == "a"
    assert local.authenticate({}, {"token": token}).subject == "a"
    with pytest.raises(AuthError) as info:
        local.authenticate({}, {})
    assert info.value.status == 401


def test_tokens_are_redacted_where_they_travel(local: Authenticator) -> None:
    token = local.issue("a", ["admin"], "*", 60)
    for line in (f"Authorization: Bearer {token}", f"GET /live/cam1/index.m3u8?token={token}",
                 f"GET /live?x=1&token={token} HTTP/1.1"):
        out = redact(line)
        assert all(part not in out for part in token.split("."))


# --- hypothesis: nothing but AuthError comes out ------------------------------------------

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
token_like = st.one_of(
    st.text(max_size=300),
    st.from_regex(r"[A-Za-z0-9_=-]{0,60}\.[A-Za-z0-9_=-]{0,200}\.[A-Za-z0-9_=-]{0,90}",
                  fullmatch=True),
    st.binary(max_size=200),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@FUZZ
@given(token=token_like)
def test_fuzz_verify(local: Authenticator, token: Any) -> None:
    rejected(local, token)


@FUZZ
@given(payload=st.dictionaries(st.sampled_from(["sub", "exp", "nbf", "iat", "iss", "aud",
                                                "nvr", "jti"]), json_values),
       nvr=json_values, header=st.dictionaries(st.sampled_from(["kid", "typ", "crit", "b64",
                                                                "cty", "x5u"]), json_values))
def test_fuzz_signed_claims(local: Authenticator, state: Path, payload: dict[str, Any],
                            nvr: Any, header: dict[str, Any]) -> None:
    """Correctly signed tokens carrying arbitrary claims and headers."""
    payload.setdefault("nvr", nvr)
    body = {"alg": "HS256", **header}
    signing_input = f"{b64(json.dumps(body).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret_of(state), signing_input.encode(), hashlib.sha256).digest()
    try:
        g = local.verify(f"{signing_input}.{b64(signature)}")
    except AuthError as exc:
        assert exc.status == 401
    else:
        assert isinstance(g, Grant) and g.actions <= {"view", "playback", "admin"}


@FUZZ
@given(kid=json_values, alg=st.sampled_from(["RS256", "ES256", "PS256", "RS512", "HS256"]))
def test_fuzz_jwks_headers(file_auth: Authenticator, rsa_key: Any, kid: Any, alg: str) -> None:
    signing_input = f"{b64(json.dumps({'alg': alg, 'kid': kid}).encode())}." \
                    f"{b64(json.dumps(claims(aud='nvr-lab-01')).encode())}"
    rejected(file_auth, f"{signing_input}.{b64(os.urandom(256))}")


@FUZZ
@given(headers=st.dictionaries(st.sampled_from(["Authorization", "authorization", "X"])
                               | st.text(max_size=15), st.text(max_size=80), max_size=3),
       query=st.dictionaries(st.sampled_from(["token", "t"]), st.text(max_size=80), max_size=2))
def test_fuzz_token_from_request(headers: dict[str, str], query: dict[str, str]) -> None:
    try:
        token = token_from_request(headers, query)
    except AuthError as exc:
        assert exc.status == 401
    else:
        assert token is None or isinstance(token, str)


# --- jwks mode ----------------------------------------------------------------------------

def test_jwks_file_rs256_and_es256(file_auth: Authenticator, rsa_key: Any,
                                   ec_key: Any) -> None:
    assert file_auth.verify(fleet_token(rsa_key, "rsa-1")).cameras == {"cam1"}
    assert file_auth.verify(fleet_token(ec_key, "ec-1", "ES256")).actions == {"view"}


def test_jwks_refusals(file_auth: Authenticator, rsa_key: Any, rsa_key2: Any,
                       ec_key: Any) -> None:
    rejected(file_auth, fleet_token(rsa_key2, "rsa-1"))              # wrong key
    assert "kid" in rejected(file_auth, fleet_token(rsa_key, "rsa-9")).reason  # unknown kid
    assert "kid" in rejected(file_auth, fleet_token(rsa_key, None)).reason  # several keys
    rejected(file_auth, fleet_token(rsa_key, "ec-1"))                # RSA token, EC key
    rejected(file_auth, fleet_token(rsa_key, "rsa-1", "PS256"))      # not in algorithms
    rejected(file_auth, fleet_token(rsa_key, "rsa-1", exp=int(time.time()) - 3600))
    rejected(file_auth, fleet_token(rsa_key, "rsa-1", aud="nvr-other"))  # another box's
    rejected(file_auth, fleet_token(ec_key, "ec-1", "ES256", nbf=int(time.time()) + 3600))


def test_hs256_signed_with_the_public_key_is_refused(file_auth: Authenticator,
                                                     rsa_key: Any) -> None:
    """The classic confusion: the verifier's public key used as the HMAC secret."""
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    for kid in ("rsa-1", None):
        header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
        signing_input = forge(header, claims(aud="nvr-lab-01")).rsplit(".", 1)[0]
        signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        assert "algorithm" in rejected(file_auth, f"{signing_input}.{b64(signature)}").reason


def test_jwks_without_kid_single_key(tmp_path: Path, ec_key: Any) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks_bytes(jwk(ec_key, None)))
    auth = Authenticator(jwks_config(jwks_file=path), tmp_path / "state")
    assert auth.verify(fleet_token(ec_key, None, "ES256")).subject == "tester"


def test_jwk_alg_binds_the_key(tmp_path: Path, rsa_key: Any) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks_bytes(jwk(rsa_key, "k", "RS256")))
    auth = Authenticator(jwks_config(jwks_file=path, algorithms=("RS256", "PS256")),
                         tmp_path / "state")
    assert auth.verify(fleet_token(rsa_key, "k")).subject == "tester"
    rejected(auth, fleet_token(rsa_key, "k", "PS256"))


def test_jwks_ignores_symmetric_and_private_keys(tmp_path: Path, rsa_key: Any) -> None:
    private = RSAAlgorithm.to_jwk(rsa_key, as_dict=True) | {"kid": "priv"}
    secret = {"kty": "oct", "kid": "oct", "k": b64(b"k" * 64)}
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks_bytes(secret, private, jwk(rsa_key, "pub")))
    auth = Authenticator(jwks_config(jwks_file=path), tmp_path / "state")
    assert auth.verify(fleet_token(rsa_key, "pub")).subject == "tester"
    rejected(auth, fleet_token(rsa_key, "priv"))
    hs = jwt.encode(claims(aud="nvr-lab-01"), b"k" * 64, "HS256", headers={"kid": "oct"})
    rejected(auth, hs)


def test_jwks_url_is_cached(jwks_server: JwksServer, tmp_path: Path, rsa_key: Any,
                            ec_key: Any) -> None:
    jwks_server.body = jwks_bytes(jwk(rsa_key, "rsa-1"), jwk(ec_key, "ec-1"))
    auth = Authenticator(jwks_config(jwks_url=jwks_server.url), tmp_path / "state")
    assert jwks_server.hits == 0  # fetched on first use: a boot without the issuer is fine
    assert auth.verify(fleet_token(rsa_key, "rsa-1")).subject == "tester"
    assert auth.verify(fleet_token(ec_key, "ec-1", "ES256")).subject == "tester"
    assert jwks_server.hits == 1


def test_key_rotation(jwks_server: JwksServer, tmp_path: Path, rsa_key: Any,
                      rsa_key2: Any) -> None:
    clock = FakeClock()
    jwks_server.body = jwks_bytes(jwk(rsa_key, "2025"))
    auth = Authenticator(jwks_config(jwks_url=jwks_server.url, jwks_refresh_s=60),
                         tmp_path / "state", clock=clock)
    assert auth.verify(fleet_token(rsa_key, "2025")).subject == "tester"
    jwks_server.body = jwks_bytes(jwk(rsa_key, "2025"), jwk(rsa_key2, "2026"))
    clock.now += 61
    assert auth.verify(fleet_token(rsa_key2, "2026")).subject == "tester"  # unknown kid
    assert jwks_server.hits == 2
    # Made-up kids within jwks_refresh_s do not reach the issuer.
    for kid in ("x1", "x2", "x3"):
        rejected(auth, fleet_token(rsa_key2, kid))
    assert jwks_server.hits == 2
    clock.now += 61
    rejected(auth, fleet_token(rsa_key2, "x4"))
    assert jwks_server.hits == 3


def test_revoked_key_and_issuer_outage(jwks_server: JwksServer, tmp_path: Path,
                                       rsa_key: Any, rsa_key2: Any,
                                       caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    jwks_server.body = jwks_bytes(jwk(rsa_key, "old"), jwk(rsa_key2, "new"))
    auth = Authenticator(jwks_config(jwks_url=jwks_server.url), tmp_path / "state",
                         clock=clock)
    old = fleet_token(rsa_key, "old")
    assert auth.verify(old).subject == "tester"
    # The issuer fails: the cached keys stay in use.
    jwks_server.status = 500
    clock.now += 3601
    with caplog.at_level(logging.WARNING, logger="nvr_edge_web.auth"):
        assert auth.verify(old).subject == "tester"
    assert "cannot load the JWKS" in caplog.text
    assert all(part not in caplog.text for part in old.split("."))
    # The issuer is back without the old key: once the cache is old, the key is gone.
    jwks_server.status = 200
    jwks_server.body = jwks_bytes(jwk(rsa_key2, "new"))
    clock.now += 3601
    rejected(auth, old)
    assert auth.verify(fleet_token(rsa_key2, "new")).subject == "tester"


def test_issuer_unreachable_from_the_start(tmp_path: Path, rsa_key: Any) -> None:
    server = JwksServer()
    url = server.url
    server.close()  # nothing listens there now
    auth = Authenticator(jwks_config(jwks_url=url), tmp_path / "state")
    assert "cannot be checked" in rejected(auth, fleet_token(rsa_key, "rsa-1")).reason


def test_bad_jwks_documents(jwks_server: JwksServer, tmp_path: Path, rsa_key: Any) -> None:
    clock = FakeClock()
    auth = Authenticator(jwks_config(jwks_url=jwks_server.url), tmp_path / "state",
                         clock=clock)
    for body in (b"not json", b"[]", b'{"keys": {}}', b'{"keys": [{"kty": "RSA"}]}',
                 b"[" * 100_000, b" " * (2 << 20)):
        jwks_server.body = body
        clock.now += 61
        rejected(auth, fleet_token(rsa_key, "rsa-1"))


# --- the CLI ------------------------------------------------------------------------------

CLI_CONFIG = """
[device]
id = "nvr-lab-01"
[storage]
cache_dir = "cache"
archive_dir = "archive"
state_dir = "state"
[[cameras]]
id = "cam1"
main = "rtsp://192.0.2.21/main"
[[cameras]]
id = "cam2"
main = "rtsp://192.0.2.22/main"
"""


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`nvr-edge token`, which the web plugin adds: installed plugins loaded."""
    env = {k: v for k, v in os.environ.items() if k != DISABLE_AUTOLOAD_ENV}
    return subprocess.run([sys.executable, "-m", "nvr_edge", "token", "--config", str(config),
                           *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def cli_config(tmp_path: Path) -> Path:
    path = tmp_path / "nvr.toml"
    path.write_text(CLI_CONFIG)
    return path


def test_cli_token(cli_config: Path) -> None:
    done = run_cli(cli_config, "--camera", "cam1", "--action", "view", "--ttl", "600")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n"  # nothing else on stdout
    config = load_config(cli_config, readers=READERS)
    g = authenticator_for(config).verify(token)
    assert g.actions == {"view"} and g.cameras == {"cam1"} and g.subject == "cli"
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["exp"] - payload["iat"] == 600
    assert (config.storage.state_dir / SECRET_FILE).stat().st_mode & 0o777 == 0o600


def test_cli_token_all_cameras(cli_config: Path) -> None:
    done = run_cli(cli_config, "--all-cameras", "--action", "playback", "--action", "view",
                   "--subject", "vms")
    assert done.returncode == 0, done.stderr
    config = load_config(cli_config, readers=READERS)
    g = authenticator_for(config).verify(done.stdout.strip())
    assert g.cameras is None and g.actions == {"view", "playback"} and g.subject == "vms"


@pytest.mark.parametrize(("args", "message"), [
    (["--camera", "garage", "--action", "view"], "camera 'garage' is not in"),
    (["--action", "view"], "--all-cameras"),
    (["--camera", "cam1", "--all-cameras", "--action", "view"], "--all-cameras"),
    (["--camera", "cam1", "--action", "view", "--ttl", "999999"], "auth.max_ttl_s"),
])
def test_cli_token_errors(cli_config: Path, args: list[str], message: str) -> None:
    done = run_cli(cli_config, *args)
    assert done.returncode == 2 and done.stdout == ""
    assert message in done.stderr


def test_cli_token_in_jwks_mode(cli_config: Path, tmp_path: Path) -> None:
    cli_config.write_text(CLI_CONFIG + '[auth]\nmode = "jwks"\njwks_file = "jwks.json"\n')
    done = run_cli(cli_config, "--camera", "cam1", "--action", "view")
    assert done.returncode == 2 and done.stdout == ""
    assert "fleet issuer" in done.stderr
