"""The catalog spool on a full state folder: it spends its reserve, then fails loudly;
it never loses or tears an entry silently."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr_edge.storage.spool_reserve import ReservedSpool, SpaceReserve, SpoolFull

from ..helpers import fill, tmpfs


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "state", "1m") as folder:
        yield folder


def alert_codes(spool: ReservedSpool) -> list[str]:
    codes = []
    while not spool.alerts.empty():
        codes.append(spool.alerts.get().code)
    return codes


def test_a_full_state_folder_spends_the_reserve_then_fails_loudly(state: Path) -> None:
    reserve = SpaceReserve(state / "spool-reserve", 128 * 1024)
    assert reserve.ensure() and reserve.held
    spool = ReservedSpool(state / "spool.jsonl", reserve)
    fill(state / "ballast")
    first = {"op": "delete", "path": "/cache/cam1/a.mp4"}
    spool.append(first)  # the folder is full: this one goes into the reserve
    assert not reserve.held and alert_codes(spool) == ["state_folder_full"]
    fill(state / "ballast2")
    big = {"op": "delete", "path": "/cache/" + "x" * 9000}  # longer than a page: torn
    with pytest.raises(SpoolFull):
        spool.append(big)
    assert alert_codes(spool) == ["catalog_spool_full"]
    assert spool.pending() == [first]  # the torn half line was cut off
    (state / "ballast").unlink()
    (state / "ballast2").unlink()
    assert reserve.ensure()  # room again: the reserve is back
    spool.append(big)
    assert spool.pending() == [first, big]


def test_no_reserve_is_taken_from_a_folder_that_cannot_spare_it(state: Path) -> None:
    fill(state / "ballast")
    reserve = SpaceReserve(state / "spool-reserve", 128 * 1024)
    assert not reserve.ensure() and not (state / "spool-reserve.tmp").exists()
