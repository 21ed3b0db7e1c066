"""The limits' parts on their own: JSON depth, Range satisfiability, viewer slots, the
connection cap and the loop's rate-limited error log (the running server: test_web_hostile)."""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Any

import pytest
from nvr_edge_web.body import MAX_JSON_DEPTH, nesting, parse_json
from nvr_edge_web.connections import ConnectionLimiter
from nvr_edge_web.counters import LiveMetrics
from nvr_edge_web.download import satisfiable
from nvr_edge_web.errors import ApiError
from nvr_edge_web.loop_errors import RateLimitedErrors
from nvr_edge_web.webrtc.sessions import Sessions


@pytest.mark.parametrize(("body", "depth"), [
    (b"1", 0), (b"{}", 1), (b'[[1, {"a": []}]]', 4), (b'["[[[[", "\\"[[["]', 1),
    (b"[" * 100_000, 100_000), (b'{"a": "]]]]"}', 1),
])
def test_nesting_leaves_strings_out(body: bytes, depth: int) -> None:
    assert nesting(body) == depth


def test_deep_json_is_refused_before_parsing() -> None:
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    for deep in (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
                 b"[" * 1_000_000, b'{"a":' * 50_000):
        with pytest.raises(ApiError) as info:
            parse_json(deep)
        assert info.value.status == 400 and f"deeper than {MAX_JSON_DEPTH}" in info.value.message
    with pytest.raises(ApiError, match="not JSON"):
        parse_json(b"\xff{")


@pytest.mark.parametrize(("header", "size", "ok"), [
    ("bytes=0-", 10, True), ("bytes=0-0", 10, True), ("bytes=9-", 10, True),
    ("bytes=-1", 10, True), ("bytes=-100", 10, True), ("bytes=2-100", 10, True),
    ("BYTES=1-2", 10, True),
    ("bytes=-0", 10, False), ("bytes=10-", 10, False), ("bytes=5-3", 10, False),
    ("bytes=0-", 0, False), ("bytes=-5", 0, False), ("bytes=-", 10, False),
    ("bytes=0-1,3-4", 10, False), ("bytes=0-1\n", 10, False), ("items=0-1", 10, False),
    ("bytes=\uff11-2", 10, False),  # a full-width digit: not ASCII
])
def test_range_satisfiable(header: str, size: int, ok: bool) -> None:
    assert satisfiable(header, size) is ok


def test_viewer_slots_are_reserved_until_added_or_released() -> None:
    sessions = Sessions(LiveMetrics())
    assert [sessions.reserve("cam1", 2) for _ in range(3)] == [True, True, False]
    assert sessions.reserve("cam2", 2)
    sessions.release("cam1")
    assert sessions.count("cam1") == 1 and sessions.reserve("cam1", 2)
    assert not sessions.reserve("cam1", 2)


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.was_closed = False

    def close(self) -> None:
        self.was_closed = True


def test_the_oldest_connection_without_a_token_makes_room(
        caplog: pytest.LogCaptureFixture) -> None:
    limiter = ConnectionLimiter(3)
    first, second, third, fourth, fifth = (FakeTransport() for _ in range(5))
    for transport in (first, second, third):
        limiter.opened(transport)
    limiter.authenticated(second)  # a token: no longer counted, never evicted
    limiter.opened(fourth)
    assert not first.was_closed and list(limiter.unauthenticated) == [first, third, fourth]
    with caplog.at_level(logging.WARNING):
        limiter.opened(fifth)
        limiter.opened(FakeTransport())
    assert first.was_closed and third.was_closed and not second.was_closed
    assert limiter.evicted == 2 and len(limiter.unauthenticated) == 3
    assert len([r for r in caplog.records if "to make room" in r.message]) == 1  # not 2
    limiter.closed(fourth)
    assert fourth not in limiter.unauthenticated


def test_loop_errors_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    handler = RateLimitedErrors(60, clock=lambda: now[0])
    loop = asyncio.new_event_loop()
    emfile: dict[str, Any] = {"message": "socket.accept() out of system resource",
                              "exception": OSError(errno.EMFILE, "Too many open files")}
    try:
        with caplog.at_level(logging.ERROR):
            for _ in range(1000):
                handler(loop, emfile)
            now[0] = 61
            handler(loop, emfile)
    finally:
        loop.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "999 more like it" in lines[1] and "Too many open files" in lines[1]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback per accept
