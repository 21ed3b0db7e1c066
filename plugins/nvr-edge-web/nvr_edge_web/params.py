"""Query parameters checked up front: a bad one is a 400 naming it, never a 500."""

from __future__ import annotations

from collections.abc import Mapping

from nvr_edge import SAFE_ID, parse_iso_ms

from .errors import ApiError


def camera_id(value: str | None, name: str = "camera") -> str:
    if value is None or value == "":
        raise ApiError(400, f"{name} is required")
    if not SAFE_ID.match(value):
        raise ApiError(400, f"{name} must be 1-64 letters, digits, '-' or '_'")
    return value


def iso_ms(query: Mapping[str, str], name: str) -> int | None:
    """An ISO 8601 time (no zone: UTC) as epoch ms; None when absent."""
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        return parse_iso_ms(text)
    except (ValueError, OverflowError, OSError):
        raise ApiError(400, f"{name} must be an ISO 8601 time, e.g. "
                            "2026-11-23T10:00:00Z") from None


def time_range(query: Mapping[str, str], max_ms: int, max_words: str) -> tuple[int, int]:
    """`from` and `to`, both required, `to` after `from` by at most `max_ms` (said in
    `max_words`, e.g. "24 hours")."""
    since, until = iso_ms(query, "from"), iso_ms(query, "to")
    if since is None or until is None:
        raise ApiError(400, "from and to are required (ISO 8601 times)")
    if not 0 < until - since <= max_ms:
        raise ApiError(400, f"to must be after from, by at most {max_words}")
    return since, until


def bounded_int(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or not lo <= int(text) <= hi:
        raise ApiError(400, f"{name} must be an integer from {lo} to {hi}")
    return int(text)
