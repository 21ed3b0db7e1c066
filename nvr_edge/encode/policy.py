"""Which encoder to use: the order of candidates, and when a failed one is tried again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nvr_edge.encode.offer import EncoderOffer
from nvr_edge.encode.probe import ProbeResult


def rank(offers: Iterable[EncoderOffer], results: Mapping[str, ProbeResult],
         prefer: str | None = None) -> list[EncoderOffer]:
    """Offers whose probe passed, the board's preferred one first, then by priority
    (higher first, then name), software always last: the CPU is the fallback, never the
    choice while working hardware is there. The first offer of a name wins."""
    seen: dict[str, EncoderOffer] = {}
    for offer in offers:
        seen.setdefault(offer.name, offer)
    usable = [o for o in seen.values() if (r := results.get(o.name)) is not None and r.ok]
    return sorted(usable, key=lambda o: (o.software, o.name != prefer, -o.priority, o.name))


@dataclass(frozen=True)
class RetryPolicy:
    """A failed encoder is tried again after `first_s`, doubling up to `max_s`."""

    first_s: float = 60.0
    max_s: float = 3600.0

    def delay(self, failures: int) -> float:
        return min(self.max_s, self.first_s * 2 ** max(0, failures - 1))
