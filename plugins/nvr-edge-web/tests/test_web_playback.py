"""Playback and export in headless Chromium against the real appliance (two simulated
cameras, 10 s segments): play across three segment boundaries without a stall, speed,
jump to a time, a second camera in sync, frame step; export a range that spans segments
from the page and check the file with ffprobe; the new controls' names and keyboard
reach; the gaps and export APIs."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nvr_edge_testing.appliance import nvr_edge_cli
from nvr_edge_testing.chromium.cdp import CHROMIUM, chromium_page
from nvr_edge_testing.firefox import FIREFOX, firefox_page
from nvr_edge_web.gaps import Event, event_of, explain, holes
from web_box import Box, base, error_of, file_bytes
from web_page import AnyPage, click, controls, press, tab_to, until

from nvr_edge.appliance.history import FIRST_START
from tests.helpers import fill, tmpfs, wait_for
from tests.media import decode_errors

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="chromium is not installed")
needs_firefox = pytest.mark.skipif(not Path(FIREFOX).exists(),
                                   reason="firefox-esr is not installed")
BAR = "document.querySelector('#lanes .zoombar')"
MAX_STALL_MS = 200
# Chromium fires timeupdate every 250 ms while playing: a longer gap means a stall
TIMEUPDATE_MS = 250

# Every event of the first lane's <video>, timed by the page's clock, with the video's time
# then and as last sampled (a seek's step: the one minus the other); and the longest the
# video's time stood still while it played (sampled every 20 ms: a measure that does not
# rest on a browser's timeupdate cadence, 250 ms in Chromium, looser in Firefox).
WATCH = """(() => { const v = document.querySelector('#lanes .lane video');
  window.seen = []; const t0 = performance.now();
  let time = v.currentTime, since = performance.now(); window.still = 0;
  for (const name of ['waiting', 'stalled', 'playing', 'timeupdate', 'seeking', 'seeked'])
    v.addEventListener(name, () => window.seen.push([name, performance.now() - t0,
                                                     v.currentTime, time]));
  setInterval(() => { const now = performance.now();
    if (v.paused || v.seeking || v.currentTime !== time) { time = v.currentTime; since = now; }
    else window.still = Math.max(window.still, now - since); }, 20);
  return true; })()"""


def segments_of(box: Box, camera: str, count: int) -> list[dict[str, Any]]:
    token = box.token(["playback"], [camera])
    # .get: a busy catalog's 503 (a loaded machine) is asked again, not a failure
    return wait_for(lambda: (rows := box.get(f"/api/segments?camera={camera}", token)
                             .json().get("segments")) and len(rows) >= count and rows, 150,
                    f"{count} closed segments of {camera}")


def local(ms: int) -> str:
    """The datetime-local value of an instant (the test's browser runs in UTC)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def post(box: Box, path: str, body: dict[str, Any], token: str) -> Any:
    return box.http.request(path, method="POST", token=token, body=json.dumps(body).encode(),
                            headers={"Content-Type": "application/json"})


def stalls(seen: list[list[Any]]) -> dict[str, float]:
    """The longest wait (waiting -> playing) and the longest gap between timeupdates
    while playing, in ms (a seek starts the count again), the stalled and seeking events."""
    longest_wait, longest_gap, waited, last = 0.0, 0.0, None, None
    for name, at, *_ in seen:
        if name in ("seeking", "seeked"):
            last = None
        elif name == "waiting":
            waited = at
        elif name == "playing" and waited is not None:
            longest_wait, waited = max(longest_wait, at - waited), None
        elif name == "timeupdate":
            if last is not None:
                longest_gap = max(longest_gap, at - last)
            last = at
    return {"wait": longest_wait, "gap": longest_gap,
            "stalled": float(sum(1 for e in seen if e[0] == "stalled")),
            "seeks": float(sum(1 for e in seen if e[0] == "seeking"))}


async def wall(page: AnyPage, lane: int = 0) -> int:
    value = await page.evaluate(
        f"document.querySelectorAll('#lanes .lane')[{lane}]?.dataset.wall || ''")
    return int(value) if value else 0


async def open_panel(page: AnyPage) -> None:
    await until(page, "document.querySelectorAll('#grid .tile').length === 2", what="tiles")
    await click(page, "#grid .tile[data-camera=cam1] .timeline")  # its start: 24 h ago
    await until(page, "!!document.querySelector('#lanes .lane')", what="the playback lane")


async def jump(page: AnyPage, ms: int) -> None:
    await page.evaluate(f"""(() => {{ const i = document.querySelector('#pb-when');
      i.value = {json.dumps(local(ms))};
      document.querySelector('#pb-jump').requestSubmit(); }})()""")


async def cross_three_boundaries(page: AnyPage, rows: list[dict[str, Any]]
                                 ) -> dict[str, Any]:
    """Open cam1's playback 2 s before its first segment ends, play at 4x past the start of
    its fourth: the rate of wall time played, the video's events and its playback rate."""
    start = rows[0]["end_ms"] - 2000 - rows[0]["end_ms"] % 1000  # on a second: the input
    past = rows[3]["start_ms"] + 1000  # three boundaries later
    await open_panel(page)
    await jump(page, start)
    await until(page, f"Math.abs(Number(document.querySelector('#lanes .lane')"
                f".dataset.wall) - {start}) < 1500", what="the jump")
    await page.evaluate(WATCH)
    await page.evaluate("""(() => { const s = document.querySelector('#pb-speed');
      s.value = '4'; s.dispatchEvent(new Event('change')); })()""")
    began, wall_began = time.monotonic(), await wall(page)
    await until(page, f"Number(document.querySelector('#lanes .lane').dataset.wall)"
                f" > {past}", timeout=60, what="three boundaries crossed")
    return {"rate": (await wall(page) - wall_began) / 1000 / (time.monotonic() - began),
            "seen": await page.evaluate("window.seen"),
            "still": await page.evaluate("window.still"),
            "speed": await page.evaluate("document.querySelector('#lanes video').playbackRate")}


def assert_continuous(got: dict[str, Any], browser: str,
                      timeupdate_ms: float | None = None, skip_s: float = 0.0) -> None:
    """No stall over MAX_STALL_MS: no wait that long, no `stalled`, the video's time never
    still that long; no seek (or, with `skip_s`, none longer: the page stepping over the
    few ms between two segments' audio and video, which Firefox does not play through);
    and, for a browser whose timeupdate cadence is known, no longer gap between them than
    the cadence and MAX_STALL_MS."""
    measured = stalls(got["seen"]) | {"still": got["still"]}
    skips = [round(now - before, 3) for name, _, now, before in got["seen"]
             if name == "seeking"]
    print(f"playback in {browser}:", measured, "seeks of", skips, "s; speed x",
          round(got["rate"], 2))
    assert measured["wait"] < MAX_STALL_MS and measured["stalled"] == 0, measured
    # no hole was stepped over (none was there), but for a skip over the tracks' seam
    assert all(0 <= skip <= skip_s for skip in skips), (skips, measured)
    assert measured["still"] < MAX_STALL_MS, measured
    if timeupdate_ms is not None:
        assert measured["gap"] < timeupdate_ms + MAX_STALL_MS, measured
    assert got["speed"] == 4 and got["rate"] > 2, got  # 4x, with slack for a loaded box


@needs_chromium
@pytest.mark.slow
def test_play_across_boundaries_speed_jump_sync_and_step(box: Box, tmp_path: Path) -> None:
    rows = segments_of(box, "cam1", 4)
    segments_of(box, "cam2", 2)
    token = box.token(["view", "playback"], "*")

    async def drive() -> dict[str, Any]:
        async with chromium_page(f"{base(box)}/?token={token}", tmp_path / "p") as page:
            got = await cross_three_boundaries(page, rows)
            target = rows[1]["start_ms"] + 5000 - rows[1]["start_ms"] % 1000
            await jump(page, target)
            await until(page, f"Math.abs(Number(document.querySelector('#lanes .lane')"
                        f".dataset.wall) - {target}) < 3000", what="the jump back")
            got["jumped"] = (await wall(page)) - target
            await page.evaluate("""(() => { document.querySelector('#pb-camera').value =
              'cam2'; document.querySelector('#pb-add').requestSubmit(); })()""")
            await until(page, "document.querySelectorAll('#lanes .lane').length === 2"
                        " && document.querySelectorAll('#lanes .lane')[1].dataset.wall",
                        what="cam2's lane playing")
            await asyncio.sleep(2)
            got["drift"] = abs(await wall(page, 1) - await wall(page, 0))
            await click(page, "#pb-forward")
            await asyncio.sleep(0.3)
            before = await page.evaluate("document.querySelector('#lanes video').currentTime")
            await click(page, "#pb-forward")
            await asyncio.sleep(0.3)
            got["step"] = await page.evaluate(
                "document.querySelector('#lanes video').currentTime") - before
            got["paused"] = await page.evaluate("document.querySelector('#lanes video').paused")
        return got

    got = asyncio.run(drive())
    assert_continuous(got, "chromium", TIMEUPDATE_MS)
    print("drift ms", got["drift"])
    assert abs(got["jumped"]) < 3000
    assert got["drift"] < 1000, got["drift"]
    assert got["paused"] and 0 < got["step"] < 0.1, got


@needs_firefox
@pytest.mark.slow
def test_firefox_plays_across_boundaries_without_a_stall(box: Box, tmp_path: Path) -> None:
    """The same playback in Firefox (its MSE, H.264 through the system's FFmpeg)."""
    rows = segments_of(box, "cam1", 4)
    token = box.token(["view", "playback"], "*")

    async def drive() -> dict[str, Any]:
        async with firefox_page(f"{base(box)}/?token={token}", tmp_path / "f") as page:
            return await cross_three_boundaries(page, rows)

    # a seek's step is measured against the time sampled up to 20 ms before it: at 4x,
    # 80 ms of video besides the seam
    assert_continuous(asyncio.run(drive()), "firefox", skip_s=0.15)


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams",
                          "-show_entries", "packet=pts_time,duration_time,stream_index",
                          "-of", "json", str(path)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


@needs_chromium
@pytest.mark.slow
def test_export_a_range_across_segments_from_the_page(box: Box, tmp_path: Path) -> None:
    rows = segments_of(box, "cam1", 3)
    first = rows[0]["end_ms"] - 3000 - rows[0]["end_ms"] % 1000
    last = rows[2]["start_ms"] + 4000 - rows[2]["start_ms"] % 1000
    token = box.token(["view", "playback"], "*")

    async def drive() -> str:
        async with chromium_page(f"{base(box)}/?token={token}", tmp_path / "p") as page:
            await open_panel(page)
            await click(page, "#pb-play")  # pause: the marks are where the jumps land
            for moment, mark in ((first, "#pb-mark-from"), (last, "#pb-mark-to")):
                await jump(page, moment)
                await until(page, f"Math.abs(Number(document.querySelector('#lanes .lane')"
                            f".dataset.wall) - {moment}) < 100", what="the jump")
                await click(page, mark)
            await click(page, "#pb-export")
            await until(page, "!document.querySelector('#pb-download').hidden", timeout=60,
                        what="the download link")
            return str(await page.evaluate("document.querySelector('#pb-download').href"))

    link = asyncio.run(drive())
    path = link.split(base(box), 1)[1].split("?", 1)[0]
    job = box.get(path.removesuffix(".mp4"), token).json()
    asked = (datetime.fromisoformat(job["to"]) - datetime.fromisoformat(job["from"]))
    assert abs(asked.total_seconds() - (last - first) / 1000) < 0.2, job
    out = tmp_path / "clip.mp4"
    reply = box.get(path, token)
    assert reply.status == 200, reply.body[:200]
    out.write_bytes(reply.body)
    check_clip(out, asked.total_seconds(), job["from"])


def check_clip(out: Path, seconds: float, since: str) -> None:
    """ffprobe: the range's duration within one frame, no gap between the frames shown,
    the camera and the start in the metadata, and ffmpeg decodes it without a complaint."""
    info = ffprobe(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    num, den = (int(x) for x in video["avg_frame_rate"].split("/"))
    frame = den / num
    assert abs(float(info["format"]["duration"]) - seconds) <= frame + 1e-3, \
        (info["format"]["duration"], seconds)
    shown = sorted(float(p["pts_time"]) for p in info["packets"]
                   if p["stream_index"] == video["index"] and float(p["pts_time"]) >= 0)
    assert max(b - a for a, b in itertools.pairwise(shown)) < 1.5 * frame  # no gap
    tags = info["format"]["tags"]
    assert tags["nvr_camera"] == "cam1" and tags["creation_time"].startswith(since[:19])
    assert decode_errors(out) == ""


@pytest.mark.slow
def test_the_cli_exports_a_range_given_with_offsets(box: Box, tmp_path: Path) -> None:
    """`nvr-edge export --config FILE --camera C --from T1 --to T2 -o OUT` beside the
    running box, the times in another zone than UTC."""
    rows = segments_of(box, "cam1", 2)
    zone = timezone(timedelta(hours=1))
    first = datetime.fromtimestamp((rows[0]["end_ms"] - 2500) / 1000, zone)
    last = datetime.fromtimestamp((rows[1]["start_ms"] + 3500) / 1000, zone)
    out = tmp_path / "cli.mp4"
    run = nvr_edge_cli("export", "--config", box.app.config, "--camera", "cam1",
                       "--from", first.isoformat(), "--to", last.isoformat(), "-o", out)
    assert run.returncode == 0, run.stderr
    assert "2 segment(s)" in run.stdout and "export: 2/2 segment(s)" in run.stderr
    check_clip(out, (last - first).total_seconds(), first.astimezone(UTC).isoformat())
    refused = nvr_edge_cli("export", "--config", box.app.config, "--camera", "cam1",
                           "--from", first.isoformat()[:19], "--to", last.isoformat(),
                           "-o", out)
    assert refused.returncode == 2 and "has no offset" in refused.stderr


@needs_chromium
@pytest.mark.slow
def test_playback_controls_are_named_and_reached_by_keyboard(box: Box, tmp_path: Path) -> None:
    segments_of(box, "cam1", 1)
    token = box.token(["view", "playback"], "*")

    async def look() -> dict[str, Any]:
        async with chromium_page(f"{base(box)}/?token={token}", tmp_path / "p") as page:
            await open_panel(page)
            found = await controls(page)
            tree = await page.call("Accessibility.getFullAXTree")
            sliders = [(n.get("name") or {}).get("value") for n in tree["nodes"]
                       if (n.get("role") or {}).get("value") == "slider"]
            passed = await tab_to(page, "#pb-mark-to", most=80)
            await click(page, ".pb-zoom[data-zoom='10 min']")
            span = await until(page, f"(({BAR}.dataset.to - {BAR}.dataset.from) === 600000)"
                               f" && {BAR}.dataset.from", what="the 10 min window")
            box_ = await page.evaluate(f"(() => {{ const r = {BAR}.getBoundingClientRect();"
                                       " return [r.left, r.top + r.height / 2, r.width]; })()")
            left, middle, width = box_
            for kind, x in (("mousePressed", left + width / 2), ("mouseMoved", left + width / 4),
                            ("mouseReleased", left + width / 4)):
                await page.call("Input.dispatchMouseEvent", type=kind, x=x, y=middle,
                                button="left", buttons=1 if kind != "mouseReleased" else 0,
                                clickCount=1)
            moved = int(await page.evaluate(f"{BAR}.dataset.from")) - int(span)
            await page.evaluate(f"{BAR}.focus()")
            dragged = int(await page.evaluate(f"{BAR}.dataset.from"))
            await press(page, "ArrowRight")  # a tenth of the window later
            stepped = int(await until(page, f"{BAR}.dataset.from != {dragged} &&"
                                      f" {BAR}.dataset.from", what="the arrow key")) - dragged
            holes = await until(page, f"[...{BAR}.querySelectorAll('.gaps > div')]"
                                ".map((d) => d.dataset.cause)", what="a hole drawn")
            return {"controls": found, "sliders": sliders, "passed": passed,
                    "moved": moved, "stepped": stepped, "holes": holes}

    seen = asyncio.run(look())
    named = {c["name"]: c for c in seen["controls"]}
    for name in ("Pause", "One frame back", "One frame forward", "Speed", "24 h", "1 h",
                 "10 min", "Go", "Play in sync with", "Add", "Export from here",
                 "Export to here", "Remove cam1 from playback"):
        assert name in named and named[name]["focusable"], (name, sorted(named))
    assert "Timeline of cam1" in seen["sliders"], seen["sliders"]
    for stop in ("pb-play", "pb-speed", "pb-when", "pb-camera", "pb-mark-from"):
        assert stop in seen["passed"], seen["passed"]
    # dragged a quarter of the bar to the left: the window moved 2.5 min later
    assert seen["moved"] == pytest.approx(150_000, abs=10_000), seen["moved"]
    assert seen["stepped"] == 60_000, seen["stepped"]
    assert "box off" in seen["holes"]  # before the box's first start, 10 min ago at most


FIRST_VIDEO_TIMES = """(async () => {
  const { firstVideoTime } = await import('/static/fmp4.js');
  const { mediaUrl } = await import('/static/api.js');
  const data = await (await fetch(mediaUrl(%s))).arrayBuffer();
  return [firstVideoTime(data), ...%s.map((cut) => firstVideoTime(data.slice(0, cut)))];
})()"""


@needs_chromium
@pytest.mark.slow
@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.floats(0, 1), min_size=40, max_size=40))
def test_the_page_reads_where_a_segment_s_video_starts(box: Box, tmp_path: Path,
                                                       shares: list[float]) -> None:
    """fmp4.js against ffprobe on a real segment, and on that file cut anywhere: the same
    time, or null (the first video fragment is not whole), never an exception."""
    segment = segments_of(box, "cam1", 1)[0]
    path = tmp_path / "segment.mp4"
    path.write_bytes(file_bytes(box, segment["id"]))
    first = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v",
                            "-show_entries", "packet=dts_time", "-read_intervals", "%+#1",
                            "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                           check=True).stdout.split()[0]
    cuts = [int(share * path.stat().st_size) for share in shares]
    token = box.token(["view", "playback"], "*")

    async def read() -> list[float | None]:
        async with chromium_page(f"{base(box)}/?token={token}", tmp_path / "p") as page:
            await until(page, "document.querySelectorAll('#grid .tile').length === 2",
                        what="tiles")
            return await page.evaluate(FIRST_VIDEO_TIMES % (json.dumps(segment["url"]),
                                                            json.dumps(cuts)))

    whole, *cut = asyncio.run(read())
    assert whole == pytest.approx(float(first), abs=1e-6), (whole, first)
    assert all(value is None or value == whole for value in cut), cut


@pytest.mark.slow
def test_the_gaps_and_export_apis_check_what_they_are_asked(box: Box) -> None:
    rows = segments_of(box, "cam1", 1)
    token = box.token(["playback"], ["cam1"])
    now = int(time.time() * 1000)
    since = datetime.fromtimestamp((rows[0]["start_ms"] - 60_000) / 1000, UTC).isoformat()
    answer = box.get(f"/api/gaps?camera=cam1&from={since.replace('+', '%2B')}", token)
    assert "required" in error_of(answer, 400)
    until_now = datetime.fromtimestamp(now / 1000, UTC).isoformat().replace("+", "%2B")
    gaps = box.get(f"/api/gaps?camera=cam1&from={since.replace('+', '%2B')}"
                   f"&to={until_now}", token).json()["gaps"]
    assert gaps and gaps[0]["end_ms"] <= rows[0]["start_ms"] + 2000  # before it recorded
    # the box started inside it (the history's first event): before that it was off
    assert (gaps[0]["cause"], gaps[0]["detail"]) == ("box off", FIRST_START), gaps[0]
    error_of(box.get("/api/gaps?camera=cam2&from=2026-01-01T00:00:00Z&to=2026-01-02"
                     "T00:00:00Z", token), 403)
    bad = post(box, "/api/exports", {"camera": "cam1", "from": "yesterday", "to": "now"},
                   token)
    assert "from must be an ISO 8601 time" in error_of(bad, 400)
    error_of(post(box, "/api/exports", {"camera": "cam2", "from": "2026-01-01T00:00:00Z",
                                       "to": "2026-01-01T00:01:00Z"}, token), 403)
    job = post(box, "/api/exports", {"camera": "cam1", "from": "2020-01-01T00:00:00Z",
                                    "to": "2020-01-01T00:01:00Z"}, token)
    assert job.status == 202
    done = wait_for(lambda: (j := box.get(job.json()["url"], token).json())["state"]
                    not in ("queued", "running") and j, 30, "the export job")
    assert done["state"] == "failed" and "no recording between" in done["error"]
    error_of(box.get(job.json()["url"] + ".mp4", token), 409)


def test_an_export_the_state_folder_has_no_room_for_is_refused(box: Box) -> None:
    """The state folder holds the catalog and its spool: an export that would fill it is
    refused before it starts, naming the sizes; with the room back it runs."""
    rows = segments_of(box, "cam1", 2)
    token = box.token(["playback"], ["cam1"])
    span = {"camera": "cam1", "from": iso(rows[0]["start_ms"]), "to": iso(rows[1]["end_ms"])}
    with tmpfs(Path(box.config.storage.state_dir) / "exports", "16m") as folder:
        fill(folder / "filler")
        refused = post(box, "/api/exports", span, token)
        message = error_of(refused, 507)
        assert "this export needs about" in message and "keeps 2 MiB free" in message, message
        (folder / "filler").unlink()
        job = post(box, "/api/exports", span, token)
        assert job.status == 202, job.body[:300]
        done = wait_for(lambda: (j := box.get(job.json()["url"], token).json())["state"]
                        not in ("queued", "running") and j, 60, "the export job")
        assert done["state"] == "done", done


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 3000)), max_size=30),
       st.integers(0, 5000), st.integers(1, 12_000))
def test_holes_and_spans_tile_the_range(spans: list[tuple[int, int]], since: int,
                                        length: int) -> None:
    pairs = [(start, start + size) for start, size in spans]
    until_ms = since + length
    found = holes(pairs, since, until_ms, join_ms=100)
    for start, end in found:
        assert since <= start < end <= until_ms and end - start >= 1
        assert not any(s < end and e > start for s, e in pairs)  # nothing recorded in it
    assert found == sorted(found)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(found))
    recorded = {t for s, e in pairs for t in range(max(s, since), min(e, until_ms))}
    stretches, run = [], None  # the unrecorded stretches, counted millisecond by millisecond
    for t in range(since, until_ms):
        if t in recorded:
            run = None
        elif run is None:
            run = [t, t + 1]
            stretches.append(run)
        else:
            run[1] = t + 1
    assert found == [(s, e) for s, e in stretches if e - s >= 100]


def test_a_hole_takes_the_cause_the_box_knows() -> None:
    full = Event(1500, "disk full", "cache full")
    assert explain((1000, 5000), [full], "online", "", 100_000).cause == "disk full"
    assert explain((1000, 5000), [], "online", "", 100_000).cause == "no recording"
    assert explain((90_000, 100_000), [], "disabled", "", 100_000).cause == "disabled"
    assert explain((1000, 5000), [Event(9000, "offline", "")], "online", "",
                   100_000).cause == "no recording"  # it began after the hole ended
    # a cause that began before the hole and had not ended: offline since, then recording
    # again (cause "") ends it
    offline, back = Event(2000, "offline", "RTSP: timeout"), Event(6000, "", "")
    assert explain((10_000, 15_000), [offline], "online", "", 100_000).cause == "offline"
    assert explain((10_000, 15_000), [offline, back], "online", "", 100_000).cause == \
        "no recording"
    # the box off: its stop, then a start after an unclean stop, both in the hole
    stop = event_of(1200, "box", "box_stopped", "")
    start = event_of(4000, "box", "box_started", "power lost")
    gap = explain((1000, 5000), [e for e in (stop, start) if e], "online", "", 100_000)
    assert (gap.cause, gap.detail) == ("box off", "power lost")
    # the box's first start on record: before it, the box cannot say
    assert event_of(4000, "box", "box_started", FIRST_START) == Event(
        4000, "box off", FIRST_START)  # before it the box had never run
    assert event_of(4000, "box", "box_started", "") == Event(
        4000, "box off", "the box was off until it started")  # after a clean stop
    assert event_of(1, "state", "connecting", "") is None
    assert event_of(1, "alert", "camera_offline", "") is None  # the state says it
    assert event_of(1, "alert", "disk_space_critical", "cache full") == \
        Event(1, "disk full", "cache full")


@pytest.mark.slow
def test_a_disabled_camera_s_hole_says_disabled(box: Box) -> None:  # last: cam2 stops
    segments_of(box, "cam2", 1)
    admin = box.token(["admin"], "*")
    cameras = box.get("/api/config", admin).json()["config"]["cameras"]
    token = box.token(["playback"], ["cam2"])

    def enable_cam2(enabled: bool) -> None:
        for camera in cameras:
            camera["enabled"] = enabled or camera["id"] != "cam2"
        change = box.http.request("/api/config", method="PATCH", token=admin,
                                  body=json.dumps({"cameras": cameras}).encode(),
                                  headers={"Content-Type": "application/merge-patch+json"})
        assert change.status == 200, change.body[:300]

    def recent_gaps() -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        query = (f"camera=cam2&from={(now - timedelta(minutes=10)).isoformat()}"
                 f"&to={now.isoformat()}").replace("+", "%2B")
        return list(box.get(f"/api/gaps?{query}", token).json()["gaps"])

    def last_hole() -> dict[str, Any] | None:
        holes = recent_gaps()
        state = box.get("/api/status", admin).json()["cameras"]["cam2"]["state"]
        # its worker stopped, the segment it closed indexed, and the hole 5 s long: a
        # quick enable after the PATCH alone (its worker still closing) left a hole under
        # the 2 s that counts as one, and nothing to find afterwards
        return holes[-1] if holes and holes[-1]["cause"] == "disabled" \
            and state == "disabled" and holes[-1]["end_ms"] - holes[-1]["start_ms"] > 5000 \
            else None

    enable_cam2(False)
    hole = wait_for(last_hole, 60, "cam2's hole since it was disabled, 5 s long")
    assert "disabled" in hole["detail"]
    # enabled again: the hole no longer reaches the present, and still says why (the box's
    # history, not the camera's state now)
    enable_cam2(True)
    enabled_at = time.time() * 1000

    def closed_hole() -> dict[str, Any] | None:
        """The hole that ends where cam2 recorded again, once it is in the past. (Not
        found by the start seen while disabled: the segment the stop closed can be indexed
        after that look, and the hole then starts later, seen in a whole-suite run.)"""
        rows = box.get("/api/segments?camera=cam2", token).json().get("segments") or []
        again = [r["start_ms"] for r in rows if r["start_ms"] > enabled_at]
        if not again:
            return None  # not recording again yet
        passed_ms = time.time() * 1000 - 30_000
        return next((h for h in recent_gaps() if abs(h["end_ms"] - min(again)) < 2000
                     and h["end_ms"] < passed_ms), None)

    try:  # failing, say what the box had then
        past = wait_for(closed_hole, 150, "cam2 recording again after its hole")
    except AssertionError as exc:
        admin_status = box.get("/api/status", admin).json()["cameras"].get("cam2")
        rows = box.get("/api/segments?camera=cam2", token).json().get("segments") or []
        raise AssertionError(f"{exc}; enabled at {enabled_at}; cam2: {admin_status}; "
                             f"the hole while disabled: {hole}; now: {recent_gaps()}; "
                             f"its rows: {[(r['start_ms'], r['end_ms']) for r in rows]}; "
                             f"log tail: {box.app.log[-3000:]}") from None
    assert past["cause"] == "disabled" and "disabled" in past["detail"], past
    assert past["start_ms"] >= hole["start_ms"], (past, hole)  # the hole seen while disabled
