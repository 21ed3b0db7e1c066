"""The `update` command's arguments and the policy that refuses a request (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.api import CommandError
from nvr_edge.update.request import (
    BUSY_STATES,
    UpdateRequest,
    Version,
    parse_request,
    parse_version,
    refusal,
)

MiB = 2**20
releases = st.lists(st.integers(0, 999), min_size=1, max_size=4).map(tuple)
labels = st.one_of(st.just(""), st.from_regex(r"\A[a-z0-9][a-z0-9.]{0,8}\Z"))
versions = st.builds(Version, releases, labels)
OK = dict(running="1.0.0", state=None, slot="A", free_bytes=10_000 * MiB,
          bundle_bytes=200 * MiB, reserve_bytes=64 * MiB)


def request(version: str = "1.1.0", **kw: object) -> UpdateRequest:
    parsed = parse_version(version)
    assert parsed is not None
    return UpdateRequest("http://fleet.example/b.raucb", parsed, **kw)  # type: ignore[arg-type]


@given(versions)
def test_a_version_reads_back_as_written(version: Version) -> None:
    assert parse_version(str(version)) == version


@given(st.text(max_size=40))
def test_any_text_is_a_version_or_none_never_an_error(text: str) -> None:
    parsed = parse_version(text)
    assert parsed is None or str(parsed) == text


def test_parse_request_names_the_argument_at_fault() -> None:
    good = {"url": "https://fleet.example/0.3.1.raucb", "version": "0.3.1+4f2a9c"}
    parsed = parse_request({**good, "sha256": "AB" * 32, "allow_downgrade": True})
    assert parsed.version == Version((0, 3, 1), "4f2a9c")
    assert parsed.sha256 == "ab" * 32 and parsed.allow_downgrade
    for bad, word in [({"url": "ftp://x/b"}, "'url'"), ({"url": "http://u:secret@/b"}, "'url'"),
                      ({"version": "latest"}, "'version'"), ({"sha256": "12"}, "'sha256'"),
                      ({"health_timeout_s": 5}, "'health_timeout_s'")]:
        with pytest.raises(CommandError, match=word) as caught:
            parse_request({**good, **bad})
        assert "secret" not in str(caught.value)


@given(new=versions, old=versions, allow=st.booleans())
def test_downgrades_and_reinstalls_refused_unless_asked(new: Version, old: Version,
                                                        allow: bool) -> None:
    why = refusal(UpdateRequest("http://h/b", new, allow_downgrade=allow),
                  **{**OK, "running": str(old)})
    if allow or new.key() > old.key() or (new.key() == old.key() and str(new) != str(old)):
        assert why is None
    elif str(new) == str(old):
        assert why is not None and "already running" in why
    else:
        assert why is not None and "older than the running" in why


@given(state=st.sampled_from([None, "idle", "committed", "rolled_back", "failed",
                              *BUSY_STATES]),
       free=st.integers(0, 2**40), size=st.one_of(st.none(), st.integers(0, 2**36)),
       reserve=st.integers(0, 2**30), slot=st.sampled_from([None, "A", "B"]))
def test_refused_exactly_when_busy_short_of_space_or_not_ab(
        state: str | None, free: int, size: int | None, reserve: int, slot: str | None) -> None:
    why = refusal(request(), running="1.0.0", state=state, slot=slot, free_bytes=free,
                  bundle_bytes=size, reserve_bytes=reserve)
    if slot is None:
        assert why is not None and "A/B slot" in why
    elif state in BUSY_STATES:
        assert why == f"another update is under way (state {state})"
    elif size is not None and free < size + reserve:
        assert why is not None and "MiB free" in why
    else:
        assert why is None


def test_an_unknown_running_version_needs_allow_downgrade() -> None:
    assert "cannot be compared" in (refusal(request(), **{**OK, "running": "dev build"}) or "")
    assert refusal(request(allow_downgrade=True), **{**OK, "running": None}) is None


def test_same_release_other_build_is_no_downgrade() -> None:
    assert refusal(request("1.0.0+b"), **{**OK, "running": "1.0.0+a"}) is None
    assert refusal(request("1.0"), **{**OK, "running": "1.0.0+a"}) is None
