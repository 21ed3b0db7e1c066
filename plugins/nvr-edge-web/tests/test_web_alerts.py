"""The system page's alert log: what a token that is not admin reads of a box alert names no
filesystem path (a disk alert names its folder), and nothing else of the message changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_web.alerts import HIDDEN_PATH, AlertLog, without_paths

from nvr_edge import Alert
from nvr_edge.models import AlertLevel


@pytest.mark.parametrize(("message", "shown"), [
    ("archive /mnt/hdd/nvr is missing", "archive <path> is missing"),
    ("cannot write /data/cam1/2026-11-28/101500.mp4: EIO", "cannot write <path>: EIO"),
    ("no space on /var/lib/nvr-edge/cache (2 GB free)", "no space on <path> (2 GB free)"),
    ("camera cam1 is offline: RTSP: connection refused", None),
    ("rtsp://cam.lan/Streaming/101 stalled, ratio 1/2", None),
    ("see https://example.org/a/b", None),
])
def test_paths_are_masked_and_the_rest_kept(message: str, shown: str | None) -> None:
    assert without_paths(message) == (shown or message)


@given(st.lists(st.from_regex(r"[a-z0-9_.@+-]{1,8}", fullmatch=True), min_size=1,
                max_size=5).map(lambda parts: "/" + "/".join(parts)),
       st.text(alphabet="abc :,()", max_size=20))
def test_any_absolute_path_is_gone(path: str, text: str) -> None:
    masked = without_paths(f"{text} {path} {text}")
    assert path not in masked and masked == f"{text} {HIDDEN_PATH} {text}"


def test_admins_read_the_paths_and_others_do_not() -> None:
    log = AlertLog()
    log.add(Alert("archive_unavailable", AlertLevel.CRITICAL, "archive /mnt/hdd is missing"))
    log.add(Alert("camera_offline", AlertLevel.WARNING, "no answer", camera="cam1"))
    every = log.recent(lambda camera: True)
    assert [a["message"] for a in every] == ["no answer", "archive /mnt/hdd is missing"]
    viewer = log.recent(lambda camera: camera in (None, "cam1"), paths=False)
    assert viewer[1]["message"] == f"archive {HIDDEN_PATH} is missing"
    assert viewer[1]["code"] == "archive_unavailable" and viewer[1]["level"] == "critical"
