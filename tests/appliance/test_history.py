"""The box's history file: what it keeps, what a reader gets back, its size bound, and
how a start after an unclean stop is told apart."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from nvr_edge.appliance import history
from nvr_edge.appliance.history import (
    BOX_STARTED,
    FIRST_START,
    UNCLEAN,
    HistoryEvent,
    read_history,
    record,
    start_detail,
)


def test_a_camera_s_events_and_the_box_s_come_back_in_the_window(tmp_path: Path) -> None:
    for event in (HistoryEvent(1000, "box", BOX_STARTED),
                  HistoryEvent(2000, "state", "offline", "cam1", "RTSP: connection refused"),
                  HistoryEvent(3000, "state", "offline", "cam2"),
                  HistoryEvent(4000, "alert", "disk_space_critical", None, "cache full"),
                  HistoryEvent(5000, "state", "online", "cam1")):
        record(tmp_path, event)
    assert [(e.at_ms, e.code) for e in read_history(tmp_path, "cam1")] == [
        (1000, BOX_STARTED), (2000, "offline"), (4000, "disk_space_critical"),
        (5000, "online")]
    assert [e.at_ms for e in read_history(tmp_path, "cam1", 2000, 5000)] == [2000, 4000]
    assert len(read_history(tmp_path)) == 5
    assert read_history(tmp_path, "cam1")[1].detail == "RTSP: connection refused"


def test_a_torn_last_line_is_skipped_and_the_next_event_kept(tmp_path: Path) -> None:
    record(tmp_path, HistoryEvent(1000, "state", "offline", "cam1"))
    with open(history.history_path(tmp_path), "ab") as f:
        f.write(b'{"at_ms": 2000, "kind": "sta')
    record(tmp_path, HistoryEvent(3000, "state", "online", "cam1"))
    assert [e.at_ms for e in read_history(tmp_path)] == [1000, 3000]


@settings(max_examples=20, deadline=None)  # each event is fsynced
@given(st.integers(1, 400))
def test_the_file_stays_bounded_and_keeps_the_newest(count: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        for n in range(count):
            record(state, HistoryEvent(n, "state", "offline", "cam1", "x" * 40), max_bytes=4000)
        assert history.history_path(state).stat().st_size <= 4000 + 200
        kept = [e.at_ms for e in read_history(state)]
        assert kept == list(range(count - len(kept), count))  # the newest, in order


def test_a_start_after_a_start_was_an_unclean_stop(tmp_path: Path) -> None:
    assert start_detail(tmp_path) == FIRST_START  # a new box
    record(tmp_path, HistoryEvent(1000, "box", BOX_STARTED))
    assert start_detail(tmp_path) == UNCLEAN
    record(tmp_path, HistoryEvent(2000, "box", "box_stopped"))
    assert start_detail(tmp_path) == ""


def test_an_unwritable_history_is_logged_not_raised(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "gone"  # no such folder
    record(folder, HistoryEvent(1000, "box", BOX_STARTED))
    assert "cannot record box box_started" in caplog.text
