"""HTTP Digest authentication (RFC 7616), for cameras that refuse WS-UsernameToken and
answer 401 with a `WWW-Authenticate: Digest` challenge instead. Never Basic: that would
send the password itself to whatever device answered our Probe."""

from __future__ import annotations

import hashlib
import os
import re

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def parse_challenge(header: str) -> dict[str, str] | None:
    """The parameters of a Digest challenge we can answer (MD5 or SHA-256, qop auth or
    none), or None."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest" or len(header) > 4096:
        return None
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _PARAM.finditer(rest)}
    algorithm = params.get("algorithm", "MD5").upper()
    qops = {q.strip() for q in params.get("qop", "").split(",") if q.strip()}
    if "nonce" not in params or algorithm not in _HASHES or (qops and "auth" not in qops):
        return None
    params["algorithm"] = algorithm
    params["qop"] = "auth" if qops else ""
    return params


def authorization(challenge: dict[str, str], user: str, password: str, method: str,
                  uri: str, cnonce: str | None = None) -> str:
    """The `Authorization` header answering `challenge` (from `parse_challenge`)."""
    h = _HASHES[challenge["algorithm"]]

    def digest(text: str) -> str:
        return h(text.encode()).hexdigest()

    realm, nonce, qop = challenge.get("realm", ""), challenge["nonce"], challenge["qop"]
    ha1 = digest(f"{user}:{realm}:{password}")
    ha2 = digest(f"{method}:{uri}")
    fields = {"username": user, "realm": realm, "nonce": nonce, "uri": uri,
              "algorithm": challenge["algorithm"]}
    if qop:
        cnonce = cnonce or os.urandom(8).hex()
        fields |= {"qop": qop, "nc": "00000001", "cnonce": cnonce}
        fields["response"] = digest(f"{ha1}:{nonce}:00000001:{cnonce}:{qop}:{ha2}")
    else:
        fields["response"] = digest(f"{ha1}:{nonce}:{ha2}")
    if "opaque" in challenge:
        fields["opaque"] = challenge["opaque"]
    unquoted = {"algorithm", "qop", "nc"}
    return "Digest " + ", ".join(
        f"{k}={v}" if k in unquoted else f'{k}="{_quote(v)}"' for k, v in fields.items())


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
