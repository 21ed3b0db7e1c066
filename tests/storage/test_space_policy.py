"""The space policy's thresholds, and the cleanup loop the mover relies on, for any sizes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.storage.space import free_until
from nvr_edge.storage.space_policy import SpacePolicy, TierSpace, cleanup_target, shortfall

SIZE = st.integers(min_value=0, max_value=10**13)
FILES = st.lists(st.integers(min_value=0, max_value=10**10), max_size=40)


def space(free: int, floor: int) -> TierSpace:
    return TierSpace("archive", "/a", max(free, floor) * 2, free, floor)


@given(SIZE, SIZE, SIZE)
def test_the_thresholds_agree(free: int, floor: int, incoming: int) -> None:
    s = space(free, floor)
    assert SpacePolicy.can_take(s, incoming) == (SpacePolicy.shortfall(s, incoming) == 0)
    assert s.below_floor == (not SpacePolicy.can_take(s, 0))
    # room for the mover is room for a camera: a paused camera never waits on the floor
    if SpacePolicy.can_take(s, incoming):
        assert SpacePolicy.can_reserve(s, incoming)
    # reaching the cleanup's target always lets the segment in
    target = cleanup_target(floor, incoming)
    assert SpacePolicy.can_take(space(target, floor), incoming)
    # freeing exactly the shortfall is enough, one byte less is not
    gap = shortfall(free, floor, incoming)
    assert SpacePolicy.can_take(space(free + gap, floor), incoming)
    if gap:
        assert not SpacePolicy.can_take(space(free + gap - 1, floor), incoming)


@given(SIZE, SIZE, SIZE, SIZE)
def test_more_free_space_never_makes_a_tier_fuller(free: int, extra: int, floor: int,
                                                   incoming: int) -> None:
    assert shortfall(free + extra, floor, incoming) <= shortfall(free, floor, incoming)
    if SpacePolicy.can_take(space(free, floor), incoming):
        assert SpacePolicy.can_take(space(free + extra, floor), incoming)


class FakeDisk:
    def __init__(self, free: int, sizes: list[int]) -> None:
        self.free = free
        self.files = {f"seg{i:03d}": size for i, size in enumerate(sizes)}
        self.deleted: list[str] = []

    def delete(self, path: str) -> int:
        size = self.files.pop(path)
        self.free += size
        self.deleted.append(path)
        return size


@given(SIZE, FILES, st.integers(min_value=0, max_value=10**10),
       st.integers(min_value=0, max_value=10**10))
def test_the_mover_never_refuses_when_cleanup_could_make_room(
        free: int, sizes: list[int], floor: int, incoming: int) -> None:
    disk = FakeDisk(free, sizes)
    oldest_first = list(disk.files)
    if SpacePolicy.can_take(space(free, floor), incoming):
        return  # the mover does not ask for a cleanup
    free_until(cleanup_target(floor, incoming), lambda: disk.free, oldest_first, disk.delete)
    could = free + sum(sizes) - floor - incoming >= 0
    assert SpacePolicy.can_take(space(disk.free, floor), incoming) == could
    # oldest first, and nothing deleted once the target was reached
    assert disk.deleted == oldest_first[:len(disk.deleted)]
    if disk.deleted:
        assert disk.free - sizes[len(disk.deleted) - 1] < cleanup_target(floor, incoming)
