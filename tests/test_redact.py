from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.logs import RedactingFormatter, redact

passwords = st.text(alphabet=st.characters(blacklist_characters="@/ \t\n\r'\"",
                                           blacklist_categories=("Cs",)), min_size=4,
                    max_size=20)


@given(user=st.from_regex(r"[a-z]{1,8}", fullmatch=True), password=passwords,
       scheme=st.sampled_from(["rtsp", "rtsps", "postgresql", "mqtt"]))
def test_url_passwords_never_survive(user: str, password: str, scheme: str) -> None:
    text = f"failed: '{scheme}://{user}:{password}@192.0.2.1:554/main' returned 404"
    out = redact(text)
    assert f":{password}@" not in out
    assert f"{scheme}://{user}:***@192.0.2.1:554/main" in out


def test_tokens_are_masked() -> None:
    out = redact("GET /live/x/index.m3u8?token=eyJabc.def.ghi&x=1 Authorization: Bearer abc.def")
    assert "eyJabc" not in out and "abc.def" not in out
    assert "?token=***&x=1" in out


def test_formatter_masks_tracebacks() -> None:
    try:
        raise ValueError("cannot open rtsp://admin:topsecret@10.0.0.1/main")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "oops", (), None)
        import sys

        record.exc_info = sys.exc_info()
    text = RedactingFormatter("%(message)s").format(record)
    assert "topsecret" not in text
    assert "rtsp://admin:***@10.0.0.1/main" in text
