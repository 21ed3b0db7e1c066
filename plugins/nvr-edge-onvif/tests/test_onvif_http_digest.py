"""HTTP Digest: the RFC's worked example, and challenges we refuse to answer."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_onvif.http_digest import authorization, parse_challenge

RFC2617 = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
           'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')


def test_the_rfc_2617_example() -> None:
    challenge = parse_challenge(RFC2617)
    assert challenge is not None
    header = authorization(challenge, "Mufasa", "Circle Of Life", "GET", "/dir/index.html",
                           cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header and "qop=auth," in header
    assert "Circle" not in header


@pytest.mark.parametrize("header", [
    'Basic realm="cam"', 'Digest realm="cam"', 'Digest nonce="n", algorithm=SHA-512-256',
    'Digest nonce="n", qop="auth-int"', "Digest " + "x" * 5000])
def test_challenges_we_do_not_answer(header: str) -> None:
    assert parse_challenge(header) is None


def test_sha256_without_qop() -> None:
    challenge = parse_challenge('digest nonce=abc, algorithm="SHA-256", realm="r"')
    assert challenge is not None and challenge["qop"] == ""
    header = authorization(challenge, 'a"b', "pw", "POST", "/onvif/device_service")
    assert re.search(r'response="[0-9a-f]{64}"', header) and 'username="a\\"b"' in header


@given(st.text(max_size=300))
def test_fuzz_any_challenge_text(text: str) -> None:
    challenge = parse_challenge("Digest " + text)
    if challenge is not None:
        authorization(challenge, "u", "p", "POST", "/")
