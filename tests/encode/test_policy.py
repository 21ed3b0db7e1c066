"""Ranking offers: passed probes only, the board's choice first, software last."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge import EncoderOffer, Engine
from nvr_edge.encode.policy import RetryPolicy, rank
from nvr_edge.encode.probe import ProbeResult
from nvr_edge.encode.software import open_software

NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
OFFERS = st.lists(st.builds(lambda n, e, p: EncoderOffer(n, e, open_software, priority=p),
                            NAMES, st.sampled_from(list(Engine)), st.integers(-5, 5)),
                  max_size=8)


def result(name: str, ok: bool) -> ProbeResult:
    return ProbeResult(name, "x", ok, "ok" if ok else "no", 0.1, None, 0)


@given(OFFERS, st.dictionaries(NAMES, st.booleans()), st.one_of(st.none(), NAMES))
def test_rank(offers: list[EncoderOffer], passed: dict[str, bool], prefer: str | None) -> None:
    results = {n: result(n, ok) for n, ok in passed.items()}
    ranked = rank(offers, results, prefer)
    names = [o.name for o in ranked]
    assert len(names) == len(set(names))                     # one per name
    assert all(passed.get(n) for n in names)                   # probed and passed only
    first_of = {}
    for o in offers:
        first_of.setdefault(o.name, o)
    assert all(first_of[o.name] is o for o in ranked)          # the first offer wins
    kinds = [o.software for o in ranked]
    assert kinds == sorted(kinds)                              # software last
    usable = {o.name for o in first_of.values() if passed.get(o.name)}
    if prefer in usable and not first_of[prefer].software:
        assert names[0] == prefer
    hardware = [o for o in ranked if not o.software and o.name != prefer]
    assert [o.priority for o in hardware] == sorted((o.priority for o in hardware),
                                                    reverse=True)


def test_retry_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(60, 300)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 9)] == [60, 120, 240, 300, 300]
