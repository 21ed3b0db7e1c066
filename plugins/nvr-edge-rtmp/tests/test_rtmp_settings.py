"""The `[rtmp]` table's secrets: stream keys and passwords masked wherever a push URL is
shown, never quoted by an error, and what check_url accepts is what FFmpeg opens."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_rtmp.settings import PushTarget, check_url, read_rtmp

from nvr_edge.config import ConfigError, parse_config
from nvr_edge.config_store import MASK, public_document, restore_secrets, unresolved_masks

KEY = "live_7Hq2-secretkey"


def rtmp_document(url: str) -> dict:
    return {"device": {"id": "box"}, "rtmp": {"push": [{"camera": "c", "url": url}]}}


def test_the_stream_key_and_password_are_masked_in_the_shown_config() -> None:
    doc = rtmp_document(f"rtmp://pub:p@ss w'rd@live.example.com/app/{KEY}")
    parse_config(doc, readers={"rtmp": read_rtmp})
    shown = public_document(doc)
    assert shown["rtmp"]["push"][0]["url"] == f"rtmp://pub:{MASK}@live.example.com/app/{MASK}"
    assert restore_secrets(shown, doc) == doc
    moved = public_document(doc)
    moved["rtmp"]["push"][0]["url"] = f"rtmp://evil.example/app/{MASK}"
    assert unresolved_masks(restore_secrets(moved, doc)) == ["rtmp.push[0].url"]


def test_display_and_scheme_case() -> None:
    target = PushTarget("c", f"RTMP://live.example.com/app/{KEY}")
    assert target.url == f"rtmp://live.example.com/app/{KEY}"  # the form FFmpeg opens
    assert target.display == f"rtmp://live.example.com/app/{MASK}"
    assert check_url(f"RTMPS://h/app/{KEY}") is None


@given(key=st.text(st.characters(blacklist_categories=("Cs",)), min_size=4, max_size=30))
def test_no_error_quotes_a_stream_key_or_password(key: str) -> None:
    # the same shape with other letters: its answer explains any piece it shares with ours
    other = re.sub(r"\w", "\u03a9", key)
    for url in ("http://h/app/{}", "rtmp://u:{}@h:x/app/k", "rtmp://h/{}",
                "rtmp://u:{}@h/app/k\n"):
        problem, reference = check_url(url.format(key)) or "", check_url(url.format(other)) or ""
        pieces = {key[i:i + 4] for i in range(len(key) - 3)}
        assert not {p for p in pieces if p in problem and p not in reference}, problem


@pytest.mark.parametrize("url", ["rtmp://h/app/key\n", "rtmp://u:a/b@h/app/key"])
def test_bad_urls_are_named(url: str) -> None:
    with pytest.raises(ConfigError, match=r"rtmp\.push\[0\]\.url"):
        parse_config(rtmp_document(url), readers={"rtmp": read_rtmp})
