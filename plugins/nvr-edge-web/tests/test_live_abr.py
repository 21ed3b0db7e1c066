"""A viewer moves between a camera's rungs: the real appliance (its encoders probed at
start: libx264 here; a software budget that fits one 240p rung, so a second camera's is
refused by name).

WebRTC: an aiortc WHEP viewer that decodes every frame. Pinned to 240p it gets the
worker's 426x240 rung; pinned to the camera's own 640x360 stream mid-session the picture
changes size at a keyframe, with no frame lost to decoding on the way; unpinned behind a
lossy relay it steps down and back up.

LL-HLS: the multivariant playlist lists the rungs that can be had (and why not the
others), each rung's media playlist serves parts that decode at its size, on one media
timeline, with rendition reports of the other rungs."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import RTCSessionDescription
from nvr_edge_testing.bench.live.load import h264_offerer
from nvr_edge_testing.chromium.cdp import CHROMIUM, chromium_page
from nvr_edge_testing.impair import LossyRelay, relay_answer
from web_box import Box, base, error_of, probe
from web_m3u8 import Multivariant, Playlist, attributes, parse_multivariant, parse_playlist

from tests.helpers import wait_for

pytestmark = pytest.mark.slow
BOX_WEBRTC = True
BUDGET = 3_000_000  # one 240p rung (426 x 240 x 25 = 2.56 M pixels/s) fits, not two
BOX_EXTRA = f"[encoders]\nrung_budget_pixels_per_s = {BUDGET}\n"
SMALL, FULL = (426, 240), (640, 360)
OVER_BUDGET = "over the software encoding budget"


async def pin(http: aiohttp.ClientSession, url: str, token: str, rung: str | None
              ) -> dict[str, Any]:
    async with http.post(url + "/rung", json={"rung": rung},
                         headers={"Authorization": f"Bearer {token}"}) as reply:
        assert reply.status == 200, await reply.text()
        return await reply.json()


async def frames_until(track: Any, sizes: list[tuple[int, int]], done: Any,
                       timeout: float) -> None:
    """Decoded frame sizes into `sizes` until `done()` (or `timeout` s)."""
    async with asyncio.timeout(timeout):
        while not done():
            frame = await track.recv()
            sizes.append((frame.width, frame.height))


async def switch_rungs(box: Box) -> tuple[list[tuple[int, int]], dict[str, Any], float,
                                          tuple[dict[str, Any], str]]:
    token = box.token(["view"], ["cam1"])
    pc, transceiver = h264_offerer()
    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base(box)}/live/cam1/whep?rung=240p",
                             data=pc.localDescription.sdp,
                             headers={"Content-Type": "application/sdp",
                                      "Authorization": f"Bearer {token}"}) as reply:
            assert reply.status == 201, await reply.text()
            url = base(box) + reply.headers["Location"]
            await pc.setRemoteDescription(RTCSessionDescription(await reply.text(), "answer"))
        track = transceiver.receiver.track  # type: ignore[attr-defined]
        sizes: list[tuple[int, int]] = []
        try:
            await frames_until(track, sizes, lambda: sizes.count(SMALL) >= 30, 30)
            asked = time.monotonic()
            status = await pin(http, url, token, "main")
            assert status["pinned"] == "main" and status["refused"] == "", status
            code, state = await session_state(http, url, token)  # GET: the same session
            assert code == 200 and {k: state[k] for k in ("session", "pinned", "refused")} \
                == {"session": status["session"], "pinned": "main", "refused": ""}, state
            other = box.token(["view"], ["cam2"])
            assert (await session_state(http, url, other))[0] == 403
            await frames_until(track, sizes, lambda: FULL in sizes, 15)
            switch_s = time.monotonic() - asked
            await frames_until(track, sizes, lambda: sizes.count(FULL) >= 30, 15)
            # and down again: the rung's encoder lingered, its stream is still there
            status = await pin(http, url, token, "240p")
            small_again = len(sizes)
            await frames_until(track, sizes, lambda: SMALL in sizes[small_again:], 15)
            status = await pin(http, url, token, None)  # automatic again: stays (clean)
            # the receiver's reports (aiortc's RTCP RR, about every second) reach the status
            seen = await reports_seen(http, box)
        finally:
            async with http.delete(url, headers={"Authorization": f"Bearer {token}"}):
                pass
            await pc.close()
        assert (await session_state(http, url, token))[0] == 404  # gone with its DELETE
    return sizes, status, switch_s, seen


async def session_state(http: aiohttp.ClientSession, url: str, token: str
                        ) -> tuple[int, Any]:
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as reply:
        return reply.status, await reply.json() if reply.status == 200 else None


async def reports_seen(http: aiohttp.ClientSession, box: Box) -> tuple[dict[str, Any], str]:
    """cam1's WebRTC session in /api/status once it has a report; /metrics then."""
    admin = {"Authorization": f"Bearer {box.token(['admin'], '*')}"}
    async with asyncio.timeout(10):
        while True:
            async with http.get(f"{base(box)}/api/status", headers=admin) as reply:
                sessions = (await reply.json())["cameras"]["cam1"]["webrtc"]
            if sessions and sessions[0]["rtt_ms"] is not None:
                break
            await asyncio.sleep(0.5)
    async with http.get(f"{base(box)}/metrics", headers=admin) as reply:
        return sessions[0], await reply.text()


def rung_available(box: Box, name: str) -> bool:
    cameras = box.get("/api/cameras", box.token(["view"], ["cam1"])).json()["cameras"]
    return any(r["name"] == name and r["available"] for r in cameras[0]["live"]["rungs"])


def test_a_viewer_pinned_to_240p_then_to_the_full_stream_switches_at_a_keyframe(
        box: Box) -> None:
    # the encoders' probe (at start, in the background) hands libx264 to the workers
    wait_for(lambda: rung_available(box, "240p"), 60, "the 240p rung listed as available")
    sizes, status, switch_s, (session, metrics) = asyncio.run(switch_rungs(box))
    first_full = sizes.index(FULL)
    back = first_full + sizes[first_full:].index(SMALL)
    print(f"webrtc rung switch 240p -> main: {switch_s:.2f} s from the pin to the first "
          f"full-size frame; {len(sizes)} frames decoded")
    # two changes of size, each from the new rung's first frame on: every frame decoded
    assert set(sizes[:first_full]) == {SMALL} and set(sizes[first_full:back]) == {FULL} \
        and set(sizes[back:]) == {SMALL}, sorted(set(sizes))
    assert status["rung"] == "240p" and status["switches"] == 2 and status["pinned"] is None, \
        status
    # per session in the status and /metrics: rung, switches, the receiver's loss and RTT
    assert session["rung"] == "240p" and session["switches"] == 2, session
    assert session["loss"] == 0.0 and 0 <= session["rtt_ms"] < 1000, session
    label = f'camera="cam1",session="{session["session"]}"'
    assert f'nvr_live_webrtc_rung{{{label},rung="240p"}} 1' in metrics, metrics[-800:]
    assert f"nvr_live_webrtc_switches_total{{{label}}} 2" in metrics
    assert f"nvr_live_webrtc_loss_ratio{{{label}}} 0" in metrics


def test_an_unknown_rung_is_refused_naming_the_ladder(box: Box) -> None:
    async def post() -> tuple[int, str]:
        pc, _ = h264_offerer()
        await pc.setLocalDescription(await pc.createOffer())
        try:
            async with aiohttp.ClientSession() as http, http.post(
                    f"{base(box)}/live/cam1/whep?rung=1080p", data=pc.localDescription.sdp,
                    headers={"Content-Type": "application/sdp",
                             "Authorization": f"Bearer {box.token(['view'], ['cam1'])}"}
            ) as reply:
                return reply.status, await reply.text()
        finally:
            await pc.close()

    status, body = asyncio.run(post())
    assert status == 400 and "no rung '1080p' (this camera has main, 240p)" in body, body


Phase = tuple[str, Callable[[LossyRelay], None], str]  # (what, the change, the rung awaited)
PHASES: list[Phase] = [
    ("10 % loss", lambda relay: setattr(relay, "loss", 0.10), "240p"),
    ("loss ended", lambda relay: setattr(relay, "loss", 0.0), "main"),
    ("600 kbit/s cap", lambda relay: relay.set_rate(600), "240p"),
    ("cap lifted", lambda relay: relay.set_rate(None), "main"),
]
FPS_FLOOR = 20.0


async def impaired_session(box: Box) -> dict[str, Any]:
    """An unpinned viewer behind an impairing relay (nvr_edge_testing.impair: user space,
    this kernel has no netem) on the path from the box to it: clean, then each of PHASES
    in turn, the next once the rung awaited is reached (and a few seconds on: the policy's
    hold after a switch is over). Every frame decoded, with the time it came out."""
    token = box.token(["view"], ["cam1"])
    admin = {"Authorization": f"Bearer {box.token(['admin'], '*')}"}
    pc, transceiver = h264_offerer()
    await pc.setLocalDescription(await pc.createOffer())
    found: dict[str, Any] = {"frames": [], "phases": []}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base(box)}/live/cam1/whep", data=pc.localDescription.sdp,
                             headers={"Content-Type": "application/sdp",
                                      "Authorization": f"Bearer {token}"}) as reply:
            assert reply.status == 201, await reply.text()
            url = base(box) + reply.headers["Location"]
            answer, relay = await relay_answer(await reply.text())
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        track = transceiver.receiver.track  # type: ignore[attr-defined]
        frames = found["frames"]

        async def decode() -> None:
            while True:
                frame = await track.recv()
                frames.append((time.monotonic(), (frame.width, frame.height)))

        decoding = asyncio.ensure_future(decode())

        async def reach(name: str, seconds: float) -> tuple[float, float, dict[str, Any]]:
            """Seconds to the box deciding on rung `name` and to its switching to it."""
            started, decided, session = time.monotonic(), None, {}
            try:
                async with asyncio.timeout(seconds):
                    while True:
                        async with http.get(f"{base(box)}/api/status", headers=admin) as got:
                            session = (await got.json())["cameras"]["cam1"]["webrtc"][0]
                        now = time.monotonic() - started
                        if decided is None and name in (session["switching_to"],
                                                        session["rung"]):
                            decided = now
                        if session["rung"] == name:
                            assert decided is not None
                            return decided, now, session
                        await asyncio.sleep(0.1)
            except TimeoutError:
                raise AssertionError(f"not on {name} after {seconds} s (decided after "
                                     f"{decided} s): {session}; before: "
                                     f"{found['phases']}") from None

        try:
            await asyncio.sleep(3)  # clean: it stays on the camera's own stream
            for what, change, rung in PHASES:
                at = time.monotonic()
                change(relay)
                decided, switched, session = await reach(rung, 10 if rung != "main" else 30)
                found["phases"].append((what, at, rung, decided, switched, session))
                await asyncio.sleep(5)  # past the hold: the next change is judged afresh
        finally:
            decoding.cancel()
            found["dropped"], found["overflowed"] = relay.dropped, relay.overflowed
            async with http.delete(url, headers={"Authorization": f"Bearer {token}"}):
                pass
            await pc.close()
            relay.close()
    return found


def slow_stretch_s(times: list[float], floor: float = FPS_FLOOR, step: float = 0.05) -> float:
    """The longest stretch over which fewer than `floor` frames came out in the second
    before (sampled every `step` s, from one second after the first frame)."""
    longest = run = 0.0
    t, first = times[0] + 1.0, 0
    while t <= times[-1]:
        while times[first] <= t - 1.0:
            first += 1
        rate = bisect.bisect_right(times, t) - first
        run = run + step if rate < floor else 0.0
        longest = max(longest, run)
        t += step
    return longest


def test_a_viewer_steps_down_under_loss_and_a_rate_cap_and_back_up_after(box: Box) -> None:
    wait_for(lambda: rung_available(box, "240p"), 60, "the 240p rung listed as available")
    found = asyncio.run(impaired_session(box))
    frames = found["frames"]
    for what, at, rung, decided, switched, session in found["phases"]:
        shown = next(t for t, size in frames if t > at and size == (SMALL if rung == "240p"
                                                                     else FULL)) - at
        print(f"webrtc ABR, {what}: to {rung} decided after {decided:.1f} s, switched "
              f"{switched:.1f} s, first {rung} frame decoded {shown:.1f} s "
              f"(loss {session['loss']}, switches {session['switches']})")
    capped_at = found["phases"][2][1]
    slow = slow_stretch_s([t for t, _ in frames if t < capped_at])
    stall = max(b - a for (a, _), (b, _) in itertools.pairwise(frames) if a >= capped_at)
    print(f"{len(frames)} frames decoded; longest stretch under {FPS_FLOOR:.0f} fps before "
          f"the cap: {slow:.2f} s; under the cap: no frame for {stall:.1f} s; datagrams "
          f"dropped {found['dropped']} ({found['overflowed']} by the cap's queue)")
    # the targets, 5 s down and 20 s up, are the benchmark's (docs/BENCHMARKS.md);
    # here the phases' own bounds (10 s, 30 s) only, for a loaded CI machine
    assert [p[5]["switches"] for p in found["phases"]] == [1, 2, 3, 4], found["phases"]
    assert found["overflowed"] > 0 and found["dropped"] > found["overflowed"], found
    sizes = [size for _, size in frames]
    changes = [i for i in range(1, len(sizes)) if sizes[i] != sizes[i - 1]]
    # each change once, from the new rung's keyframe on: every frame decoded at its size
    assert [sizes[0], *(sizes[i] for i in changes)] == [FULL, SMALL, FULL, SMALL, FULL], \
        [(i, sizes[i]) for i in changes]
    # Through 10 % loss, the step down and back up, the frame rate shown stays over 20 fps
    # but for short dips: the "never more than 1 s" is the benchmark's (measured
    # 0.05-1.2 s, docs/BENCHMARKS.md); here 3 s, for a loaded CI machine's decoding.
    # Not asserted under the cap: this viewer (aiortc) stalls
    # there until the cap lifts, whatever the rung (its jitter buffer waits for 128 packets
    # past a packet its NACKs do not bring back, and its NACKs resend the whole backlog,
    # which the capped queue drops again): a limit of the test's viewer, printed above.
    assert slow <= 3.0, slow
    last = [t for t, _ in frames if t > frames[-1][0] - 1.0]
    assert len(last) >= FPS_FLOOR, len(last)  # after the cap, full rate again


# -- LL-HLS over the rungs -------------------------------------------------------------------


def multivariant(box: Box, camera: str, token: str, query: str = "") -> Multivariant:
    reply = box.get(f"/live/{camera}/abr.m3u8?token={token}{query}")
    assert reply.status == 200, (reply.status, reply.body[:300])
    assert reply.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    return parse_multivariant(reply.body.decode())


def rung_playlist(box: Box, camera: str, uri: str) -> Playlist:
    """A rung's media playlist (`uri` relative to the multivariant one), once it has made
    a complete segment."""
    reply = wait_for(lambda: (r := box.get(f"/live/{camera}/{uri}")).status == 200 and r,
                     30, f"{camera}'s {uri}")
    return parse_playlist(reply.body.decode())


def media_offset(box: Box, camera: str, rung: str, playlist: Playlist, token: str,
                 clock: int = 90_000) -> float:
    """A complete segment's wall-clock start (its PROGRAM-DATE-TIME) minus its media time
    (the first part's tfdt): the same for every rung on one timeline."""
    segment = next(s for s in reversed(playlist.segments) if s.uri is not None and s.parts)
    part = box.get(f"/live/{camera}/{rung}/{segment.parts[0].uri}")
    assert part.status == 200, part.status
    at = part.body.index(b"tfdt")
    assert part.body[at + 4] == 1  # version 1: a 64-bit base decode time
    media_s = int.from_bytes(part.body[at + 8:at + 16], "big") / clock
    assert segment.program_date_time is not None
    return segment.program_date_time.timestamp() - media_s


def test_ll_hls_lists_the_rungs_each_plays_at_its_size_on_one_timeline(
        box: Box, tmp_path: Path) -> None:
    wait_for(lambda: rung_available(box, "240p"), 60, "the 240p rung listed as available")
    token = box.token(["view"], ["cam1", "cam2"])
    ladder = multivariant(box, "cam1", token)
    listed = [(v.uri.split("/")[0], v.attributes["RESOLUTION"]) for v in ladder.variants]
    assert listed == [("main", "640x360"), ("240p", "426x240")], ladder
    main, small = (v.attributes for v in ladder.variants)
    # peak bit rates in bit/s: the camera's stream estimated (640x360 at 25 fps, 0.07 bit
    # a pixel: 403 kbit/s), the rung's target (250 kbit/s)
    assert (int(main["BANDWIDTH"]), int(small["BANDWIDTH"])) == (403_000, 250_000)
    assert main["CODECS"].startswith("avc1.")  # from the camera's SPS
    offsets = {}
    for variant, size in zip(ladder.variants, (FULL, SMALL), strict=True):
        rung = variant.uri.split("/")[0]
        playlist = rung_playlist(box, "cam1", variant.uri)
        assert playlist.parts and playlist.tags["EXT-X-PART-INF"] == "PART-TARGET=0.100"
        init = box.get(f"/live/cam1/{rung}/{playlist.tags['EXT-X-MAP'][5:-1]}")
        part = box.get(f"/live/cam1/{rung}/{playlist.segments[-2].parts[0].uri}")
        assert init.status == 200 and part.status == 200, (init.status, part.status)
        decoded = probe(init.body + part.body, tmp_path)["h264"]
        assert (decoded["width"], decoded["height"]) == size and decoded["nb_read_frames"]
        assert "mp4a" not in init.body.decode("latin-1")  # rungs carry no audio track
        entry = init.body.index(b"avc1") + 4 + 24  # the sample entry's width, height
        assert (int.from_bytes(init.body[entry:entry + 2], "big"),
                int.from_bytes(init.body[entry + 2:entry + 4], "big")) == size
        offsets[rung] = media_offset(box, "cam1", rung, playlist, token)
        time.sleep(3.0)  # the next rung's packager starts well after this one's
    # both rungs' frames at the same media time for the same moment: a player can switch.
    # The PROGRAM-DATE-TIMEs are arrival times at the relay, a transcoded rung's later by
    # its encoder's delay (0.1-0.8 s measured); without the timeline the offsets differ by
    # the 3 s between the packagers' starts.
    print(f"LL-HLS timeline: 240p minus main offset {offsets['240p'] - offsets['main']:.2f} s")
    assert abs(offsets["main"] - offsets["240p"]) < 1.0, offsets
    # each rung's playlist reports the other's last part, now that both are packaged
    reports = rung_playlist(box, "cam1", f"main/index.m3u8?token={token}").reports
    assert [r["URI"].split("?")[0] for r in reports] == ["../240p/index.m3u8"], reports
    assert int(reports[0]["LAST-MSN"]) >= 0 and int(reports[0]["LAST-PART"]) >= 0

    # the camera's AAC as one audio rendition every variant names: audio alone, on the
    # rungs' timeline (its parts cut where the live stream's video parts are)
    media = attributes(ladder.tags["EXT-X-MEDIA"])
    assert (media["TYPE"], media["GROUP-ID"]) == ("AUDIO", "audio"), media
    assert all(v.attributes["AUDIO"] == "audio" for v in ladder.variants), ladder.variants
    assert main["CODECS"].endswith(",mp4a.40.2"), main  # every codec of the variant
    sound = rung_playlist(box, "cam1", media["URI"])
    assert sound.parts and all(p.independent for p in sound.parts)
    init = box.get(f"/live/cam1/audio/{sound.tags['EXT-X-MAP'][5:-1]}")
    part = box.get(f"/live/cam1/audio/{sound.segments[-2].parts[0].uri}")
    heard = probe(init.body + part.body, tmp_path)
    assert set(heard) == {"aac"} and heard["aac"]["nb_read_frames"], heard
    audio_offset = media_offset(box, "cam1", "audio", sound, token, clock=48_000)
    assert abs(audio_offset - offsets["main"]) < 1.0, (audio_offset, offsets)

    # a pin lists only that rung; an unknown one is refused naming the ladder
    pinned = multivariant(box, "cam1", token, "&rung=240p")
    assert [v.uri.split("?")[0] for v in pinned.variants] == ["240p/index.m3u8"]
    assert "its rungs: main, 240p" in error_of(
        box.get(f"/live/cam1/1080p/index.m3u8?token={token}"), 404)

    # cam2's 240p does not fit the budget beside cam1's (packaged for 30 s more): left
    # out with the reason /api/cameras gives; asked for anyway, refused with it
    other = multivariant(box, "cam2", token)
    assert [v.uri.split("/")[0] for v in other.variants] == ["main"], other
    assert any(c.startswith(f"rung 240p not listed: {OVER_BUDGET}") for c in other.comments), \
        other.comments
    rungs = box.get("/api/cameras", token).json()["cameras"][1]["live"]["rungs"]
    assert [(r["name"], r["available"]) for r in rungs] == [("main", True), ("240p", False)]
    assert rungs[1]["reason"].startswith(OVER_BUDGET)
    for path in ("abr.m3u8?rung=240p&", "240p/index.m3u8?"):
        message = error_of(box.get(f"/live/cam2/{path}token={token}"), 503)
        assert message.startswith(f"camera 'cam2', rung 240p: {OVER_BUDGET}"), message


def test_a_plain_hls_client_reads_every_rung(box: Box) -> None:
    """ffprobe opens the multivariant playlist and every variant in it (a program each),
    and the audio rendition they share."""
    wait_for(lambda: rung_available(box, "240p"), 60, "the 240p rung listed as available")
    token = box.token(["view"], ["cam1"])
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
         "-of", "csv=p=0", f"{base(box)}/live/cam1/abr.m3u8?token={token}"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    assert sorted(set(done.stdout.split())) == ["aac", "h264,426,240", "h264,640,360"], \
        done.stdout


HLS_JS = Path(__file__).parents[1] / "nvr_edge_web/static/vendor/hls.mjs"
# hls.js on a video element of its own; each frame presented is seen through
# requestVideoFrameCallback (its size: headless Chromium updates videoWidth late)
START_ABR = """(async () => {
  const Hls = (await import('/static/vendor/hls.mjs')).default;
  const video = document.createElement('video');
  Object.assign(video, {id: 'abr', muted: true, autoplay: true});
  document.body.append(video);
  const hls = new Hls({lowLatencyMode: true, enableWorker: false});
  window.abrErrors = [];
  hls.on(Hls.Events.ERROR, (_e, d) => window.abrErrors.push([d.details, d.fatal]));
  hls.loadSource('/live/cam1/abr.m3u8?token=TOKEN');
  hls.attachMedia(video);
  window.abrHls = hls;
  window.abrFrame = [0, 0, 0];
  const shown = (_now, frame) => {
    window.abrFrame = [frame.width, frame.height, frame.presentedFrames];
    video.requestVideoFrameCallback(shown);
  };
  video.requestVideoFrameCallback(shown);
  return true;
})()"""
PROBE_ABR = """(() => [...window.abrFrame, document.getElementById('abr').currentTime,
  window.abrHls.levels.map((l) => l.height), window.abrErrors])()"""


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
@pytest.mark.skipif(not HLS_JS.exists(), reason="hls.js is not installed (setup-js.sh)")
def test_hls_js_plays_the_ladder_and_switches_rungs_in_chromium(box: Box, tmp_path: Path
                                                                 ) -> None:
    """hls.js on the multivariant playlist: both rungs listed, and told to switch it plays
    the other rung's size, the playhead going on through both switches."""
    wait_for(lambda: rung_available(box, "240p"), 60, "the 240p rung listed as available")
    token = box.token(["view"], ["cam1"])

    async def play() -> list[list[Any]]:
        async with chromium_page(f"{base(box)}/#token={token}", tmp_path / "profile") as page:
            await asyncio.sleep(1)
            assert await page.evaluate(START_ABR.replace("TOKEN", token)) is True
            seen: list[list[Any]] = []

            async def until(done: Callable[[list[Any]], bool], seconds: float) -> None:
                for _ in range(round(seconds / 0.25)):
                    seen.append(await page.evaluate(PROBE_ABR))
                    if done(seen[-1]):
                        return
                    await asyncio.sleep(0.25)
                raise AssertionError(seen[-3:])

            await until(lambda s: s[1] == 360 and s[3] > 2.0, 20)
            levels = seen[-1][4]
            await page.evaluate(f"window.abrHls.nextLevel = {levels.index(240)}")
            await until(lambda s: s[1] == 240, 15)
            at = seen[-1][3]
            await page.evaluate(f"window.abrHls.nextLevel = {levels.index(360)}")
            await until(lambda s: s[1] == 360 and s[3] > at + 1.0, 15)
            return seen

    seen = asyncio.run(play())
    assert sorted(seen[-1][4]) == [240, 360], seen[-1]
    assert not [e for e in seen[-1][5] if e[1]], seen[-1][5]  # no fatal error
    times, presented = [s[3] for s in seen], [s[2] for s in seen]
    # the playhead never went back and frames kept coming through both switches
    assert times == sorted(times) and presented == sorted(presented), seen
    print(f"hls.js: {presented[-1]} frames presented over {times[-1]:.1f} s, through "
          "360 -> 240 -> 360")
