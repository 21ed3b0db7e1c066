"""The upload queue against any sequence of queueing, completing and crashing: nothing
lost, nothing twice, order kept (a model of what a correct queue holds, checked after
every step; a crash reopens the file without closing it)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from nvr_edge_s3.queue import Upload, UploadQueue

OPS = st.lists(st.one_of(st.tuples(st.just("put"), st.integers(0, 30)),
                         st.tuples(st.just("done"), st.integers(0, 5)),
                         st.tuples(st.just("crash"), st.just(0))), max_size=60)


def upload(n: int) -> Upload:
    return Upload(source=f"/cache/cam/{n}.mp4", key=f"p/dev/cam/{n}.mp4", camera="cam",
                  segment_id=n)


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_nothing_lost_nothing_twice_order_kept(ops: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "queue.db"
        queue, model, opened = UploadQueue(path), [], []
        for op, n in ops:
            if op == "put":
                added = queue.put(upload(n))
                assert added == (n not in model)
                if added:
                    model.append(n)
            elif op == "done" and model:
                head = queue.pending()[min(n, len(model) - 1)]  # uploads may finish out of turn
                queue.done(head)
                model.remove(head.segment_id)
            elif op == "crash":
                opened.append(queue)  # never closed: as after a kill
                queue = UploadQueue(path)
            assert [u.segment_id for u in queue.pending()] == model
            assert len(queue) == len(model)
            assert queue.first() == (queue.pending()[0] if model else None)
        for q in [*opened, queue]:
            q.close()


def test_an_entry_comes_back_as_it_went_in(tmp_path: Path) -> None:
    queue = UploadQueue(tmp_path / "q.db")
    queue.put(Upload(source="/a.mp4", key="k/a.mp4", camera="cam", segment_id=None))
    [back] = UploadQueue(tmp_path / "q.db").pending()
    assert (back.source, back.key, back.camera, back.segment_id) == ("/a.mp4", "k/a.mp4",
                                                                     "cam", None)
    assert back.seq >= 1
