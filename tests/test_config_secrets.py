"""Secrets are data: masked by declaration and URL structure, never re-attached elsewhere."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.config import ConfigError, parse_config
from nvr_edge.config_secrets import MASK, Secret, SecretKey, declare_secrets, mask_url
from nvr_edge.config_store import (
    merge_patch,
    public_document,
    restore_secrets,
    unresolved_masks,
)

# A section the way a plugin declares it (the MQTT plugin's [mqtt] is the real one).
declare_secrets("box_broker", url=Secret.URL,
                password=SecretKey(Secret.VALUE, bound_to=("url", "username")))
declare_secrets("box_push[]", url=Secret.STREAM_URL)
declare_secrets("box_other", pin=Secret.VALUE)

# Anything at all: blanks, quotes, ':' and unencoded '@', '/', '?', '#' too.
passwords = st.text(st.characters(blacklist_categories=("Cs",)), min_size=4, max_size=24)
HOST = "192.0.2.21:554"


def pieces(secret: str) -> set[str]:
    return {secret[i:i + 4] for i in range(len(secret) - 3)}


def leaked(secret: str, shown: str, context: str) -> set[str]:
    """Pieces of `secret` in `shown` that the surrounding text does not explain."""
    return {p for p in pieces(secret) if p in shown and p not in context}


def neutral(secret: str) -> str:
    """`secret` with the same shape ('@', ':', '/', blanks stay) and other letters: an
    answer for it quotes no piece of `secret` unless its own words hold that piece."""
    return re.sub(r"\w", "\u03a9", secret)


def error_for(document: dict[str, Any]) -> str:
    try:
        parse_config(document)
    except ConfigError as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize("password", ["it's", 'say "hi"', "two words", "p@ss@word",
                                      "a:b:c", "pa/ss@x", "what?#", "\\x\\"])
def test_camera_passwords_of_any_shape_are_masked(password: str) -> None:
    url = f"rtsp://admin:{password}@{HOST}/main"
    shown = public_document({"cameras": [{"id": "a", "main": url}]})
    assert shown["cameras"][0]["main"] == f"rtsp://admin:{MASK}@{HOST}/main"


@given(password=passwords, scheme=st.sampled_from(["rtsp", "RTSP", "rtsps", "postgresql"]))
def test_no_piece_of_a_password_is_shown(password: str, scheme: str) -> None:
    def document(pw: str) -> dict[str, Any]:
        url = f"{scheme}://admin:{pw}@{HOST}/main"
        return {"catalog": {"url": url}, "cameras": [{"id": "a", "main": url, "sub": url}],
                "anything": {"endpoint": url}}

    doc = document(password)
    shown = repr(public_document(doc))
    assert not leaked(password, shown, repr(public_document(document(neutral(password)))))
    assert restore_secrets(public_document(doc), doc) == doc
    assert unresolved_masks(restore_secrets(public_document(doc), doc)) == []


@given(key=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/"),
                   min_size=4, max_size=30))
def test_stream_keys_are_masked(key: str) -> None:
    url = f"rtmp://live.example.com/app/{key}"
    shown = public_document({"box_push": [{"camera": "a", "url": url}]})
    assert shown["box_push"][0]["url"] == f"rtmp://live.example.com/app/{MASK}"
    # undeclared RTMP URLs are masked by their scheme too
    assert public_document({"x": {"y": url}})["x"]["y"] == shown["box_push"][0]["url"]


def test_declared_and_named_secrets_are_masked_whole() -> None:
    doc = {"box_broker": {"url": "mqtt://h:1883", "password": "pw"},
           "box_other": {"pin": "1234"}, "x": {"api_token": "t", "name": "plain"}}
    shown = public_document(doc)
    assert shown == {"box_broker": {"url": "mqtt://h:1883", "password": MASK},
                     "box_other": {"pin": MASK}, "x": {"api_token": MASK, "name": "plain"}}


@pytest.mark.parametrize("new_url", ["mqtt://evil.example:1883", "mqtts://h:1883",
                                     "mqtt://h:1884", "mqtt://other@h:1883"])
def test_a_patch_that_moves_the_broker_drops_the_saved_password(new_url: str) -> None:
    current = {"box_broker": {"url": "mqtt://h:1883", "username": "u", "password": "pw"}}
    result = merge_patch(current, {"box_broker": {"url": new_url}})
    assert "password" not in result["box_broker"]
    given_again = merge_patch(current, {"box_broker": {"url": new_url, "password": "pw2"}})
    assert given_again["box_broker"]["password"] == "pw2"


def test_a_patch_that_keeps_the_broker_keeps_the_password() -> None:
    current = {"box_broker": {"url": "mqtt://h:1883", "username": "u", "password": "pw"}}
    assert merge_patch(current, {"box_broker": {"url": "MQTT://H:1883"}}
                       )["box_broker"]["password"] == "pw"
    assert merge_patch(current, {"box_broker": {"keepalive_s": 5}}
                       )["box_broker"]["password"] == "pw"
    assert "password" not in merge_patch(current, {"box_broker": {"username": "v"}}
                                         )["box_broker"]


def test_a_masked_password_is_not_restored_for_another_broker() -> None:
    current = {"box_broker": {"url": "mqtt://h:1883", "username": "u", "password": "pw"}}
    edited = public_document(current)
    assert restore_secrets(edited, current) == current
    edited["box_broker"]["url"] = "mqtt://evil.example:1883"
    restored = restore_secrets(edited, current)
    assert restored["box_broker"]["password"] == MASK
    assert unresolved_masks(restored) == ["box_broker.password"]


@pytest.mark.parametrize("changed", ["rtsp://admin:***@10.9.9.9/main",
                                     "rtsps://admin:***@192.0.2.21:554/main",
                                     "rtsp://root:***@192.0.2.21:554/main"])
def test_a_masked_url_password_stays_with_its_host_scheme_and_user(changed: str) -> None:
    current = {"cameras": [{"id": "a", "main": f"rtsp://admin:pw@{HOST}/main"}]}
    edited = public_document(current)
    edited["cameras"][0]["main"] = changed
    assert unresolved_masks(restore_secrets(edited, current)) == ["cameras[0].main"]


def test_a_masked_stream_key_stays_with_its_server() -> None:
    current = {"box_push": [{"camera": "a", "url": "rtmp://live.example.com/app/KEY"}]}
    edited = public_document(current)
    assert restore_secrets(edited, current) == current
    edited["box_push"][0]["url"] = f"rtmp://evil.example/app/{MASK}"
    assert unresolved_masks(restore_secrets(edited, current)) == ["box_push[0].url"]


def test_mask_url_keeps_what_is_not_secret() -> None:
    assert mask_url("rtsp://h/x?token=abc&y=1") == f"rtsp://h/x?token={MASK}&y=1"
    assert mask_url("rtsp://user@h/x") == "rtsp://user@h/x"
    assert mask_url("not a url") == "not a url"


# -- errors: a refused URL never quotes its password -----------------------------------------

hosts = st.sampled_from(["192.0.2.1", "cam.lan:554", "[2001:db8::1]:8554", "", "h:99999",
                         "h:0", "h:x1", "h h"])
schemes = st.sampled_from(["rtsp", "RTSP", "rtsps", "http", "", "rtsp:"])
tails = st.sampled_from(["/main", "", "/a@b", "?x=1", "\n", "/m\tx"])


@given(password=passwords, scheme=schemes, host=hosts, tail=tails)
def test_refused_camera_urls_never_quote_the_password(password: str, scheme: str, host: str,
                                                      tail: str) -> None:
    def document(pw: str) -> dict[str, Any]:
        url = f"{scheme}://admin:{pw}@{host}{tail}"
        return {"device": {"id": "box"}, "cameras": [{"id": "a", "main": url}]}

    message = error_for(document(password))
    if message:
        assert message.startswith("<config>: cameras[0].main: ")
        assert not leaked(password, message, error_for(document(neutral(password))))
    else:
        assert parse_config(document(password)).cameras[0].main.startswith(
            f"{scheme.lower()}://")


@given(password=passwords)
def test_refused_broker_like_urls_never_quote_the_password(password: str) -> None:
    def document(pw: str) -> dict[str, Any]:
        return {"device": {"id": "box"}, "catalog": {"url": f"postgresql://nvr:{pw}@db:x/nvr"}}

    message = error_for(document(password))
    assert message.startswith("<config>: catalog.url: ")
    assert not leaked(password, message, error_for(document(neutral(password))))



@pytest.mark.parametrize("password", ["p@ss w'rd:x", 'q"u@te', "100%sure", "pl%40in"])
def test_the_catalog_gets_its_password_in_the_form_libpq_reads(password: str) -> None:
    """libpq ends the userinfo at the first '@' (FFmpeg at the last): the catalog is handed
    an encoded password, so what check-config accepts connects with the right one."""
    conninfo = pytest.importorskip("psycopg.conninfo")
    url = f"POSTGRESQL://nvr:{password}@db.lan:5432/nvr"
    config = parse_config({"device": {"id": "box"}, "catalog": {"url": url}})
    expected = {"p@ss w'rd:x": "p@ss w'rd:x", 'q"u@te': 'q"u@te', "100%sure": "100%sure",
                "pl%40in": "pl@in"}[password]  # percent-encoding written is decoded
    assert conninfo.conninfo_to_dict(config.catalog_url) == {
        "user": "nvr", "password": expected, "host": "db.lan", "port": "5432", "dbname": "nvr"}
